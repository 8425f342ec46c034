/**
 * Delivery status notifications (RFC 3464) for the outbound queue: a `multipart/report;
 * report-type=delivery-status` (RFC 6522) with a human-readable part, the `message/delivery-status` part
 * (one per-message block, one block per recipient), and the returned message's header section as
 * `text/rfc822-headers` (headers only: the sender has the body, and a bounce should not carry it again).
 *
 * Rendering is deterministic for the same input (the boundary and Message-ID come from the queue id), so
 * a DSN regenerated after a crash is the same message.
 *
 * What came from elsewhere (server replies, the original headers) is untrusted: replies are reduced to
 * printable ASCII on one line, headers are cut at MAX_RETURNED_HEADER_BYTES.
 */
import { createHash } from 'node:crypto';

/** The returned header section is cut here (RFC 3464 §2: a DSN should stay small). */
export const MAX_RETURNED_HEADER_BYTES = 64 * 1024;
/** Diagnostic text per recipient, after cleaning. */
const MAX_DIAGNOSTIC_CHARS = 512;
const CRLF = '\r\n';

export type DsnAction = 'failed' | 'delayed';

export interface DsnRecipient {
  address: string;
  action: DsnAction;
  /** RFC 3463 code. */
  status: string;
  /** What the next hop or the transport said. */
  diagnostic?: string;
  remoteMta?: string;
  lastAttemptAt?: Date;
  /** For `delayed`: when the queue gives up. */
  willRetryUntil?: Date;
}

export interface DsnInput {
  kind: DsnAction;
  /** Our host name: Reporting-MTA, the From address's domain, Message-ID. */
  reportingMta: string;
  queueId: string;
  /** The original envelope sender, who receives the DSN. */
  to: string;
  arrivalDate: Date;
  /** The DSN's Date field. */
  date: Date;
  recipients: DsnRecipient[];
  /** The queued message (its header section is returned). */
  original: Buffer;
}

export function composeDsn(input: DsnInput): Buffer {
  const boundary = `dsn-${createHash('sha256').update(`${input.kind}\0${input.queueId}`).digest('hex').slice(0, 32)}`;
  const subject =
    input.kind === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const header = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.to}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(input.date)}`,
    `Message-ID: <dsn.${input.kind}.${input.queueId}@${input.reportingMta}>`,
    // RFC 3834 §5: generated in direct response to another message, so no one auto-replies to it.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ];
  const parts = [
    ['Content-Description: Notification', 'Content-Type: text/plain; charset=us-ascii', '', ...humanText(input)],
    [
      'Content-Description: Delivery report',
      // RFC 6533 §6.2: a report naming a UTF-8 address is a message/global-delivery-status.
      `Content-Type: message/${input.recipients.some((r) => addressType(r.address) === 'utf-8') ? 'global-' : ''}delivery-status`,
      ...(input.recipients.some((r) => addressType(r.address) === 'utf-8') ? ['Content-Transfer-Encoding: 8bit'] : []),
      '',
      ...statusFields(input),
    ],
    [
      'Content-Description: Undelivered Message Headers',
      'Content-Type: text/rfc822-headers',
      'Content-Transfer-Encoding: 8bit',
      '',
    ],
  ];
  const text = [
    ...header,
    '',
    'This is a MIME-encapsulated message.',
    '',
    ...parts.slice(0, 2).flatMap((lines) => [`--${boundary}`, ...lines, '']),
    `--${boundary}`,
    ...parts[2]!,
  ].join(CRLF);
  return Buffer.concat([
    Buffer.from(`${text}${CRLF}`),
    returnedHeaders(input.original),
    Buffer.from(`${CRLF}--${boundary}--${CRLF}`),
  ]);
}

function humanText(input: DsnInput): string[] {
  const lines =
    input.kind === 'failed'
      ? [
          `This is the mail system at ${input.reportingMta}.`,
          '',
          'Your message could not be delivered to one or more recipients; it was returned',
          'for good. The reasons are below, and the delivery report is attached.',
        ]
      : [
          `This is the mail system at ${input.reportingMta}.`,
          '',
          'Your message has not been delivered to one or more recipients yet. Nothing needs',
          'to be done: delivery is still being tried, until the time given for each recipient.',
        ];
  lines.push('');
  for (const recipient of input.recipients) {
    const until = recipient.willRetryUntil ? ` (retried until ${recipient.willRetryUntil.toUTCString()})` : '';
    lines.push(
      `<${printable(recipient.address)}>: ${recipient.diagnostic ? printable(recipient.diagnostic) : recipient.status}${until}`,
    );
  }
  return lines;
}

/** RFC 3464 §2.2 (per-message) and §2.3 (per-recipient) fields. */
function statusFields(input: DsnInput): string[] {
  const lines = [
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Marmot-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
  ];
  for (const recipient of input.recipients) {
    lines.push(
      '',
      `Final-Recipient: ${addressType(recipient.address)}; ${recipient.address}`,
      `Action: ${recipient.action}`,
      `Status: ${recipient.status}`,
    );
    if (recipient.remoteMta) lines.push(`Remote-MTA: dns; ${printable(recipient.remoteMta)}`);
    if (recipient.diagnostic) {
      const diagnostic = printable(recipient.diagnostic);
      // smtp: a reply from an SMTP server (RFC 3464 §2.3.6); otherwise what our transport said.
      lines.push(`Diagnostic-Code: ${/^[245]\d\d[ -]/.test(diagnostic) ? 'smtp' : 'X-Marmot'}; ${diagnostic}`);
    }
    if (recipient.lastAttemptAt) lines.push(`Last-Attempt-Date: ${rfc5322Date(recipient.lastAttemptAt)}`);
    if (recipient.willRetryUntil) lines.push(`Will-Retry-Until: ${rfc5322Date(recipient.willRetryUntil)}`);
  }
  return lines;
}

/** RFC 6533: an address with non-ASCII characters is of type utf-8, not rfc822. */
function addressType(address: string): string {
  return /^[\x21-\x7e]+$/.test(address) ? 'rfc822' : 'utf-8';
}

function returnedHeaders(message: Buffer): Buffer {
  const limit = Math.min(message.length, MAX_RETURNED_HEADER_BYTES);
  const end = message.subarray(0, limit).indexOf('\r\n\r\n');
  // The header section without its closing blank line; a cut one ends at its last complete line.
  if (end >= 0) return message.subarray(0, end + 2);
  const lastLine = message.subarray(0, limit).lastIndexOf('\r\n');
  return lastLine >= 0 ? message.subarray(0, lastLine + 2) : Buffer.alloc(0);
}

function printable(text: string): string {
  const cleaned = text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return cleaned.length > MAX_DIAGNOSTIC_CHARS ? `${cleaned.slice(0, MAX_DIAGNOSTIC_CHARS)}...` : cleaned;
}

function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}
