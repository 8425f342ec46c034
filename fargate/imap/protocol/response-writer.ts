/**
 * Serialises IMAP responses (RFC 9051 §7) to bytes: tagged, untagged and continuation responses, and the
 * data every command returns (FETCH with ENVELOPE and BODYSTRUCTURE, LIST, STATUS, ESEARCH, ...).
 * No I/O: every builder returns one Buffer ending in CRLF, ready for `socket.write`.
 *
 * Values (`ImapValue`) choose their own wire form: JS strings and Buffers become quoted strings when
 * they are short 7-bit text without CR, LF or NUL, and literals otherwise (RFC 9051 §4.3); null is NIL;
 * arrays are parenthesised lists. `token()` writes protocol text verbatim: use it only for text the
 * server chose or the parser already validated (flags, keywords, capabilities), never for arbitrary
 * client strings, which must go as JS strings so they are quoted or sent as literals.
 */
import type { BodyPart, Envelope, EnvelopeAddress, MimeParameters } from '../../../shared/mime/structure-types.ts';
import type { BodySection, StatusItem } from './command-types.ts';

/** Protocol text written as is (atoms, flags, `BODY[1.MIME]`, sequence sets). */
export interface ImapToken {
  readonly token: string;
}

/** Bytes forced into a literal; `binary` makes it a literal8 `~{n}` (RFC 3516). */
export interface ImapLiteral {
  readonly literal: Buffer;
  readonly binary: boolean;
}

/** Values written one after the other with no space between (multipart body structures). */
export interface ImapConcatenation {
  readonly adjacent: readonly ImapValue[];
}

export type ImapValue =
  | null
  | number
  | string
  | Buffer
  | ImapToken
  | ImapLiteral
  | ImapConcatenation
  | readonly ImapValue[];

export function token(text: string): ImapToken {
  return { token: text };
}

export function literal(data: Buffer, binary = false): ImapLiteral {
  return { literal: data, binary };
}

/** Longest string we send quoted; longer ones go as literals, which clients read without scanning. */
const MAX_QUOTED_BYTES = 1024;
const CRLF = Buffer.from('\r\n');

/** Collects the pieces of one response. */
class ResponseBytes {
  private readonly chunks: Buffer[] = [];
  private text = '';

  write(text: string): void {
    this.text += text;
  }

  writeBytes(bytes: Buffer): void {
    this.flush();
    this.chunks.push(bytes);
  }

  private flush(): void {
    if (this.text) this.chunks.push(Buffer.from(this.text, 'latin1'));
    this.text = '';
  }

  finish(): Buffer {
    this.write('\r\n');
    this.flush();
    return Buffer.concat(this.chunks);
  }
}

function isQuotable(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED_BYTES) return false;
  for (const byte of bytes) if (byte === 0 || byte === 0x0a || byte === 0x0d || byte > 0x7f) return false;
  return true;
}

function writeString(out: ResponseBytes, bytes: Buffer): void {
  if (isQuotable(bytes)) {
    out.write(`"${bytes.toString('latin1').replace(/["\\]/g, '\\$&')}"`);
  } else {
    out.write(`{${bytes.length}}\r\n`);
    out.writeBytes(bytes);
  }
}

function writeValue(out: ResponseBytes, value: ImapValue): void {
  if (value === null) {
    out.write('NIL');
  } else if (typeof value === 'number') {
    out.write(String(value));
  } else if (typeof value === 'string') {
    writeString(out, Buffer.from(value, 'utf8'));
  } else if (Buffer.isBuffer(value)) {
    writeString(out, value);
  } else if (Array.isArray(value)) {
    out.write('(');
    writeValues(out, value);
    out.write(')');
  } else if ('token' in value) {
    out.write(value.token);
  } else if ('literal' in value) {
    out.write(`${value.binary ? '~' : ''}{${value.literal.length}}\r\n`);
    out.writeBytes(value.literal);
  } else if ('adjacent' in value) {
    for (const item of value.adjacent) writeValue(out, item);
  }
}

