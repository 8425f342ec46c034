/**
 * Runs the expire function every night through EventBridge Scheduler. The job is idempotent and
 * resumable, so a retried or overlapping run is harmless; a run that keeps failing shows up as the
 * function's error alarm.
 */
import { type CfnResource, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { acknowledgeFinding } from './nag.ts';

const RETRY_ATTEMPTS = 2;
/** A run that could not start within this window is skipped; the next night covers it. */
const MAX_EVENT_AGE = Duration.hours(6);
/** Minutes past the hour, away from the top of the hour when many schedules fire. */
const MINUTE = '17';

export class ExpireSchedule extends Construct {
  readonly schedule: Schedule;

  constructor(scope: Construct, id: string, expireFunction: IFunction, hourUtc: number) {
    super(scope, id);
    const stack = Stack.of(this);
    const role = new Role(this, 'InvokeRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'EventBridge Scheduler: invokes the Marmot expire function',
    });
    // The target grants invoke on the function and on its qualified ARNs (`<arn>:*`: versions, aliases).
    acknowledgeFinding(
      role,
      `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(expireFunction.node.defaultChild as CfnResource)}.Arn>:*]`,
      'Versions and aliases of the expire function only (the grant CDK makes for a Lambda target); no other function.',
    );
    this.schedule = new Schedule(this, 'Nightly', {
      description: 'Marmot: purge expunged mail and deleted folders past retention',
      schedule: ScheduleExpression.cron({ minute: MINUTE, hour: String(hourUtc), timeZone: TimeZone.ETC_UTC }),
      target: new LambdaInvoke(expireFunction, {
        role,
        input: ScheduleTargetInput.fromObject({ source: 'schedule', job: 'expire' }),
        retryAttempts: RETRY_ATTEMPTS,
        maxEventAge: MAX_EVENT_AGE,
      }),
    });
  }
}
