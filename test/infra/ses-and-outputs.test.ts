/**
 * SES (outbound identities, the task's sending grant, the optional receiving path) and the stack
 * outputs the operator follows after a deploy: DNS records and the values for the marmot CLI.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  actionsOn,
  arnOf,
  FULL_CONTEXT,
  logicalId,
  type MarmotSynthesis,
  objectArn,
  ref,
  roleStatements,
  synthesizeMarmot,
  type TemplateJson,
  taskEnvironment,
  taskRoleId,
} from './synthesize-marmot.ts';

const full: MarmotSynthesis = synthesizeMarmot({ context: FULL_CONTEXT });
const noDomains: MarmotSynthesis = synthesizeMarmot({ handlers: [] });
after(() => {
  full.cleanup();
  noDomains.cleanup();
});

const { stack, json } = full;

function ofType(synthesis: MarmotSynthesis, type: string): TemplateJson[] {
  return Object.values(synthesis.json.Resources)
    .filter((r) => r.Type === type)
    .map((r) => r.Properties);
}

function output(synthesis: MarmotSynthesis, name: string): string {
  const value = synthesis.json.Outputs?.[name]?.Value;
  assert.ok(value !== undefined, `output ${name}`);
  return JSON.stringify(value);
}

describe('outbound SES', () => {
  it('verifies each domain with Easy DKIM and a custom MAIL FROM, in the configuration set', () => {
    const identities = ofType(full, 'AWS::SES::EmailIdentity');
    assert.deepEqual(identities.map((i) => i.EmailIdentity).sort(), FULL_CONTEXT.domains);
    for (const identity of identities) {
      assert.equal(identity.DkimAttributes.SigningEnabled, true);
      assert.equal(identity.MailFromAttributes.MailFromDomain, `bounce.${identity.EmailIdentity}`);
      assert.deepEqual(identity.ConfigurationSetAttributes.ConfigurationSetName, ref(stack.outbound.configurationSet));
    }
    assert.deepEqual(
      taskEnvironment(full, 'transfer').MARMOT_SES_CONFIGURATION_SET,
      ref(stack.outbound.configurationSet),
    );
    full.template.hasResourceProperties('AWS::SES::ConfigurationSet', {
      ReputationOptions: { ReputationMetricsEnabled: true },
      SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    });
  });

  it('lets the SMTP service (only) send as those identities, through the configuration set', () => {
    const access = roleStatements(json, taskRoleId(full, 'access'));
    assert.equal(JSON.stringify(access).includes('ses:'), false);
    const grants = roleStatements(json, taskRoleId(full, 'transfer'));
    const send = grants.filter((s) => JSON.stringify(s.Action).includes('ses:'));
    assert.equal(send.length, 1);
    assert.deepEqual([...send[0].Action].sort(), ['ses:SendEmail', 'ses:SendRawEmail']);
    const resources = JSON.stringify(send[0].Resource);
    assert.ok(resources.includes(':configuration-set/'));
    assert.equal(send[0].Resource.length, FULL_CONTEXT.domains.length + 1);
  });

  it('creates no identity and no sending grant without domains', () => {
    assert.equal(ofType(noDomains, 'AWS::SES::EmailIdentity').length, 0);
    const grants = roleStatements(noDomains.json, taskRoleId(noDomains, 'transfer'));
    assert.equal(JSON.stringify(grants).includes('ses:'), false);
  });
});

describe('SES receiving', () => {
  const [rule] = ofType(full, 'AWS::SES::ReceiptRule');
  const inbound = stack.functions.byName.get('ses-inbound')!;

  it('stores mail for the domains under spool/ses-inbound/ and then invokes ses-inbound', () => {
    assert.ok(rule);
    assert.deepEqual(rule.Rule.Recipients, FULL_CONTEXT.domains);
    assert.equal(rule.Rule.Enabled, true);
    const [store, invoke] = rule.Rule.Actions;
    assert.deepEqual(store.S3Action.BucketName, ref(stack.storage.bucket));
    assert.equal(store.S3Action.ObjectKeyPrefix, 'spool/ses-inbound/');
    assert.deepEqual(invoke.LambdaAction, { FunctionArn: arnOf(inbound), InvocationType: 'Event' });
  });

  it('writes with a role SES alone may assume, limited to that prefix', () => {
    const [roleId] = rule.Rule.Actions[0].S3Action.IamRoleArn['Fn::GetAtt'];
    const role = json.Resources[roleId]!.Properties;
    const trust = role.AssumeRolePolicyDocument.Statement[0];
    assert.deepEqual(trust.Principal, { Service: 'ses.amazonaws.com' });
    assert.deepEqual(trust.Condition, { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
    const grants = roleStatements(json, roleId);
    assert.deepEqual(actionsOn(grants, objectArn(stack.storage.bucket, 'spool/ses-inbound/')), ['s3:PutObject']);
    assert.equal(grants.filter((s) => JSON.stringify(s.Action).includes('s3:')).length, 1, 'no other S3 statement');
  });

  it('lets SES invoke the function for this account and rule set only', () => {
    const [ruleSetId] = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::SES::ReceiptRuleSet')!;
    const [permission] = ofType(full, 'AWS::Lambda::Permission').filter((p) => p.Principal === 'ses.amazonaws.com');
    assert.ok(permission);
    assert.equal(permission.Action, 'lambda:InvokeFunction');
    assert.deepEqual(permission.FunctionName, arnOf(inbound));
    assert.deepEqual(permission.SourceAccount, { Ref: 'AWS::AccountId' });
    const sourceArn = JSON.stringify(permission.SourceArn);
    assert.ok(sourceArn.includes(JSON.stringify({ Ref: ruleSetId })));
    assert.ok(sourceArn.includes(':receipt-rule/*'));
  });

  it('creates the rule only after the grants SES checks when the rule is created', () => {
    const [ruleId, ruleResource] = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::SES::ReceiptRule')!;
    const dependsOn: string[] = (ruleResource as { DependsOn?: string[] }).DependsOn ?? [];
    const [writerId] = rule.Rule.Actions[0].S3Action.IamRoleArn['Fn::GetAtt'];
    const writerPolicy = Object.entries(json.Resources).find(
      ([, r]) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: writerId }]),
    )!;
    const permission = Object.entries(json.Resources).find(
      ([, r]) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'ses.amazonaws.com',
    )!;
    assert.ok(dependsOn.includes(writerPolicy[0]), `${ruleId} waits for the writer's policy`);
    assert.ok(dependsOn.includes(permission[0]), `${ruleId} waits for the invoke permission`);
  });

  it('is absent unless switched on', () => {
    assert.equal(ofType(noDomains, 'AWS::SES::ReceiptRule').length, 0);
    assert.equal(noDomains.json.Outputs?.ActivateSesReceiving, undefined);
  });
});

describe('outputs', () => {
  it('give the values the marmot CLI needs', () => {
    const cli = output(full, 'CliEnvironment');
    assert.ok(cli.includes('MARMOT_STORE=aws MARMOT_TABLE='));
    assert.ok(cli.includes(JSON.stringify(ref(stack.storage.table))));
    assert.ok(cli.includes(JSON.stringify(ref(stack.storage.bucket))));
    assert.ok(cli.includes(JSON.stringify(arnOf(stack.storage.vaultKey))));
    assert.ok(cli.includes('AWS_REGION=eu-west-1'));
    assert.equal(output(full, 'TableName'), JSON.stringify(ref(stack.storage.table)));
    assert.equal(output(full, 'BucketName'), JSON.stringify(ref(stack.storage.bucket)));
  });

  it('give the load balancer name and the A records of the mail host (its Elastic IPs)', () => {
    assert.ok(output(full, 'LoadBalancerDnsName').includes(logicalId(stack.listeners.loadBalancer)));
    const records = output(full, 'DnsMailHost');
    for (const address of stack.listeners.addresses) {
      assert.ok(records.includes(JSON.stringify(ref(address))));
    }
    assert.ok(records.includes(`"${FULL_CONTEXT.hostname} A"`));
  });

  it('list MX, SPF, DMARC, the bounce domain and the DKIM CNAMEs for each domain', () => {
    for (const [i, domain] of FULL_CONTEXT.domains.entries()) {
      const records = output(full, `DnsDomain${i + 1}`);
      assert.ok(records.includes(`${domain} MX 10 ${FULL_CONTEXT.hostname}`));
      assert.ok(records.includes(`${domain} MX 20 inbound-smtp.eu-west-1.amazonaws.com`));
      assert.ok(records.includes(`${domain} TXT \\"v=spf1 include:amazonses.com -all\\"`));
      assert.ok(records.includes(`bounce.${domain} MX 10 feedback-smtp.eu-west-1.amazonses.com`));
      assert.ok(records.includes(`_dmarc.${domain} TXT`));
      const identity = stack.outbound.identities.get(domain)!;
      for (const n of [1, 2, 3]) {
        assert.ok(records.includes(JSON.stringify({ 'Fn::GetAtt': [logicalId(identity), `DkimDNSTokenName${n}`] })));
        assert.ok(records.includes(JSON.stringify({ 'Fn::GetAtt': [logicalId(identity), `DkimDNSTokenValue${n}`] })));
      }
    }
  });

  it('give the command that activates SES receiving, and the certificate secret', () => {
    const activate = output(full, 'ActivateSesReceiving');
    assert.ok(activate.includes('aws ses set-active-receipt-rule-set --region eu-west-1 --rule-set-name'));
    const [ruleSetId] = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::SES::ReceiptRuleSet')!;
    assert.ok(activate.includes(JSON.stringify({ Ref: ruleSetId })));
    assert.equal(output(noDomains, 'TlsSecretArn'), JSON.stringify(ref(noDomains.stack.listeners.tlsSecret)));
  });
});
