/**
 * Optional second inbound path: SES receives mail for the configured domains, stores each message under
 * spool/ses-inbound/ and invokes the ses-inbound function, which runs the same delivery pipeline as the
 * SMTP listener. Used as a backup MX (or the only one, for operators who do not want port 25 open).
 *
 * CloudFormation cannot make a receipt rule set the active one; the stack outputs the one CLI command
 * that does it.
 */
import { Stack } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnReceiptRule, CfnReceiptRuleSet } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import type { MarmotSettings } from './settings.ts';
import { acknowledgeObjectPrefixes, allow, type BlobPrefix, type StoreResources } from './store-access.ts';

const SES_INBOUND_PREFIX: BlobPrefix = 'spool/ses-inbound/';

export interface SesReceivingProps {
  settings: MarmotSettings;
  store: StoreResources;
  inboundFunction: IFunction;
}

export class SesReceiving extends Construct {
  readonly ruleSetName: string;

  constructor(scope: Construct, id: string, props: SesReceivingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { bucket, bucketKey } = props.store;

    const ruleSet = new CfnReceiptRuleSet(this, 'RuleSet', {});
    this.ruleSetName = ruleSet.ref;

    // SES writes with this role (and only it), so the bucket policy and key policy need no SES entries.
    const writer = new Role(this, 'WriterRole', {
      assumedBy: new ServicePrincipal('ses.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'SES receipt rule: stores received mail under spool/ses-inbound/',
    });
    writer.addToPolicy(allow(['s3:PutObject'], [bucket.arnForObjects(`${SES_INBOUND_PREFIX}*`)]));
    writer.addToPolicy(allow(['kms:Encrypt', 'kms:GenerateDataKey'], [bucketKey.keyArn]));
    acknowledgeObjectPrefixes(writer, bucket, [SES_INBOUND_PREFIX]);

    props.inboundFunction.addPermission('SesInvoke', {
      principal: new ServicePrincipal('ses.amazonaws.com'),
      sourceAccount: stack.account,
      // Only rules of this rule set (the rule's own name is not known before it exists).
      sourceArn: `arn:${stack.partition}:ses:${stack.region}:${stack.account}:receipt-rule-set/${ruleSet.ref}:receipt-rule/*`,
    });
    const permission = props.inboundFunction.node.tryFindChild('SesInvoke');

    const rule = new CfnReceiptRule(this, 'Rule', {
      ruleSetName: ruleSet.ref,
      rule: {
        enabled: true,
        recipients: props.settings.domains,
        scanEnabled: true,
        tlsPolicy: 'Optional',
        actions: [
          {
            s3Action: {
              bucketName: bucket.bucketName,
              objectKeyPrefix: SES_INBOUND_PREFIX,
              iamRoleArn: writer.roleArn,
            },
          },
          { lambdaAction: { functionArn: props.inboundFunction.functionArn, invocationType: 'Event' } },
        ],
      },
    });
    // SES checks at creation that it may write and invoke, so the grants must exist first.
    const writerPolicy = writer.node.tryFindChild('DefaultPolicy');
    if (writerPolicy) rule.node.addDependency(writerPolicy);
    if (permission) rule.node.addDependency(permission);
    rule.node.addDependency(writer);
  }
}
