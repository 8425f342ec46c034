/**
 * Parses one framed command (command-reader.ts) into its typed form (command-types.ts): every command of
 * IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) and of the extensions listed in command-types.ts.
 *
 *   const result = parseCommand(raw);
 *   if (!result.ok) -> answer from result.error (errors.ts); else dispatch on result.command.name
 *
 * SECURITY: the command is untrusted. Parsing is syntax only, bounded by the framed command's size and
 * the nesting limit; every failure comes back as an ImapParseError value, never as a throw.
 */
import { CommandCursor as Cursor } from './command-cursor.ts';
import type { RawCommand } from './command-reader.ts';
import { isTagChar } from './command-reader.ts';
import type {
  AppendMessage,
  Command,
  CommandBody,
  ListReturnOptions,
  ListSelectOption,
  QresyncParameters,
  SearchReturnOptions,
  SortCriterion,
  SortKey,
  StatusItem,
} from './command-types.ts';
import { ImapParseError } from './errors.ts';
import { parseFetchItems, parseFetchModifiers } from './fetch-parser.ts';
import { ID_MAX_FIELD_BYTES, ID_MAX_PAIRS, ID_MAX_VALUE_BYTES, MAX_APPEND_MESSAGES } from './limits.ts';
import { parseCharset, parseSearchCriteria, parseSearchReturnOptions, searchStringDecoder } from './search-parser.ts';

export type ParseResult = { ok: true; command: Command } | { ok: false; error: ImapParseError };

export function parseCommand(raw: RawCommand): ParseResult {
  try {
    return { ok: true, command: parseFramedCommand(new Cursor(raw)) };
  } catch (error) {
    if (error instanceof ImapParseError) return { ok: false, error: error.withTag(raw.tag) };
    throw error;
  }
}

/**
 * The client's answer to an AUTHENTICATE challenge (RFC 9051 §6.2.2): base64 data, or `*` to cancel.
 * `line` is the raw line from the reader's `line` event.
 */
