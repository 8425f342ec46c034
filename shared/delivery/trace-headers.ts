/**
 * The header lines a receiving server adds on top of a message: `Return-Path:` (RFC 5321 §4.4, added
 * only at final delivery, from the envelope sender), `Received:` (RFC 5321 §4.4 and RFC 5322 §3.6.7,
 * with the protocol keywords of RFC 3848), and `Precedence: bulk` for mail to bulk aliases.
 *
 * The client's HELO name and the envelope addresses are untrusted: they are reduced to characters that
 * cannot end a header line or a comment before they are written, and bounded in length.
 */

/** A HELO name, address or id longer than this is cut: a trace header is not a place for a payload. */
const MAX_TRACE_FIELD = 255;
const UNSAFE_IN_COMMENT = /[^A-Za-z0-9.:_\-[\]]/g;
const UNSAFE_IN_PATH = /[^\x20-\x7e]|[<>]/g;

export interface ReceivedFields {
  /** What the client said in HELO/EHLO (untrusted). */
  helo: string;
  /** The client's address as policy saw it (after PROXY protocol). */
  clientAddress: string;
  /** Our name. */
  serverName: string;
  /** RFC 3848: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
  protocol: string;
  /** Our id for the transaction, for matching logs. */
  id: string;
  /** Named only when the message has exactly one recipient, so a copy does not reveal the others. */
  recipient?: string;
  /** The TLS version and cipher, when there was TLS. */
  tls?: string;
  date: Date;
}

export function returnPathHeader(mailFrom: string): string {
  return `Return-Path: <${pathText(mailFrom)}>\r\n`;
}

export function receivedHeader(fields: ReceivedFields): string {
  const helo = commentText(fields.helo) || 'unknown';
  const address = commentText(fields.clientAddress);
  const lines = [
    `Received: from ${helo} ([${address}])`,
    `\tby ${commentText(fields.serverName)} with ${fields.protocol} id ${commentText(fields.id)}`,
  ];
  if (fields.tls) lines.push(`\t(${commentText(fields.tls.replace(/ /g, '_'))})`);
  if (fields.recipient !== undefined) lines.push(`\tfor <${pathText(fields.recipient)}>`);
  lines[lines.length - 1] += `; ${rfc5322Date(fields.date)}`;
  return `${lines.join('\r\n')}\r\n`;
}

export const PRECEDENCE_BULK_HEADER = 'Precedence: bulk\r\n';

/** RFC 5322 §3.3 date-time in UTC: `Mon, 23 Nov 2026 21:41:07 +0000`. */
export function rfc5322Date(date: Date): string {
  const [weekday, day, month, year, time] = date.toUTCString().replace(',', '').split(' ');
  return `${weekday}, ${day} ${month} ${year} ${time} +0000`;
}

function commentText(value: string): string {
  return value.slice(0, MAX_TRACE_FIELD).replace(UNSAFE_IN_COMMENT, '_');
}

function pathText(value: string): string {
  return value.slice(0, MAX_TRACE_FIELD).replace(UNSAFE_IN_PATH, '_');
}
