/**
 * The SES outbound transport: SESv2 `SendEmail` with raw content (the message exactly as queued and
 * signed), the envelope recipients as destinations, and the configuration set (reputation metrics,
 * suppression list, event publishing). SES takes at most MAX_SES_RECIPIENTS per call, so larger envelopes
 * go out in batches.
 *
 * SES answers for the whole call: a MessageId accepts every destination of it; MessageRejected and a
 * malformed request (BadRequest) refuse them for good; everything else (throttling, a paused or suspended
 * account, an unverified MAIL FROM domain, a missing configuration set, network trouble) is ours or
 * SES's to fix and is retried. Bounces SES learns of later arrive as SES events, not here.
 *
 * Trusts its configuration and SES.
 */
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import {
  type OutboundDelivery,
  type OutboundTransport,
  outcomeForAll,
  type RecipientOutcome,
} from './outbound-transport.ts';

/** SES's limit on destinations per SendEmail call. */
export const MAX_SES_RECIPIENTS = 50;
/** SESv2 accepts raw messages up to 40 MB. */
export const MAX_SES_MESSAGE_BYTES = 40 * 1024 * 1024;
const SES_REMOTE_MTA = 'email.amazonses.com';
/** Errors that refuse the message itself; every other error is temporary. */
const PERMANENT_ERRORS = new Set(['MessageRejected', 'BadRequestException']);

export interface SesTransportOptions {
  region: string;
  configurationSet?: string;
  /** An emulator (tests: aws-ses-v2-local) or a VPC endpoint. */
  endpoint?: string;
  /** Static credentials, for emulators only; AWS uses the task's or function's role. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export class SesTransport implements OutboundTransport {
  readonly description = 'ses';
  private readonly client: SESv2Client;

  constructor(private readonly options: SesTransportOptions) {
    this.client = new SESv2Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  async send(delivery: OutboundDelivery): Promise<RecipientOutcome[]> {
    const { recipients, mailFrom } = delivery.envelope;
    if (recipients.length === 0) throw new RangeError('a delivery needs a recipient');
    if (delivery.message.length > MAX_SES_MESSAGE_BYTES) {
      return outcomeForAll(recipients, {
        status: 'permanent',
        enhancedStatus: '5.3.4',
        reply: `message of ${delivery.message.length} bytes is larger than SES accepts (${MAX_SES_MESSAGE_BYTES})`,
      });
    }
    const outcomes: RecipientOutcome[] = [];
    for (let at = 0; at < recipients.length; at += MAX_SES_RECIPIENTS) {
      const batch = recipients.slice(at, at + MAX_SES_RECIPIENTS);
      outcomes.push(...(await this.sendBatch(delivery, mailFrom, batch)));
    }
    return outcomes;
  }

  private async sendBatch(delivery: OutboundDelivery, mailFrom: string, batch: string[]): Promise<RecipientOutcome[]> {
    try {
      const result = await this.client.send(
        new SendEmailCommand({
          // SES sends as this identity; the null sender leaves it to the message's From field.
          ...(mailFrom ? { FromEmailAddress: mailFrom } : {}),
          Destination: { ToAddresses: batch },
          Content: { Raw: { Data: delivery.message } },
          ...(this.options.configurationSet ? { ConfigurationSetName: this.options.configurationSet } : {}),
          EmailTags: [{ Name: 'marmot-queue-id', Value: delivery.id }],
        }),
      );
      return outcomeForAll(batch, {
        status: 'accepted',
        enhancedStatus: '2.0.0',
        reply: `SES accepted the message as ${result.MessageId ?? '(no id)'}`,
        remoteMta: SES_REMOTE_MTA,
      });
    } catch (error) {
      const name = (error as { name?: string }).name ?? 'Error';
      const message = (error as { message?: string }).message ?? String(error);
      const permanent = PERMANENT_ERRORS.has(name);
      return outcomeForAll(batch, {
        status: permanent ? 'permanent' : 'temporary',
        enhancedStatus: permanent ? '5.7.1' : '4.4.2',
        reply: `SES ${name}: ${message}`.slice(0, 512),
        remoteMta: SES_REMOTE_MTA,
      });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
