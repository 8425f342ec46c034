/**
 * The MIME module's decoded header fields (shared/mime) in the form the message index keeps them for
 * SEARCH, SORT and THREAD: address lists as text, so SEARCH can match substrings of `Name <address>`.
 * Every path that indexes a message (SMTP delivery, IMAP APPEND, DSNs) goes through this one function.
 */
import type { SearchFields as MimeSearchFields, SearchAddress } from '../mime/structure-types.ts';
import type { SearchFields } from './message-record.ts';

export function indexSearchFields(search: MimeSearchFields): SearchFields {
  const addresses = (list: readonly SearchAddress[]) =>
    list.map((entry) => (entry.name ? `${entry.name} <${entry.address}>` : entry.address)).join(', ');
  return {
    from: addresses(search.from),
    to: addresses(search.to),
    cc: addresses(search.cc),
    bcc: addresses(search.bcc),
    subject: search.subject,
    baseSubject: search.baseSubject,
    ...(search.messageId ? { messageId: search.messageId } : {}),
    ...(search.inReplyTo ? { inReplyTo: search.inReplyTo } : {}),
    ...(search.references.length > 0 ? { references: search.references.join(' ') } : {}),
    ...(search.date !== null ? { sentDate: search.date } : {}),
  };
}
