/**
 * What a stored message's index entry keeps about its MIME structure, computed once at delivery or
 * APPEND (mime-structure.ts) so FETCH ENVELOPE/BODY/BODYSTRUCTURE and ranged BODY[section] reads need no
 * pass over the body. Plain JSON: no Buffers, no Dates, no undefined.
 *
 * Offsets are byte offsets into the raw message as stored. An entity's header is
 * [headerOffset, bodyOffset) including the blank line that ends it; its body is [bodyOffset, bodyEnd).
 */

/** RFC 9051 §7.5.2 address: a group start is (NIL NIL group NIL) and a group end is all NIL. */
export interface EnvelopeAddress {
  name: string | null;
  /** Source route (obsolete RFC 822 `@a,@b:`). */
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/**
 * RFC 9051 §7.5.2 ENVELOPE. Strings are raw header values (encoded words are kept, as IMAP requires),
 * unfolded. Sender and Reply-To are stored as found (null when absent): the IMAP writer defaults them to
 * From when it serialises.
 */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** A MIME parameter list in header order; names as written (IMAP sends them so). */
export type MimeParameters = Array<[name: string, value: string]>;

export interface BodyDisposition {
  type: string;
  params: MimeParameters | null;
}

/** One MIME entity: the message itself, a part of a multipart, or the message inside message/rfc822. */
export interface BodyPart {
  /** Media type and subtype as IMAP reports them (see mime-structure.ts for case). */
  type: string;
  subtype: string;
  params: MimeParameters | null;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, default 7BIT. */
  encoding: string;
  /** Body size in octets, as stored. */
  size: number;
  /** Lines in the body (LF count); IMAP reports it for text/* and message/rfc822. */
  lines: number;
  md5: string | null;
  disposition: BodyDisposition | null;
  language: string[] | null;
  location: string | null;
  headerOffset: number;
  bodyOffset: number;
  bodyEnd: number;
  /** multipart/*: the parts (at least one; see mime-structure.ts for an empty multipart). */
  parts?: BodyPart[];
  /** message/rfc822 (and message/global): the encapsulated message. Its `body` starts at our bodyOffset. */
  message?: { envelope: Envelope; body: BodyPart };
}

/** An address decoded for SEARCH/SORT/THREAD: display name (UTF-8) and `mailbox@host`. */
export interface SearchAddress {
  name: string;
  address: string;
}

/** Header fields decoded to UTF-8 for SEARCH, SORT (RFC 5256) and THREAD. */
export interface SearchFields {
  from: SearchAddress[];
  to: SearchAddress[];
  cc: SearchAddress[];
  bcc: SearchAddress[];
  subject: string;
  /** RFC 5256 §2.1 base subject, for SORT SUBJECT and THREAD. */
  baseSubject: string;
  /** The Date header as milliseconds since the epoch; null when missing or unparseable. */
  date: number | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** Message-IDs from References, in order. */
  references: string[];
}

export const MESSAGE_STRUCTURE_VERSION = 1;

export interface MessageStructure {
  version: typeof MESSAGE_STRUCTURE_VERSION;
  /** Octets in the raw message (RFC822.SIZE). */
  size: number;
  envelope: Envelope;
  /** The top-level entity: headerOffset 0; bodyOffset is where the header section ends. */
  body: BodyPart;
  search: SearchFields;
}
