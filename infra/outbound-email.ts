/**
 * Outbound mail through SES: one configuration set (reputation metrics, account suppression list) and a
 * verified domain identity per configured domain, with Easy DKIM (SES verifies a domain through its
 * DKIM records) and a custom MAIL FROM domain so SPF aligns with the sender's domain for DMARC.
 */
import { Stack } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ConfigurationSet, EmailIdentity, Identity, SuppressionReasons } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import type { MarmotSettings } from './settings.ts';
import { allow } from './store-access.ts';

/** Subdomain of each mail domain used as the SES envelope sender (bounces come back there). */
export const MAIL_FROM_SUBDOMAIN = 'bounce';

export class OutboundEmail extends Construct {
  readonly configurationSet: ConfigurationSet;
  readonly identities = new Map<string, EmailIdentity>();

  constructor(scope: Construct, id: string, settings: MarmotSettings) {
    super(scope, id);
    this.configurationSet = new ConfigurationSet(this, 'ConfigurationSet', {
      reputationMetrics: true,
      sendingEnabled: true,
      suppressionReasons: SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    for (const domain of settings.domains) {
      this.identities.set(
        domain,
        new EmailIdentity(this, `Domain${this.identities.size + 1}`, {
          identity: Identity.domain(domain),
          configurationSet: this.configurationSet,
          dkimSigning: true,
          mailFromDomain: `${MAIL_FROM_SUBDOMAIN}.${domain}`,
        }),
      );
    }
  }

  get configurationSetArn(): string {
    return Stack.of(this).formatArn({
      service: 'ses',
      resource: 'configuration-set',
      resourceName: this.configurationSet.configurationSetName,
    });
  }

  /** Sending as the configured domains, through the configuration set; none when no domain is set. */
  sendStatements(): PolicyStatement[] {
    if (this.identities.size === 0) return [];
    const identityArns = [...this.identities.values()].map((identity) => identity.emailIdentityArn);
    return [allow(['ses:SendEmail', 'ses:SendRawEmail'], [...identityArns, this.configurationSetArn])];
  }
}
