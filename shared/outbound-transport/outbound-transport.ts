/**
 * The outbound-transport port: hands one message to the next hop for a set of envelope recipients and
 * says, per recipient, whether it was accepted, refused for now (try again later) or refused for good.
 *
 * Adapters: SES (`ses-transport.ts`, AWS), and SMTP (`smtp-transport.ts`: a smarthost, or direct delivery
 * to each recipient domain's MX hosts). An adapter never throws for a failed delivery: everything the next
 * hop or the network says becomes an outcome, so the queue can record it. It throws only for programming
 * errors (an empty recipient list).
 *
 * "Accepted" means the next hop took responsibility (SMTP 250 after DATA, SES MessageId): the queue may
 * forget the recipient. Nothing about later delivery is known here.
 */

export interface OutboundEnvelope {
  /** The envelope sender; '' is the null sender (DSNs), sent as `MAIL FROM:<>`. */
  mailFrom: string;
  recipients: string[];
}

export interface OutboundDelivery {
  /** The queue id, for logs and for the transports that tag messages. */
  id: string;
  envelope: OutboundEnvelope;
  /** The whole message as it goes on the wire (DKIM-Signature on top when signed). */
  message: Buffer;
}

export type DeliveryStatus = 'accepted' | 'temporary' | 'permanent';

export interface RecipientOutcome {
  recipient: string;
  status: DeliveryStatus;
  /** What the next hop said, for the log and the DSN: `550 5.1.1 <x@y>: no such user`, or the error. */
  reply: string;
  /** RFC 3463 status code (`5.1.1`), from the reply when it has one, else chosen by the adapter. */
  enhancedStatus: string;
  /** The host that answered (DSN `Remote-MTA`), when one did. */
  remoteMta?: string;
}

export interface OutboundTransport {
  /** For logs: `ses`, `smarthost mail.example:587`, `mx`. */
  readonly description: string;
  send(delivery: OutboundDelivery): Promise<RecipientOutcome[]>;
  close(): Promise<void>;
}

/** The same outcome for every recipient (the whole attempt succeeded or failed as one). */
export function outcomeForAll(
  recipients: readonly string[],
  outcome: Omit<RecipientOutcome, 'recipient'>,
): RecipientOutcome[] {
  return recipients.map((recipient) => ({ recipient, ...outcome }));
}

/** The RFC 3463 code at the start of an SMTP reply's text (`550 5.7.1 ...` → `5.7.1`), if it has one. */
export function enhancedStatusOf(reply: string, replyCode: number): string | undefined {
  const match = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply.trim());
  // RFC 3463 §2: the class digit must agree with the reply code's.
  if (match && match[1] === String(replyCode).charAt(0)) return `${match[1]}.${match[2]}.${match[3]}`;
  return undefined;
}