export function parseAuthenticateResponse(
  line: Buffer,
): { ok: true; cancelled: true } | { ok: true; cancelled: false; data: Buffer } | { ok: false; error: ImapParseError } {
  const text = line.toString('latin1');
  if (text === '*') return { ok: true, cancelled: true };
  const data = decodeBase64Strict(text);
  if (!data) return { ok: false, error: new ImapParseError('syntax', 'Invalid base64 in AUTHENTICATE response') };
  return { ok: true, cancelled: false, data };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64Strict(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

function parseFramedCommand(cursor: Cursor): Command {
  const tag = cursor.run(isTagChar, 'a tag');
  if (cursor.tag === undefined) throw cursor.error('Bad tag');
  cursor.sp();
  const name = cursor.keyword('a command name');
  const body = name === 'UID' ? parseUidCommand(cursor) : parseCommandBody(cursor, name);
  cursor.expectEnd();
  return { tag, ...body };
}

function parseUidCommand(cursor: Cursor): CommandBody {
  cursor.sp();
  const name = cursor.keyword('a UID command');
  switch (name) {
    case 'FETCH':
    case 'STORE':
    case 'COPY':
    case 'MOVE':
    case 'SEARCH':
    case 'SORT':
    case 'THREAD':
      return parseMessageCommand(cursor, name, true);
    case 'EXPUNGE':
      cursor.sp();
      return { name: 'EXPUNGE', uid: true, sequenceSet: cursor.sequenceSet() };
    default:
      throw cursor.error(`Unknown UID command ${name}`);
  }
}

function parseCommandBody(cursor: Cursor, name: string): CommandBody {
  switch (name) {
    case 'CAPABILITY':
    case 'NOOP':
    case 'LOGOUT':
    case 'STARTTLS':
    case 'NAMESPACE':
    case 'IDLE':
    case 'CHECK':
    case 'CLOSE':
    case 'UNSELECT':
      return { name };
    case 'EXPUNGE':
      return { name: 'EXPUNGE', uid: false };
    case 'AUTHENTICATE':
      return parseAuthenticate(cursor);
    case 'LOGIN': {
      cursor.sp();
      const username = cursor.astring();
      cursor.sp();
      return { name: 'LOGIN', username, password: cursor.astring() };
    }
    case 'ENABLE': {
      const capabilities: string[] = [];
      cursor.sp();
      do capabilities.push(cursor.keyword('a capability'));
      while (cursor.takeSp());
      return { name: 'ENABLE', capabilities };
    }
    case 'ID':
      return parseId(cursor);
    case 'SELECT':
    case 'EXAMINE':
      return parseSelect(cursor, name);
    case 'CREATE':
      return parseCreate(cursor);
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
    case 'GETACL':
    case 'MYRIGHTS':
    case 'GETQUOTAROOT':
      cursor.sp();
      return { name, mailbox: cursor.mailbox() };
    case 'RENAME': {
      cursor.sp();
      const mailbox = cursor.mailbox();
      cursor.sp();
      return { name: 'RENAME', mailbox, newName: cursor.mailbox() };
    }
    case 'LIST':
      return parseList(cursor);
    case 'LSUB': {
      cursor.sp();
      const reference = cursor.mailbox();
      cursor.sp();
      return { name: 'LSUB', reference, pattern: cursor.listMailbox() };
    }
    case 'STATUS': {
      cursor.sp();
      const mailbox = cursor.mailbox();
      cursor.sp();
      return { name: 'STATUS', mailbox, items: parseStatusItems(cursor) };
    }
    case 'APPEND':
      return parseAppend(cursor);
    case 'FETCH':
    case 'STORE':
    case 'COPY':
    case 'MOVE':
    case 'SEARCH':
    case 'SORT':
    case 'THREAD':
      return parseMessageCommand(cursor, name, false);
    case 'COMPRESS':
      cursor.sp();
      return { name: 'COMPRESS', mechanism: cursor.keyword('a compression mechanism') };
    case 'SETACL': {
      cursor.sp();
      const mailbox = cursor.mailbox();
      cursor.sp();
      const identifier = cursor.astring();
      cursor.sp();
      const modRights = cursor.astring();
      const sign = modRights[0];
      const operation = sign === '+' ? 'add' : sign === '-' ? 'remove' : 'replace';
      const rights = operation === 'replace' ? modRights : modRights.slice(1);
      return { name: 'SETACL', mailbox, identifier, rights, operation };
    }
    case 'DELETEACL':
    case 'LISTRIGHTS': {
      cursor.sp();
      const mailbox = cursor.mailbox();
      cursor.sp();
      return { name, mailbox, identifier: cursor.astring() };
    }
    case 'GETQUOTA':
      cursor.sp();
      return { name: 'GETQUOTA', root: cursor.astring() };
    case 'SETQUOTA':
      return parseSetQuota(cursor);
    default:
      throw cursor.error(`Unknown command ${name}`);
  }
}

/** RFC 9051 §6.2.2 with RFC 4959: AUTHENTICATE SP auth-type [SP (base64 / "=")]. */
function parseAuthenticate(cursor: Cursor): CommandBody {
  cursor.sp();
  const mechanism = cursor.keyword('a SASL mechanism');
  if (!cursor.takeSp()) return { name: 'AUTHENTICATE', mechanism };
  const text = cursor.restOfLine().toString('latin1');
  if (text === '=') return { name: 'AUTHENTICATE', mechanism, initialResponse: Buffer.alloc(0) };
  const initialResponse = text.length > 0 ? decodeBase64Strict(text) : undefined;
  if (!initialResponse) throw cursor.error('Invalid base64 initial response');
  return { name: 'AUTHENTICATE', mechanism, initialResponse };
}

/** RFC 2971: ID SP ("(" string SP nstring *(SP string SP nstring) ")" / NIL), within its size limits. */
function parseId(cursor: Cursor): CommandBody {
  cursor.sp();
  if (cursor.peek() !== 0x28) {
    if (!cursor.takeKeyword('NIL')) throw cursor.error('Expected ( or NIL');
    return { name: 'ID', parameters: null };
  }
  const parameters = cursor.list(() => {
    const field = cursor.string();
    cursor.sp();
    const value = cursor.nstring();
    if (Buffer.byteLength(field) > ID_MAX_FIELD_BYTES || (value && Buffer.byteLength(value) > ID_MAX_VALUE_BYTES)) {
      throw cursor.error('ID field or value too long');
    }
    return { field, value };
  });
  if (parameters.length > ID_MAX_PAIRS) throw cursor.error('Too many ID fields');
  return { name: 'ID', parameters };
}

/** SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"] (RFC 7162 §3.1.8, §3.2.5). */
function parseSelect(cursor: Cursor, name: 'SELECT' | 'EXAMINE'): CommandBody {
  cursor.sp();
  const mailbox = cursor.mailbox();
  let condstore = false;
  let qresync: QresyncParameters | undefined;
  if (cursor.takeSp()) {
    cursor.list(() => {
      const parameter = cursor.keyword('a select parameter');
      if (parameter === 'CONDSTORE' && !condstore) {
        condstore = true;
      } else if (parameter === 'QRESYNC' && !qresync) {
        cursor.sp();
        qresync = parseQresync(cursor);
      } else {
        throw cursor.error(`Unknown or repeated select parameter ${parameter}`);
      }
    }, false);
  }
  return { name, mailbox, condstore, ...(qresync ? { qresync } : {}) };
}

/** "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" (RFC 7162 §3.2.5). */
function parseQresync(cursor: Cursor): QresyncParameters {
  cursor.enterList();
  const uidValidity = cursor.nzNumber();
  cursor.sp();
  const modSeq = cursor.number64();
  const parameters: QresyncParameters = { uidValidity, modSeq };
  if (cursor.takeSp()) {
    if (cursor.peek() !== 0x28) {
      parameters.knownUids = cursor.sequenceSet();
      if (parameters.knownUids.kind === 'saved') throw cursor.error('$ not allowed in known-uids');
      if (!cursor.takeSp()) {
        cursor.leaveList();
        return parameters;
      }
    }
    cursor.enterList();
    const sequences = cursor.sequenceSet();
    cursor.sp();
    const uids = cursor.sequenceSet();
    cursor.leaveList();
    if (sequences.kind === 'saved' || uids.kind === 'saved') throw cursor.error('$ not allowed in seq-match-data');
    parameters.sequenceMatch = { sequences, uids };
  }
  cursor.leaveList();
  return parameters;
}

/** RFC 6154 §3: the special-use attributes a client may ask CREATE for, in canonical case. */
const SPECIAL_USE = new Map(
  ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'].map((use) => [
    use.toUpperCase(),
    use,
  ]),
);

