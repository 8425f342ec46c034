/**
 * Parses address header fields (From, To, Cc, ...: RFC 5322 §3.4 address-list, with the obsolete forms of
 * §4.4) into the parts IMAP's ENVELOPE reports: display name, source route, mailbox (local part) and host,
 * with groups as start/end markers (RFC 9051 §7.5.2).
 *
 * It reads arbitrary mail and never fails, following Dovecot where mail is merely sloppy: phrase words
 * are joined by single spaces, quotes and escapes are removed, a trailing comment names an address that
 * has no display name, a lone quoted string is a name and a lone word is a local part. Where an address
 * is broken beyond that, it skips to the next comma and carries on (Dovecot stops reading the list).
 * Encoded words stay as they are: ENVELOPE sends them raw, search-fields.ts decodes them.
 */

export type ParsedAddress =
  | { kind: 'mailbox'; name: string | null; adl: string | null; mailbox: string | null; host: string | null }
  | { kind: 'group-start'; name: string }
  | { kind: 'group-end' };

type Token =
  | { type: 'word'; text: string; quoted: boolean; space: boolean }
  | { type: 'literal'; text: string; space: boolean }
  | { type: 'special'; text: string; space: boolean }
  | { type: 'comment'; text: string; space: boolean };

const SPECIALS = '<>@,;:.';

function tokenize(text: string): { tokens: Token[]; complete: boolean } {
  const tokens: Token[] = [];
  let i = 0;
  let space = false;
  while (i < text.length) {
    const char = text[i]!;
    if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
      space = true;
      i++;
    } else if (char === '(') {
      let depth = 0;
      let content = '';
      while (i < text.length) {
        const c = text[i++]!;
        if (c === '\\' && i < text.length) {
          content += text[i++];
          continue;
        }
        if (c === '(') {
          if (depth++ > 0) content += c;
        } else if (c === ')') {
          if (--depth === 0) break;
          content += c;
        } else {
          content += c;
        }
      }
      tokens.push({ type: 'comment', text: content.trim(), space });
      space = true;
    } else if (char === '"') {
      let content = '';
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i++]!;
        if (c === '"') {
          closed = true;
          break;
        }
        content += c === '\\' && i < text.length ? text[i++] : c;
      }
      if (!closed) return { tokens, complete: false };
      tokens.push({ type: 'word', text: content, quoted: true, space });
      space = false;
    } else if (char === '[') {
      const end = text.indexOf(']', i);
      if (end === -1) return { tokens, complete: false };
      tokens.push({ type: 'literal', text: text.slice(i, end + 1), space });
      i = end + 1;
      space = false;
    } else if (SPECIALS.includes(char)) {
      tokens.push({ type: 'special', text: char, space });
      i++;
      space = false;
    } else {
      const start = i;
      while (i < text.length && !' \t\r\n()"[]\\'.includes(text[i]!) && !SPECIALS.includes(text[i]!)) i++;
      if (i === start) {
        // A stray backslash or "]": keep it as a word so nothing is silently lost.
        i++;
      }
      tokens.push({ type: 'word', text: text.slice(start, i), quoted: false, space });
      space = false;
    }
  }
  return { tokens, complete: true };
}

class AddressParser {
  private pos = 0;
  /** The last comment passed while reading an addr-spec: a name for an address without one. */
  private lastComment: string | null = null;

  constructor(private readonly tokens: Token[]) {}

  private peek(skipComments = true): Token | undefined {
    let i = this.pos;
    while (skipComments && this.tokens[i]?.type === 'comment') i++;
    return this.tokens[i];
  }

  private next(): Token | undefined {
    while (this.tokens[this.pos]?.type === 'comment') this.lastComment = this.tokens[this.pos++]!.text;
    return this.tokens[this.pos++];
  }

  private isSpecial(text: string): boolean {
    const token = this.peek();
    return token?.type === 'special' && token.text === text;
  }

  get atEnd(): boolean {
    return this.peek() === undefined;
  }

  /** phrase = 1*(word / "."), words joined by one space where the mail had blanks (RFC 5322 obs-phrase). */
  private phrase(): string {
    let text = '';
    for (;;) {
      const token = this.peek();
      if (!token || !(token.type === 'word' || (token.type === 'special' && token.text === '.'))) break;
      const hadSpace = this.tokens[this.pos]?.type === 'comment' || token.space;
      this.next();
      text += text && hadSpace ? ` ${token.text}` : token.text;
    }
    return text;
  }