function writeValues(out: ResponseBytes, values: readonly ImapValue[]): void {
  values.forEach((value, index) => {
    if (index > 0) out.write(' ');
    writeValue(out, value);
  });
}

/** One value alone, without CRLF (for tests and for embedding). */
export function serializeValue(value: ImapValue): Buffer {
  const out = new ResponseBytes();
  writeValue(out, value);
  const bytes = out.finish();
  return bytes.subarray(0, bytes.length - CRLF.length);
}

/** RFC 9051 §7.1 resp-text-code, e.g. `{ name: 'APPENDUID', args: [38505, 3955] }`. */
export interface ResponseCode {
  name: string;
  args?: readonly ImapValue[];
}

export type TaggedStatus = 'OK' | 'NO' | 'BAD';
export type UntaggedStatus = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

/** resp-text = ["[" resp-text-code "]" SP] [text]; text has no CR or LF (RFC 9051 §9). */
function writeResponseText(out: ResponseBytes, text: string, code: ResponseCode | undefined): void {
  if (code) {
    out.write(`[${code.name}`);
    if (code.args && code.args.length > 0) {
      out.write(' ');
      writeValues(out, code.args);
    }
    out.write('] ');
  }
  out.writeBytes(Buffer.from(text.replace(/[\r\n\0]+/g, ' ') || 'done', 'utf8'));
}

/** `<tag> OK|NO|BAD [code] text`. */
export function taggedResponse(tag: string, status: TaggedStatus, text: string, code?: ResponseCode): Buffer {
  const out = new ResponseBytes();
  out.write(`${tag} ${status} `);
  writeResponseText(out, text, code);
  return out.finish();
}

/** `* OK|NO|BAD|BYE|PREAUTH [code] text`. */
export function untaggedStatus(status: UntaggedStatus, text: string, code?: ResponseCode): Buffer {
  const out = new ResponseBytes();
  out.write(`* ${status} `);
  writeResponseText(out, text, code);
  return out.finish();
}

/** `* value value ...`: any untagged data response. */
export function untagged(...values: ImapValue[]): Buffer {
  const out = new ResponseBytes();
  out.write('* ');
  writeValues(out, values);
  return out.finish();
}

/** `+ text`: the server is ready for a literal or the next line of the command (RFC 9051 §7.5). */
export function continuationRequest(text = 'Ready for literal data'): Buffer {
  const out = new ResponseBytes();
  out.write('+ ');
  out.writeBytes(Buffer.from(text.replace(/[\r\n\0]+/g, ' '), 'utf8'));
  return out.finish();
}

/** `+ base64`: a SASL challenge (RFC 9051 §6.2.2); an empty challenge is `+ ` (a plus and a space). */
export function authenticateChallenge(challenge: Buffer): Buffer {
  return Buffer.from(`+ ${challenge.toString('base64')}\r\n`, 'latin1');
}

/**
 * A set of numbers as a compact sequence set (`1:3,7,9:10`); sorted and de-duplicated first. Empty input
 * gives ''. Used for ESEARCH ALL, VANISHED, COPYUID, MODIFIED.
 */
export function formatSequenceSet(numbers: Iterable<number>): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i]!;
    ranges.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return ranges.join(',');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time as INTERNALDATE sends it: `"17-Jul-1996 02:44:25 -0700"` (RFC 9051 §9), in the given zone. */
