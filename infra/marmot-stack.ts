/**
 * The whole system in one stack: storage, network, functions, the listener services, SES, optional SES
 * receiving, observability, and outputs naming what the operator needs next (DNS records, the values
 * for the `marmot` CLI, the certificate secret).
 */
import { CfnOutput, Fn, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ExpireSchedule } from './expire-schedule.ts';
import { FUNCTION_CATALOG } from './function-catalog.ts';
import { commonEnvironment, MailFunctions } from './functions.ts';
import { LISTENER_GROUPS, type ListenerGroupName, MailListeners } from './listeners.ts';
import { MailNetwork } from './network.ts';
import { MailObservability } from './observability.ts';
import { MAIL_FROM_SUBDOMAIN, OutboundEmail } from './outbound-email.ts';
import { SesReceiving } from './ses-receiving.ts';
import { type MarmotSettings, SettingsError } from './settings.ts';
import { MailStorage } from './storage.ts';
import { allow, storeAccessStatements } from './store-access.ts';

export interface MarmotStackProps extends StackProps {
  settings: MarmotSettings;
  repoRoot: string;
  functionsRoot: string;
}

export class MarmotStack extends Stack {
  readonly storage: MailStorage;
  readonly network: MailNetwork;
  readonly functions: MailFunctions;
  readonly listeners: MailListeners;
  readonly observability: MailObservability;
  readonly outbound: OutboundEmail;

  constructor(scope: Construct, id: string, props: MarmotStackProps) {
    super(scope, id, props);
    const { settings } = props;
    Tags.of(this).add('app', 'marmot-mail');
    // RetentionDays values are the number of days; readSettings accepted only values CloudWatch offers.
    const logRetention = settings.logRetentionDays as RetentionDays;

    this.storage = new MailStorage(this, 'Storage', settings);
    this.network = new MailNetwork(this, 'Network', settings, this.storage.logBucket);
    this.functions = new MailFunctions(this, 'Functions', {
      settings,
      store: this.storage,
      repoRoot: props.repoRoot,
      functionsRoot: props.functionsRoot,
      logRetention,
    });
    const deployed = this.functions.byName;

    const expire = deployed.get('expire');
    if (expire) new ExpireSchedule(this, 'Expire', expire, settings.expireHourUtc);

    this.outbound = new OutboundEmail(this, 'Outbound', settings);

    const environment: Record<string, string> = {
      ...commonEnvironment(settings, this.storage),
      MARMOT_SES_CONFIGURATION_SET: this.outbound.configurationSet.configurationSetName,
    };
    const invokes: PolicyStatement[] = [];
    for (const spec of FUNCTION_CATALOG) {
      const fn = deployed.get(spec.name);
      if (!fn) continue;
      environment[spec.envVar] = fn.functionName;
      if (spec.invokedByTransfer) invokes.push(allow(['lambda:InvokeFunction'], [fn.functionArn]));
    }
    const storeStatements = (name: ListenerGroupName) =>
      storeAccessStatements(LISTENER_GROUPS.find((group) => group.name === name)!.store, this.storage);
    this.listeners = new MailListeners(this, 'Listeners', {
      settings,
      vpc: this.network.vpc,
      logBucket: this.storage.logBucket,
      messageBucket: this.storage.bucket,
      repoRoot: props.repoRoot,
      environment,
      serviceStatements: {
        transfer: [...storeStatements('transfer'), ...invokes, ...this.outbound.sendStatements()],
        access: storeStatements('access'),
      },
      logRetention,
    });

    if (settings.sesReceiving) {
      const inbound = deployed.get('ses-inbound');
      if (!inbound) {
        throw new SettingsError('sesReceiving needs functions/ses-inbound/handler.ts, which does not exist yet');
      }
      const receiving = new SesReceiving(this, 'SesReceiving', {
        settings,
        store: this.storage,
        inboundFunction: inbound,
      });
      new CfnOutput(this, 'ActivateSesReceiving', {
        description: 'Run once: CloudFormation cannot activate a receipt rule set',
        value: `aws ses set-active-receipt-rule-set --region ${this.region} --rule-set-name ${receiving.ruleSetName}`,
      });
    }

    this.observability = new MailObservability(this, 'Observability', {
      settings,
      functions: deployed,
      listeners: this.listeners,
    });

    this.addOutputs(settings);
  }

  private addOutputs(settings: MarmotSettings): void {
    const { table, bucket, vaultKey } = this.storage;
    const addresses = this.listeners.addresses.map((address) => address.ref);
    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.listeners.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'MailHostAddresses', {
      description: `A records for ${settings.hostname} (fixed Elastic IPs of the load balancer)`,
      value: Fn.join(' ', addresses),
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'VaultKeyArn', { value: vaultKey.keyArn });
    new CfnOutput(this, 'TlsSecretArn', {
      description: 'Put {"certificate": PEM chain, "privateKey": PEM} here (README: Deploy to AWS)',
      value: this.listeners.tlsSecret.secretArn,
    });
    new CfnOutput(this, 'CliEnvironment', {
      description: 'Prefix for `npm run marmot -- ...` against this deployment',
      value: Fn.join('', [
        'MARMOT_STORE=aws MARMOT_TABLE=',
        table.tableName,
        ' MARMOT_BUCKET=',
        bucket.bucketName,
        ' MARMOT_KEY_ID=',
        vaultKey.keyArn,
        ` AWS_REGION=${this.region}`,
      ]),
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.observability.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'DnsMailHost', {
      description: 'DNS records for the mail host',
      value: Fn.join(
        ' | ',
        addresses.map((ip) => Fn.join(' ', [settings.hostname, 'A', ip])),
      ),
    });
    for (const [i, domain] of settings.domains.entries()) {
      const identity = this.outbound.identities.get(domain);
      const records = [
        `${domain} MX 10 ${settings.hostname}`,
        ...(settings.sesReceiving ? [`${domain} MX 20 inbound-smtp.${this.region}.amazonaws.com`] : []),
        `${domain} TXT "v=spf1 include:amazonses.com -all"`,
        `${MAIL_FROM_SUBDOMAIN}.${domain} MX 10 feedback-smtp.${this.region}.amazonses.com`,
        `${MAIL_FROM_SUBDOMAIN}.${domain} TXT "v=spf1 include:amazonses.com -all"`,
        `_dmarc.${domain} TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}"`,
        ...(identity?.dkimRecords ?? []).map((record) => Fn.join(' ', [record.name, 'CNAME', record.value])),
      ];
      new CfnOutput(this, `DnsDomain${i + 1}`, {
        description: `DNS records for ${domain}`,
        value: Fn.join(' | ', records),
      });
    }
  }
}
