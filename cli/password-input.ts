/**
 * Where a new password comes from: a terminal prompt with echo off (asked twice), standard input
 * (`--password-stdin`, for scripts: one line, the trailing newline dropped), or a generated one
 * (`--generate`, printed once on stdout by the caller). Never from an argument: those show in `ps`
 * and shell history.
 *
 * Trusts nothing on stdin: it reads at most MAX_STDIN_OCTETS; the directory validates the password.
 */
import { randomInt } from 'node:crypto';
import { MAX_PASSWORD_OCTETS } from '../shared/directory/password.ts';
import type { CliIo } from './context.ts';
import { UsageError } from './errors.ts';

/** The longest password plus a CRLF. */
const MAX_STDIN_OCTETS = MAX_PASSWORD_OCTETS + 2;
export const GENERATED_PASSWORD_LENGTH = 20;
/** No look-alikes (0/O, 1/l/I), so a password read off a screen is typed right: 20 of 56 symbols ≈ 116 bits. */
const GENERATED_PASSWORD_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export interface PasswordSource {
  passwordStdin?: boolean;
  generate?: boolean;
}

export interface NewPassword {
  password: string;
  generated: boolean;
}

export async function readNewPassword(source: PasswordSource, io: CliIo): Promise<NewPassword> {
  if (source.passwordStdin && source.generate) {
    throw new UsageError('use either --password-stdin or --generate, not both');
  }
  if (source.generate) return { password: generatePassword(), generated: true };
  if (source.passwordStdin) return { password: await readStdinPassword(io), generated: false };
  if (!io.stdin.isTTY || !io.stdin.setRawMode) {
    throw new UsageError('no terminal to ask for the password on: use --password-stdin or --generate');
  }
  const [password, repeated] = (await promptHidden(io, ['New password: ', 'Repeat password: '])) as [string, string];
  if (password !== repeated) throw new UsageError('the passwords do not match');
  return { password, generated: false };
}

export function generatePassword(): string {
  let password = '';
  for (let i = 0; i < GENERATED_PASSWORD_LENGTH; i++) {
    password += GENERATED_PASSWORD_ALPHABET[randomInt(GENERATED_PASSWORD_ALPHABET.length)];
  }
  return password;
}

async function readStdinPassword(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of io.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    length += buffer.length;
    if (length > MAX_STDIN_OCTETS) {
      io.stdin.destroy();
      throw new UsageError(`the password on stdin is longer than ${MAX_PASSWORD_OCTETS} octets`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const ENTER = new Set(['\r', '\n']);
const INTERRUPT = '\u0003';
const END_OF_FILE = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

/** One line per prompt from the terminal in raw mode, so nothing is echoed. */
function promptHidden(io: CliIo, prompts: string[]): Promise<string[]> {
  const { stdin, stderr } = io;
  const lines: string[] = [];
  // Echo goes off before the prompt appears, so nothing typed in answer to it can be echoed.
  stdin.setRawMode!(true);
  stderr.write(prompts[0]!);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    let previous = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      if (error) reject(error);
      else resolve(lines);
    };
    const onData = (data: string) => {
      for (const char of data) {
        const crlf = previous === '\r' && char === '\n';
        previous = char;
        if (crlf) continue;
        if (ENTER.has(char)) {
          stderr.write('\n');
          lines.push(typed);
          typed = '';
          if (lines.length === prompts.length) return finish();
          stderr.write(prompts[lines.length]!);
        } else if (char === INTERRUPT || (char === END_OF_FILE && typed === '')) {
          stderr.write('\n');
          return finish(new UsageError('cancelled'));
        } else if (BACKSPACE.has(char)) {
          typed = [...typed].slice(0, -1).join('');
        } else if (typed.length <= MAX_PASSWORD_OCTETS) {
          typed += char;
        }
      }
    };
    stdin.on('data', onData);
  });
}