export function formatDateTime(time: number, zoneMinutes = 0): string {
  const local = new Date(time + zoneMinutes * 60_000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const zone = Math.abs(zoneMinutes);
  return (
    `${String(local.getUTCDate()).padStart(2, ' ')}-${MONTHS[local.getUTCMonth()]}-${pad(local.getUTCFullYear(), 4)} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ` +
    `${zoneMinutes < 0 ? '-' : '+'}${pad(Math.floor(zone / 60))}${pad(zone % 60)}`
  );
}

function isAtomText(text: string): boolean {
  return /^[^(){ \x00-\x1f\x7f%*"\\\]\x80-\uffff]+$/.test(text);
}

/** The section text echoed in a FETCH response: `1.2.HEADER.FIELDS (FROM TO)` (RFC 9051 §7.5.2). */
export function formatSection(section: BodySection): string {
  const parts: string[] = section.part.map(String);
  if (section.text) parts.push(section.text);
  let text = parts.join('.');
  if (section.fields) {
    const fields = section.fields.map((field) =>
      isAtomText(field) ? field : serializeValue(field).toString('latin1'),
    );
    text += ` (${fields.join(' ')})`;
  }
  return text;
}

/** RFC 9051 §7.5.2 address: (name adl mailbox host). */
function addressValue(address: EnvelopeAddress): ImapValue {
  return [address.name, address.adl, address.mailbox, address.host];
}

function addressListValue(addresses: EnvelopeAddress[] | null): ImapValue {
  return addresses && addresses.length > 0 ? addresses.map(addressValue) : null;
}

/**
 * ENVELOPE (RFC 9051 §7.5.2). Sender and Reply-To default to From when absent, as the RFC requires
 * (the stored envelope keeps them as found).
 */
export function envelopeValue(envelope: Envelope): ImapValue {
  const from = addressListValue(envelope.from);
  const sender = envelope.sender && envelope.sender.length > 0 ? addressListValue(envelope.sender) : from;
  const replyTo = envelope.replyTo && envelope.replyTo.length > 0 ? addressListValue(envelope.replyTo) : from;
  return [
    envelope.date,
    envelope.subject,
    from,
    sender,
    replyTo,
    addressListValue(envelope.to),
    addressListValue(envelope.cc),
    addressListValue(envelope.bcc),
    envelope.inReplyTo,
    envelope.messageId,
  ];
}

function parametersValue(params: MimeParameters | null): ImapValue {
  return params && params.length > 0 ? params.flat() : null;
}

function dispositionValue(part: BodyPart): ImapValue {
  return part.disposition ? [part.disposition.type, parametersValue(part.disposition.params)] : null;
}

/** body-fld-lang: always a list, as Dovecot sends it (RFC 9051 allows a single string too). */
function languageValue(part: BodyPart): ImapValue {
  return part.language && part.language.length > 0 ? part.language : null;
}

/**
 * BODYSTRUCTURE (`extensible`) or BODY (RFC 9051 §7.5.2 body, §9 body-type-1part / body-type-mpart).
 * Multipart children are written back to back: body-type-mpart = 1*body SP media-subtype.
 */
export function bodyStructureValue(part: BodyPart, extensible: boolean): ImapValue {
  if (part.parts) {
    const values: ImapValue[] = [{ adjacent: part.parts.map((child) => bodyStructureValue(child, extensible)) }];
    values.push(part.subtype);
    if (extensible) {
      values.push(parametersValue(part.params), dispositionValue(part), languageValue(part), part.location);
    }
    return values;
  }
  const values: ImapValue[] = [
    part.type,
    part.subtype,
    parametersValue(part.params),
    part.id,
    part.description,
    part.encoding,
    part.size,
  ];
  const type = part.type.toLowerCase();
  if (part.message) {
    values.push(envelopeValue(part.message.envelope), bodyStructureValue(part.message.body, extensible), part.lines);
  } else if (type === 'text') {
    values.push(part.lines);
  }
  if (extensible) {
    values.push(part.md5, dispositionValue(part), languageValue(part), part.location);
  }
  return values;
}

/** What one FETCH response may carry for a message (RFC 9051 §7.5.2). */
export type FetchAttribute =
  | { kind: 'UID'; uid: number }
  | { kind: 'FLAGS'; flags: readonly string[] }
  | { kind: 'INTERNALDATE'; time: number; zoneMinutes?: number }
  /** RFC 8514: when the message was saved in the mailbox; null when the mailbox keeps no save dates. */
  | { kind: 'SAVEDATE'; time: number | null }
  | { kind: 'RFC822.SIZE'; size: number }
  | { kind: 'MODSEQ'; modSeq: number }
  | { kind: 'ENVELOPE'; envelope: Envelope }
  | { kind: 'BODY' | 'BODYSTRUCTURE'; body: BodyPart }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT'; data: Buffer | null }
  /** `origin` is the partial fetch's offset, echoed as `<origin>`. */
  | { kind: 'BODY[]'; section: BodySection; origin?: number; data: Buffer | null }
  /** Decoded content (RFC 3516); sent as literal8 when it holds NUL. */
  | { kind: 'BINARY[]'; part: readonly number[]; origin?: number; data: Buffer | null }
  | { kind: 'BINARY.SIZE'; part: readonly number[]; size: number };

function fetchAttributeValues(attribute: FetchAttribute): [ImapValue, ImapValue] {
  switch (attribute.kind) {
    case 'UID':
      return [token('UID'), attribute.uid];
    case 'FLAGS':
      return [token('FLAGS'), attribute.flags.map(token)];
    case 'INTERNALDATE':
      return [token('INTERNALDATE'), formatDateTime(attribute.time, attribute.zoneMinutes)];
    case 'SAVEDATE':
      return [token('SAVEDATE'), attribute.time === null ? null : formatDateTime(attribute.time)];
    case 'RFC822.SIZE':
      return [token('RFC822.SIZE'), attribute.size];
    case 'MODSEQ':
      return [token('MODSEQ'), [attribute.modSeq]];
    case 'ENVELOPE':
      return [token('ENVELOPE'), envelopeValue(attribute.envelope)];
    case 'BODY':
    case 'BODYSTRUCTURE':
      return [token(attribute.kind), bodyStructureValue(attribute.body, attribute.kind === 'BODYSTRUCTURE')];
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      return [token(attribute.kind), attribute.data && literal(attribute.data)];
    case 'BODY[]': {
      const origin = attribute.origin === undefined ? '' : `<${attribute.origin}>`;
      return [token(`BODY[${formatSection(attribute.section)}]${origin}`), attribute.data && literal(attribute.data)];
    }
    case 'BINARY[]': {
      const origin = attribute.origin === undefined ? '' : `<${attribute.origin}>`;
      const data = attribute.data;
      return [token(`BINARY[${attribute.part.join('.')}]${origin}`), data && literal(data, data.includes(0))];
    }
    case 'BINARY.SIZE':
      return [token(`BINARY.SIZE[${attribute.part.join('.')}]`), attribute.size];
  }
}

/** `* <seq> FETCH (...)`. */
export function fetchResponse(sequenceNumber: number, attributes: readonly FetchAttribute[]): Buffer {
  return untagged(sequenceNumber, token('FETCH'), attributes.flatMap(fetchAttributeValues));
}

export function capabilityResponse(capabilities: readonly string[]): Buffer {
  return untagged(token('CAPABILITY'), ...capabilities.map(token));
}

/** `* FLAGS (...)` (RFC 9051 §7.3.5). */
export function flagsResponse(flags: readonly string[]): Buffer {
  return untagged(token('FLAGS'), flags.map(token));
}

/** `* n EXISTS`, `* n RECENT` (IMAP4rev1 only), `* n EXPUNGE`. */
export function messageCountResponse(count: number, kind: 'EXISTS' | 'RECENT' | 'EXPUNGE'): Buffer {
  return untagged(count, token(kind));
}

/** `* VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10). */
export function vanishedResponse(uids: Iterable<number>, earlier: boolean): Buffer {
  const set = token(formatSequenceSet(uids));
  return earlier ? untagged(token('VANISHED'), [token('EARLIER')], set) : untagged(token('VANISHED'), set);
}

export interface ListEntry {
  /** Mailbox attributes such as `\HasNoChildren`, `\Subscribed`, `\Sent`. */
  attributes: readonly string[];
  /** Hierarchy delimiter; null for a flat namespace. */
  delimiter: string | null;
  /** The name in its wire form (modified UTF-7 unless UTF8=ACCEPT). */
  name: string;
  /** RFC 5258 §3.5 CHILDINFO: why a non-matching parent is listed (`SUBSCRIBED`). */
  childInfo?: readonly string[];
  /** RFC 9051 §6.3.9.7 OLDNAME after a rename. */
  oldName?: string;
}

/** `* LIST (attributes) "delimiter" name [(extended items)]` (RFC 9051 §7.3.1, RFC 5258 §6). */
export function listResponse(entry: ListEntry, command: 'LIST' | 'LSUB' = 'LIST'): Buffer {
  const extended: ImapValue[] = [];
  if (entry.childInfo && entry.childInfo.length > 0) {
    extended.push(
      token('CHILDINFO'),
      entry.childInfo.map((info) => info),
    );
  }
  if (entry.oldName !== undefined) extended.push(token('OLDNAME'), [entry.oldName]);
  const values: ImapValue[] = [token(command), entry.attributes.map(token), entry.delimiter, entry.name];
  if (extended.length > 0) values.push(extended);
  return untagged(...values);
}

/** `* STATUS name (MESSAGES 3 UIDNEXT 4 ...)`, items in the order given. */
export function statusResponse(name: string, items: ReadonlyArray<[StatusItem, number]>): Buffer {
  return untagged(
    token('STATUS'),
    name,
    items.flatMap(([item, value]) => [token(item), value]),
  );
}

/** `* SEARCH 2 3 6 [(MODSEQ n)]` (RFC 9051 §7.3.4 for IMAP4rev1 clients, RFC 7162 §3.1.5). */
export function searchResponse(numbers: readonly number[], highestModSeq?: number): Buffer {
  const values: ImapValue[] = [token('SEARCH'), ...numbers];
  if (highestModSeq !== undefined && numbers.length > 0) values.push([token('MODSEQ'), highestModSeq]);
  return untagged(...values);
}

/** `* SORT 2 3 6 [(MODSEQ n)]` (RFC 5256 §4). */
export function sortResponse(numbers: readonly number[], highestModSeq?: number): Buffer {
  const values: ImapValue[] = [token('SORT'), ...numbers];
  if (highestModSeq !== undefined && numbers.length > 0) values.push([token('MODSEQ'), highestModSeq]);
  return untagged(...values);
}

/** What an ESEARCH response reports (RFC 4731 §3.1, RFC 9051 §7.3.4); absent fields are left out. */
export interface EsearchResult {
  /** The command's tag, echoed as `(TAG "a1")`. */
  tag?: string;
  uid: boolean;
  min?: number;
  max?: number;
  /** Matching numbers; sent as a compact sequence set. */
  all?: Iterable<number>;
  count?: number;
  modSeq?: number;
}

export function esearchResponse(result: EsearchResult): Buffer {
  const values: ImapValue[] = [token('ESEARCH')];
  if (result.tag !== undefined) values.push([token('TAG'), result.tag]);
  if (result.uid) values.push(token('UID'));
  if (result.min !== undefined) values.push(token('MIN'), result.min);
  if (result.max !== undefined) values.push(token('MAX'), result.max);
  if (result.all !== undefined) {
    const set = formatSequenceSet(result.all);
    if (set) values.push(token('ALL'), token(set));
  }
  if (result.count !== undefined) values.push(token('COUNT'), result.count);
  if (result.modSeq !== undefined) values.push(token('MODSEQ'), result.modSeq);
  return untagged(...values);
}

/** A THREAD tree node; `id` null is a placeholder parent with no message (RFC 5256 §4). */
export interface ThreadNode {
  id: number | null;
  children: readonly ThreadNode[];
}

/**
 * `* THREAD (2)(3 6 (4 23)(44 7 96))` (RFC 5256 §4). A lone child continues its parent's list; two or
 * more children each open a nested list. Iterative: thread depth comes from the messages' headers, and a
 * reply chain thousands deep must not overflow the stack.
 */
export function threadResponse(threads: readonly ThreadNode[]): Buffer {
  const parts: string[] = [];
  // Lists still to write, last first; ')' closes the list opened before it.
  const pending: Array<ThreadNode | ')'> = [];
  for (let i = threads.length - 1; i >= 0; i--) pending.push(threads[i]!);
  while (pending.length > 0) {
    const entry = pending.pop()!;
    if (entry === ')') {
      parts.push(')');
      continue;
    }
    parts.push('(');
    let node = entry;
    let written = false;
    for (;;) {
      if (node.id !== null) {
        parts.push(written ? ` ${node.id}` : String(node.id));
        written = true;
      }
      if (node.children.length !== 1) break;
      node = node.children[0]!;
    }
    pending.push(')');
    if (node.children.length > 1) {
      if (written) parts.push(' ');
      for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!);
    }
  }
  const list = parts.join('');
  return untagged(token('THREAD'), ...(list ? [token(list)] : []));
}

export interface NamespaceEntry {
  prefix: string;
  delimiter: string | null;
}

/** `* NAMESPACE personal other shared` (RFC 9051 §7.3.1 / RFC 2342), each NIL or a list. */
export function namespaceResponse(
  personal: readonly NamespaceEntry[],
  other: readonly NamespaceEntry[],
  shared: readonly NamespaceEntry[],
): Buffer {
  const group = (entries: readonly NamespaceEntry[]): ImapValue =>
    entries.length === 0 ? null : entries.map((entry) => [entry.prefix, entry.delimiter]);
  return untagged(token('NAMESPACE'), group(personal), group(other), group(shared));
}

/** `* ENABLED cap ...` (RFC 5161 §3.2). */
export function enabledResponse(capabilities: readonly string[]): Buffer {
  return untagged(token('ENABLED'), ...capabilities.map(token));
}

/** `* ID (...)` or `* ID NIL` (RFC 2971 §3.2). */
export function idResponse(parameters: ReadonlyArray<{ field: string; value: string | null }> | null): Buffer {
  return untagged(token('ID'), parameters ? parameters.flatMap(({ field, value }) => [field, value]) : null);
}

/** `* ACL mailbox identifier rights ...` (RFC 4314 §3.6). */
export function aclResponse(mailbox: string, entries: ReadonlyArray<{ identifier: string; rights: string }>): Buffer {
  return untagged(token('ACL'), mailbox, ...entries.flatMap(({ identifier, rights }) => [identifier, rights]));
}

/** `* LISTRIGHTS mailbox identifier required optional...` (RFC 4314 §3.7). */
export function listRightsResponse(
  mailbox: string,
  identifier: string,
  required: string,
  optional: readonly string[],
): Buffer {
  return untagged(token('LISTRIGHTS'), mailbox, identifier, required, ...optional);
}

/** `* MYRIGHTS mailbox rights` (RFC 4314 §3.8). */
export function myRightsResponse(mailbox: string, rights: string): Buffer {
  return untagged(token('MYRIGHTS'), mailbox, rights);
}

/** `* QUOTA root (resource usage limit ...)` (RFC 9208 §5.1). */
export function quotaResponse(
  root: string,
  resources: ReadonlyArray<{ resource: string; usage: number; limit: number }>,
): Buffer {
  return untagged(
    token('QUOTA'),
    root,
    resources.flatMap(({ resource, usage, limit }) => [token(resource), usage, limit]),
  );
}

/** `* QUOTAROOT mailbox root ...` (RFC 9208 §5.2). */
export function quotaRootResponse(mailbox: string, roots: readonly string[]): Buffer {
  return untagged(token('QUOTAROOT'), mailbox, ...roots);
}
