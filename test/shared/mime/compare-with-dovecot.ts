/**
 * Developer tool, not a test: compares our ENVELOPE, BODYSTRUCTURE and section byte ranges for every
 * corpus message with what Dovecot answers, to check the golden files against a mature server.
 *
 *   apt-get install dovecot-imapd     # the imap binary only; no service needs to run
 *   node --import tsx test/shared/mime/compare-with-dovecot.ts [corpus-dir]
 *
 * It runs Dovecot's imap binary in pre-authenticated mode on a throw-away maildir (as uid 65534, since
 * Dovecot refuses root), APPENDs every message, FETCHes ENVELOPE, BODYSTRUCTURE and BODY.PEEK[...] for
 * every section we compute, and prints each difference. Known, deliberate differences are listed in
 * README.md next to this file.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bodySectionRange, findBodyPart } from '../../../fargate/imap/protocol/body-section.ts';
import type { BodySection } from '../../../fargate/imap/protocol/command-types.ts';
import {
  bodyStructureValue,
  envelopeValue,
  formatSection,
  serializeValue,
} from '../../../fargate/imap/protocol/response-writer.ts';
import { parseMessageStructure } from '../../../shared/mime/mime-structure.ts';
import type { MessageStructure } from '../../../shared/mime/structure-types.ts';

const DOVECOT_IMAP = '/usr/lib/dovecot/imap';
const NOBODY = 65534;

type Value = null | number | Buffer | Value[];

/** Reads IMAP response values (atoms as Buffers, like strings: the comparison is by content). */
class ResponseReader {
  pos = 0;
  constructor(readonly data: Buffer) {}

  skipSpaces(): void {
    while (this.data[this.pos] === 0x20) this.pos++;
  }

  value(): Value {
    this.skipSpaces();
    const byte = this.data[this.pos];
    if (byte === 0x28) {
      this.pos++;
      const list: Value[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.data[this.pos] === 0x29) {
          this.pos++;
          return list;
        }
        list.push(this.value());
      }
    }
    if (byte === 0x22) {
      const bytes: number[] = [];
      this.pos++;
      while (this.data[this.pos] !== 0x22) {
        if (this.data[this.pos] === 0x5c) this.pos++;
        bytes.push(this.data[this.pos++]!);
      }
      this.pos++;
      return Buffer.from(bytes);
    }
    if (byte === 0x7b || byte === 0x7e) {
      const close = this.data.indexOf(0x7d, this.pos);
      const size = Number(this.data.toString('latin1', this.data.indexOf(0x7b, this.pos) + 1, close));
      const start = close + 3;
      this.pos = start + size;
      return this.data.subarray(start, start + size);
    }
    const start = this.pos;
    while (this.pos < this.data.length && !' ()\r\n'.includes(String.fromCharCode(this.data[this.pos]!))) {
      if (this.data[this.pos] === 0x5b) {
        // BODY[...] names: read up to the matching bracket.
        this.pos = this.data.indexOf(0x5d, this.pos);
      }
      this.pos++;
    }
    const text = this.data.toString('latin1', start, this.pos);
    if (text === 'NIL') return null;
    if (/^\d+$/.test(text)) return Number(text);
    return Buffer.from(text, 'latin1');
  }
}

/** Every `* n FETCH (...)` response, as name → value per message number. */
function readFetches(output: Buffer): Map<number, Map<string, Value>> {
  const fetches = new Map<number, Map<string, Value>>();
  const reader = new ResponseReader(output);
  const pattern = /\* (\d+) FETCH \(/g;
  for (;;) {
    const text = output.toString('latin1', reader.pos);
    pattern.lastIndex = 0;
    const match = pattern.exec(text);
    if (!match) break;
    reader.pos += match.index + match[0].length - 1;
    const list = reader.value() as Value[];
    const attributes = fetches.get(Number(match[1])) ?? new Map<string, Value>();
    for (let i = 0; i + 1 < list.length; i += 2) attributes.set((list[i] as Buffer).toString('latin1'), list[i + 1]!);
    fetches.set(Number(match[1]), attributes);
  }
  return fetches;
}

function same(a: Value, b: Value): boolean {
  if (a === null || b === null || typeof a === 'number' || typeof b === 'number') {
    return a === b || String(a) === String(b);
  }
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => same(item, b[i]!));
  return false;
}

function show(value: Value): string {
  if (value === null) return 'NIL';
  if (typeof value === 'number') return String(value);
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('latin1'));
  return `(${value.map(show).join(' ')})`;
}

/** Every section path of a message (1, 1.2, 2.1 ...), depth first. */
function sectionPaths(structure: MessageStructure, prefix: number[] = []): number[][] {
  const paths: number[][] = [];
  for (let n = 1; ; n++) {
    const path = [...prefix, n];
    if (!findBodyPart(structure, path)) break;
    paths.push(path, ...sectionPaths(structure, path));
  }
  return paths;
}

/**
 * Runs Dovecot's imap on the script. Its stdin must stay open until the last answer: Dovecot drops the
 * session (and the answers still pending) as soon as its input ends.
 */
