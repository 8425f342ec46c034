/** How a command ends: its tagged response (RFC 9051 §7.1), built by the command, written by the session. */
import type { Command, CommandName } from './protocol/command-types.ts';
import type { ResponseCode } from './protocol/response-writer.ts';

/** One command of the given name(s), narrowed from the parser's union. */
export type CommandOf<N extends CommandName> = Command & { name: N };

/** How a command ends: the tagged response. */
export interface Completion {
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  code?: ResponseCode;
  /** The command wrote its tagged response itself (STARTTLS, COMPRESS, LOGOUT: the stream changes after it). */
  answered?: true;
}

export const answered = (): Completion => ({ status: 'OK', text: '', answered: true });

export const ok = (text: string, code?: ResponseCode): Completion => ({
  status: 'OK',
  text,
  ...(code ? { code } : {}),
});
export const no = (text: string, code?: ResponseCode): Completion => ({
  status: 'NO',
  text,
  ...(code ? { code } : {}),
});
export const bad = (text: string, code?: ResponseCode): Completion => ({
  status: 'BAD',
  text,
  ...(code ? { code } : {}),
});
