/**
 * Builds the IMAP ENVELOPE (RFC 9051 §7.5.2) from a message's header fields, the way Dovecot does:
 * string fields are the raw unfolded value of the last such field; address fields collect the addresses
 * of every such field; a missing local part or domain reads MISSING_MAILBOX / MISSING_DOMAIN (the
 * convention UW-IMAP started, so clients never see NIL where RFC 9051 expects a string).
 */
import { type ParsedAddress, parseAddressList } from './address-list.ts';
import { allFields, type HeaderField, lastField } from './header-section.ts';
import type { Envelope, EnvelopeAddress } from './structure-types.ts';

export const MISSING_MAILBOX = 'MISSING_MAILBOX';
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

function envelopeAddress(parsed: ParsedAddress): EnvelopeAddress {
  switch (parsed.kind) {
    case 'group-start':
      return { name: null, adl: null, mailbox: parsed.name, host: null };
    case 'group-end':
      return { name: null, adl: null, mailbox: null, host: null };
    case 'mailbox':
      return {
        name: parsed.name,
        adl: parsed.adl,
        mailbox: parsed.mailbox ?? MISSING_MAILBOX,
        host: parsed.host ?? MISSING_DOMAIN,
      };
  }
}

function addresses(fields: readonly HeaderField[], key: string): EnvelopeAddress[] | null {
  const list = allFields(fields, key).flatMap((value) => parseAddressList(value).map(envelopeAddress));
  return list.length > 0 ? list : null;
}

export function buildEnvelope(fields: readonly HeaderField[]): Envelope {
  return {
    date: lastField(fields, 'date') ?? null,
    subject: lastField(fields, 'subject') ?? null,
    from: addresses(fields, 'from'),
    sender: addresses(fields, 'sender'),
    replyTo: addresses(fields, 'reply-to'),
    to: addresses(fields, 'to'),
    cc: addresses(fields, 'cc'),
    bcc: addresses(fields, 'bcc'),
    inReplyTo: lastField(fields, 'in-reply-to') ?? null,
    messageId: lastField(fields, 'message-id') ?? null,
  };
}