/** CREATE mailbox [SP "(" create-param *(SP create-param) ")"]; create-param = "USE" SP "(" ... ")". */
function parseCreate(cursor: Cursor): CommandBody {
  cursor.sp();
  const mailbox = cursor.mailbox();
  const specialUse: string[] = [];
  if (cursor.takeSp()) {
    let seenUse = false;
    cursor.list(() => {
      const parameter = cursor.keyword('a create parameter');
      if (parameter !== 'USE' || seenUse) throw cursor.error(`Unknown or repeated create parameter ${parameter}`);
      seenUse = true;
      cursor.sp();
      for (const use of cursor.flagList()) specialUse.push(SPECIAL_USE.get(use.toUpperCase()) ?? use);
    }, false);
  }
  return { name: 'CREATE', mailbox, specialUse };
}

const LIST_SELECT_OPTIONS = new Set<string>([
  'SUBSCRIBED',
  'REMOTE',
  'RECURSIVEMATCH',
  'SPECIAL-USE',
] satisfies ListSelectOption[]);

/**
 * LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] (RFC 5258 §6, RFC 5819,
 * RFC 6154 §5.1).
 */
function parseList(cursor: Cursor): CommandBody {
  cursor.sp();
  let extended = false;
  const selection: ListSelectOption[] = [];
  if (cursor.peek() === 0x28) {
    extended = true;
    for (const option of cursor.list(() => cursor.keyword('a selection option'))) {
      if (!LIST_SELECT_OPTIONS.has(option)) throw cursor.error(`Unknown LIST selection option ${option}`);
      if (!selection.includes(option as ListSelectOption)) selection.push(option as ListSelectOption);
    }
    // RFC 5258 §3.1: RECURSIVEMATCH modifies another option and must not stand alone.
    if (selection.includes('RECURSIVEMATCH') && !selection.some((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE')) {
      throw cursor.error('RECURSIVEMATCH needs another selection option');
    }
    cursor.sp();
  }
  const reference = cursor.mailbox();
  cursor.sp();
  let patterns: string[];
  if (cursor.peek() === 0x28) {
    extended = true;
    patterns = cursor.list(() => cursor.listMailbox(), false);
  } else {
    patterns = [cursor.listMailbox()];
  }
  const returns: ListReturnOptions = { subscribed: false, children: false, specialUse: false };
  if (cursor.takeSp()) {
    extended = true;
    if (!cursor.takeKeyword('RETURN')) throw cursor.error('Expected RETURN');
    cursor.sp();
    cursor.list(() => {
      const option = cursor.keyword('a return option');
      switch (option) {
        case 'SUBSCRIBED':
          returns.subscribed = true;
          return;
        case 'CHILDREN':
          returns.children = true;
          return;
        case 'SPECIAL-USE':
          returns.specialUse = true;
          return;
        case 'STATUS':
          if (returns.status) throw cursor.error('Repeated STATUS return option');
          cursor.sp();
          returns.status = parseStatusItems(cursor);
          return;
        default:
          throw cursor.error(`Unknown LIST return option ${option}`);
      }
    });
  }
  return { name: 'LIST', reference, patterns, selection, returns, extended };
}

const STATUS_ITEMS = new Set<string>([
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
] satisfies StatusItem[]);

/** "(" status-att *(SP status-att) ")" (RFC 9051 §6.3.11, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT). */
function parseStatusItems(cursor: Cursor): StatusItem[] {
  return cursor.list(() => {
    const item = cursor.keyword('a status item');
    if (!STATUS_ITEMS.has(item)) throw cursor.error(`Unknown status item ${item}`);
    return item as StatusItem;
  }, false);
}

/**
 * APPEND mailbox 1*(SP [flag-list SP] [date-time SP] append-data) (RFC 9051 §6.3.12, RFC 3502
 * MULTIAPPEND); append-data = literal / literal8 (RFC 3516) / "UTF8" SP "(" literal8 ")" (RFC 6855 §4).
 */
function parseAppend(cursor: Cursor): CommandBody {
  cursor.sp();
  const mailbox = cursor.mailbox();
  const messages: AppendMessage[] = [];
  while (cursor.takeSp()) {
    if (messages.length >= MAX_APPEND_MESSAGES) throw cursor.error('Too many messages in one APPEND');
    const message: Partial<AppendMessage> = {};
    if (cursor.peek() === 0x28) {
      message.flags = cursor.flagList();
      cursor.sp();
    }
    if (cursor.peek() === 0x22) {
      message.internalDate = cursor.dateTime();
      cursor.sp();
    }
    let utf8 = false;
    if (cursor.takeKeyword('UTF8')) {
      utf8 = true;
      cursor.sp();
      cursor.enterList();
    }
    const literal = cursor.literal({ literal8: true });
    if (utf8) {
      if (!literal.binary) throw cursor.error('UTF8 APPEND data must be a literal8');
      cursor.leaveList();
    }
    messages.push({ ...message, data: literal.data, binary: literal.binary, utf8 });
  }
  if (messages.length === 0) throw cursor.error('APPEND needs a message');
  return { name: 'APPEND', mailbox, messages };
}

type MessageCommandName = 'FETCH' | 'STORE' | 'COPY' | 'MOVE' | 'SEARCH' | 'SORT' | 'THREAD';

function parseMessageCommand(cursor: Cursor, name: MessageCommandName, uid: boolean): CommandBody {
  cursor.sp();
  switch (name) {
    case 'FETCH':
      return parseFetch(cursor, uid);
    case 'STORE':
      return parseStore(cursor, uid);
    case 'COPY':
    case 'MOVE': {
      const sequenceSet = cursor.sequenceSet();
      cursor.sp();
      return { name, uid, sequenceSet, mailbox: cursor.mailbox() };
    }
    case 'SEARCH':
      return parseSearch(cursor, uid);
    case 'SORT':
      return parseSort(cursor, uid);
    case 'THREAD': {
      const algorithm = cursor.keyword('a thread algorithm');
      cursor.sp();
      const charset = parseCharset(cursor);
      cursor.sp();
      const search = parseSearchCriteria(cursor, searchStringDecoder(cursor, charset));
      return { name: 'THREAD', uid, algorithm, charset, search };
    }
  }
}

function parseFetch(cursor: Cursor, uid: boolean): CommandBody {
  const sequenceSet = cursor.sequenceSet();
  cursor.sp();
  const { items, macro } = parseFetchItems(cursor);
  const modifiers = cursor.takeSp() ? parseFetchModifiers(cursor) : { vanished: false };
  // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
  if (modifiers.vanished && (!uid || modifiers.changedSince === undefined)) {
    throw cursor.error('VANISHED needs UID FETCH with CHANGEDSINCE');
  }
  return { name: 'FETCH', uid, sequenceSet, items, ...(macro ? { macro } : {}), ...modifiers };
}

/**
 * STORE sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP store-att-flags (RFC 9051 §6.4.6, RFC 7162 §3.1.3);
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag))).
 */
function parseStore(cursor: Cursor, uid: boolean): CommandBody {
  const sequenceSet = cursor.sequenceSet();
  cursor.sp();
  let unchangedSince: number | undefined;
  if (cursor.peek() === 0x28) {
    cursor.list(() => {
      const modifier = cursor.keyword('a store modifier');
      if (modifier !== 'UNCHANGEDSINCE' || unchangedSince !== undefined) {
        throw cursor.error(`Unknown or repeated store modifier ${modifier}`);
      }
      cursor.sp();
      unchangedSince = cursor.number64();
    }, false);
    cursor.sp();
  }
  const operation = cursor.take(0x2b) ? 'add' : cursor.take(0x2d) ? 'remove' : 'replace';
  const item = cursor.keyword('FLAGS');
  if (item !== 'FLAGS' && item !== 'FLAGS.SILENT') throw cursor.error('Expected FLAGS or FLAGS.SILENT');
  cursor.sp();
  let flags: string[];
  if (cursor.peek() === 0x28) {
    flags = cursor.flagList();
  } else {
    flags = [cursor.flag()];
    while (cursor.takeSp()) flags.push(cursor.flag());
  }
  return {
    name: 'STORE',
    uid,
    sequenceSet,
    operation,
    silent: item === 'FLAGS.SILENT',
    flags,
    ...(unchangedSince === undefined ? {} : { unchangedSince }),
  };
}

/** SEARCH [search-return-opts] SP ["CHARSET" SP charset SP] search-key *(SP search-key). */
function parseSearch(cursor: Cursor, uid: boolean): CommandBody {
  let returnOptions: SearchReturnOptions | undefined;
  if (cursor.peekKeyword() === 'RETURN') {
    returnOptions = parseSearchReturnOptions(cursor);
    cursor.sp();
  }
  let charset: string | undefined;
  if (cursor.takeKeyword('CHARSET')) {
    cursor.sp();
    charset = parseCharset(cursor);
    cursor.sp();
  }
  const criteria = parseSearchCriteria(cursor, searchStringDecoder(cursor, charset));
  return {
    name: 'SEARCH',
    uid,
    criteria,
    ...(charset === undefined ? {} : { charset }),
    ...(returnOptions ? { returnOptions } : {}),
  };
}

const SORT_KEYS = new Set<string>([
  'ARRIVAL',
  'CC',
  'DATE',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
  'DISPLAYFROM',
  'DISPLAYTO',
] satisfies SortKey[]);

/** SORT [search-return-opts] SP sort-criteria SP charset SP search-key... (RFC 5256 §3, RFC 5267 §3.2). */
function parseSort(cursor: Cursor, uid: boolean): CommandBody {
  let returnOptions: SearchReturnOptions | undefined;
  if (cursor.peekKeyword() === 'RETURN') {
    returnOptions = parseSearchReturnOptions(cursor);
    cursor.sp();
  }
  const criteria = cursor.list((): SortCriterion => {
    const reverse = cursor.takeKeyword('REVERSE');
    if (reverse) cursor.sp();
    const key = cursor.keyword('a sort key');
    if (!SORT_KEYS.has(key)) throw cursor.error(`Unknown sort key ${key}`);
    return { key: key as SortKey, reverse };
  }, false);
  cursor.sp();
  const charset = parseCharset(cursor);
  cursor.sp();
  const search = parseSearchCriteria(cursor, searchStringDecoder(cursor, charset));
  return { name: 'SORT', uid, criteria, charset, search, ...(returnOptions ? { returnOptions } : {}) };
}

/** SETQUOTA quota-root SP "(" [resource SP number64 *(SP resource SP number64)] ")" (RFC 9208 §4.2). */
function parseSetQuota(cursor: Cursor): CommandBody {
  cursor.sp();
  const root = cursor.astring();
  cursor.sp();
  const limits: Array<{ resource: string; limit: number }> = [];
  cursor.enterList();
  if (!cursor.closesList()) {
    for (;;) {
      const resource = cursor.keyword('a quota resource');
      cursor.sp();
      limits.push({ resource, limit: cursor.number64() });
      if (cursor.closesList()) break;
      cursor.sp();
    }
  }
  return { name: 'SETQUOTA', root, limits };
}