function runDovecot(config: string, home: string, script: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Through cat: Dovecot refuses sockets on stdin/stdout (it takes them for inetd), and Node's pipes are sockets.
    const child = spawn('sh', ['-c', `cat | ${DOVECOT_IMAP} -c "$0" | cat`, config], {
      env: { USER: 'compare', HOME: home, PATH: '/usr/bin:/bin' },
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\nz OK')) child.stdin.end();
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(chunks))
        : reject(new Error(`imap exited with ${code}: ${Buffer.concat(chunks).toString().slice(0, 500)}`)),
    );
    child.stdin.on('error', () => {});
    child.stdin.write(script);
  });
}

async function main(): Promise<void> {
  const corpus = process.argv[2] ?? join(import.meta.dirname, 'corpus');
  const files = readdirSync(corpus)
    .filter((name) => name.endsWith('.eml'))
    .sort();
  const messages = files.map((name) => readFileSync(join(corpus, name)));
  const structures = messages.map(parseMessageStructure);

  const dir = mkdtempSync(join(tmpdir(), 'dovecot-compare-'));
  chmodSync(dir, 0o755);
  try {
    const config = join(dir, 'dovecot.conf');
    writeFileSync(
      config,
      [
        `base_dir = ${dir}/run`,
        `log_path = ${dir}/log`,
        `mail_location = maildir:${dir}/mail`,
        'first_valid_uid = 0',
        'first_valid_gid = 0',
        `mail_uid = ${NOBODY}`,
        `mail_gid = ${NOBODY}`,
        'ssl = no',
        'protocols = imap',
        '',
      ].join('\n'),
    );
    for (const sub of ['run', 'mail', 'home']) mkdirSync(join(dir, sub));
    chownSync(join(dir, 'mail'), NOBODY, NOBODY);
    chownSync(join(dir, 'home'), NOBODY, NOBODY);

    const script: Buffer[] = [];
    messages.forEach((message, i) => {
      script.push(Buffer.from(`a${i} APPEND INBOX {${message.length}+}\r\n`), message, Buffer.from('\r\n'));
    });
    script.push(Buffer.from('s SELECT INBOX\r\n'));
    const requested: Array<Array<{ name: string; start: number; end: number }>> = [];
    structures.forEach((structure, i) => {
      const sectionsToFetch: BodySection[] = [
        { part: [], text: 'HEADER' },
        { part: [], text: 'TEXT' },
      ];
      for (const part of sectionPaths(structure)) {
        sectionsToFetch.push({ part }, { part, text: 'MIME' });
        if (findBodyPart(structure, part)?.message)
          sectionsToFetch.push({ part, text: 'HEADER' }, { part, text: 'TEXT' });
      }
      const ranges = sectionsToFetch.map((section) => {
        const range = bodySectionRange(structure, section)!;
        return { name: `BODY[${formatSection(section)}]`, ...range };
      });
      requested.push(ranges);
      const items = ranges.map((range) => range.name.replace('BODY[', 'BODY.PEEK[')).join(' ');
      script.push(Buffer.from(`f${i} FETCH ${i + 1} (ENVELOPE BODYSTRUCTURE BODY ${items})\r\n`));
    });
    script.push(Buffer.from('z LOGOUT\r\n'));

    const output = await runDovecot(config, join(dir, 'home'), Buffer.concat(script));
    const fetches = readFetches(output);

    let differences = 0;
    const report = (file: string, what: string, ours: string, theirs: string) => {
      differences++;
      console.log(`${file}: ${what}\n  ours:    ${ours.slice(0, 600)}\n  dovecot: ${theirs.slice(0, 600)}`);
    };
    structures.forEach((structure, i) => {
      const file = files[i]!;
      const theirs = fetches.get(i + 1);
      if (!theirs) {
        report(file, 'no FETCH response', '', '');
        return;
      }
      const message = messages[i]!;
      const compare = (name: string, ours: Value) => {
        const dovecot = theirs.get(name) ?? null;
        if (same(ours, dovecot)) return;
        if (Buffer.isBuffer(ours) && Buffer.isBuffer(dovecot)) {
          // Show where two long byte strings part ways rather than their beginnings.
          let at = 0;
          while (at < ours.length && ours[at] === dovecot[at]) at++;
          const from = Math.max(0, at - 40);
          report(
            file,
            `${name} (${ours.length} vs ${dovecot.length} bytes, first difference at ${at})`,
            show(ours.subarray(from, at + 80)),
            show(dovecot.subarray(from, at + 80)),
          );
        } else {
          report(file, name, show(ours), show(dovecot));
        }
      };
      const reparse = (bytes: Buffer) => new ResponseReader(bytes).value();
      compare('ENVELOPE', reparse(serializeValue(envelopeValue(structure.envelope))));
      compare('BODYSTRUCTURE', reparse(serializeValue(bodyStructureValue(structure.body, true))));
      compare('BODY', reparse(serializeValue(bodyStructureValue(structure.body, false))));
      for (const range of requested[i]!) compare(range.name, message.subarray(range.start, range.end));
    });
    console.log(`${files.length} messages compared, ${differences} differences`);
  } finally {
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
