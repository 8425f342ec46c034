/**
 * cdk-nag (AWS Solutions checks) acknowledgements. Each one names a single finding and says why the
 * flagged configuration is the right one here; synthesis fails on any finding not acknowledged.
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export const NAG_PACK = 'AwsSolutions';

/** `finding` as cdk-nag reports it: `AwsSolutions-EC23` or `AwsSolutions-IAM5[Resource::...]`. */
export function acknowledgeFinding(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${NAG_PACK}::${finding}`, reason });
}