  /** dot-atom / quoted-string local part, or a domain; words and dots joined as written. */
  private dotted(allowLiteral: boolean): string {
    let text = '';
    for (;;) {
      const token = this.peek();
      if (!token) break;
      if (token.type === 'word' || (token.type === 'special' && token.text === '.')) {
        if (text && token.space && token.type === 'word' && !text.endsWith('.')) break;
        this.next();
        text += token.text;
      } else if (allowLiteral && token.type === 'literal' && !text) {
        this.next();
        return token.text;
      } else {
        break;
      }
    }
    return text;
  }

  /** Skips what cannot be read up to the next top-level comma (or a group's `;`). */
  skipJunk(): void {
    while (!this.atEnd && !this.isSpecial(',') && !this.isSpecial(';')) this.next();
  }

  /** Reads the whole list. */
  addressList(): ParsedAddress[] {
    const result: ParsedAddress[] = [];
    while (!this.atEnd) {
      if (this.isSpecial(',') || this.isSpecial(';')) {
        this.next();
        continue;
      }
      const start = this.pos;
      const phrase = this.phrase();
      if (phrase && this.isSpecial(':')) {
        this.next();
        result.push({ kind: 'group-start', name: phrase });
        while (!this.atEnd && !this.isSpecial(';')) {
          if (this.isSpecial(',')) {
            this.next();
            continue;
          }
          const before = this.pos;
          const address = this.mailbox();
          if (address) result.push(address);
          if (this.pos === before || !(this.atEnd || this.isSpecial(',') || this.isSpecial(';'))) this.skipJunk();
        }
        if (this.isSpecial(';')) this.next();
        result.push({ kind: 'group-end' });
      } else {
        this.pos = start;
        const address = this.mailbox();
        if (address) result.push(address);
        if (this.pos === start || !(this.atEnd || this.isSpecial(','))) this.skipJunk();
      }
    }
    return result;
  }

  /** mailbox = name-addr / addr-spec (RFC 5322 §3.4). */
  private mailbox(): ParsedAddress | undefined {
    const start = this.pos;
    const phrase = this.phrase();
    if (this.isSpecial('<')) return this.angleAddress(phrase || null);
    this.pos = start;
    return this.addrSpec();
  }

  /** "<" [obs-route] addr-spec ">" (RFC 5322 §3.4, §4.4). */
  private angleAddress(name: string | null): ParsedAddress {
    this.next();
    let adl: string | null = null;
    if (this.isSpecial('@')) {
      const route: string[] = [];
      while (this.isSpecial('@')) {
        this.next();
        route.push(`@${this.dotted(true)}`);
        while (this.isSpecial(',')) this.next();
      }
      if (this.isSpecial(':')) this.next();
      adl = route.join(',');
    }
    const local = this.dotted(false);
    let host: string | null = null;
    if (this.isSpecial('@')) {
      this.next();
      host = this.dotted(true) || null;
    }
    while (!this.atEnd && !this.isSpecial('>') && !this.isSpecial(',')) this.next();
    if (this.isSpecial('>')) this.next();
    return { kind: 'mailbox', name, adl, mailbox: local || null, host };
  }

  /** addr-spec = local-part "@" domain, with Dovecot's reading of the incomplete forms. */
  private addrSpec(): ParsedAddress | undefined {
    this.lastComment = null;
    const first = this.peek();
    if (!first || first.type === 'special') {
      // Only comments (or nothing usable) before the next separator.
      while (this.tokens[this.pos]?.type === 'comment') this.next();
      return undefined;
    }
    const quoted = first.type === 'word' && first.quoted;
    const local = this.dotted(false);
    if (this.isSpecial('@')) {
      this.next();
      const host = this.dotted(true) || null;
      this.consumeTrailingComments();
      return { kind: 'mailbox', name: this.lastComment, adl: null, mailbox: local || null, host };
    }
    this.consumeTrailingComments();
    if (this.lastComment !== null)
      return { kind: 'mailbox', name: this.lastComment, adl: null, mailbox: local, host: null };
    // A lone word is a local part; a lone quoted string, or words that go on, are a display name.
    const rest = this.phrase();
    if (rest || quoted) {
      return { kind: 'mailbox', name: rest ? `${local} ${rest}` : local, adl: null, mailbox: null, host: null };
    }
    return { kind: 'mailbox', name: null, adl: null, mailbox: local || null, host: null };
  }

  private consumeTrailingComments(): void {
    while (this.tokens[this.pos]?.type === 'comment') this.lastComment = this.tokens[this.pos++]!.text;
  }
}

/** Parses one address header value. Never throws; unreadable parts are left out. */
export function parseAddressList(value: string): ParsedAddress[] {
  const { tokens, complete } = tokenize(value);
  const parsed = new AddressParser(tokens).addressList();
  // An unterminated quote or literal swallowed the rest: what came before it stands (as in Dovecot).
  if (!complete && parsed.at(-1)?.kind === 'group-start') parsed.push({ kind: 'group-end' });
  return parsed;
}
