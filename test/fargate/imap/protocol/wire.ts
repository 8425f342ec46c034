/**
 * Test support: drives the real command reader and parser over wire text, as a session would (pushing
 * bytes, pulling every event, answering continuations by carrying on).
 */
import assert from 'node:assert/strict';
import { parseCommand } from '../../../../fargate/imap/protocol/command-parser.ts';
import { CommandReader, type ReaderEvent } from '../../../../fargate/imap/protocol/command-reader.ts';
import type { Command } from '../../../../fargate/imap/protocol/command-types.ts';
import type { ImapParseError } from '../../../../fargate/imap/protocol/errors.ts';
import { AUTHENTICATED_READER_LIMITS, type ReaderLimits } from '../../../../fargate/imap/protocol/limits.ts';

/** Every event the reader produces for `input`, pushed in `chunkSize` pieces. */
export function readEvents(
  input: string | Buffer,
  options: { limits?: ReaderLimits; chunkSize?: number } = {},
): ReaderEvent[] {
  const reader = new CommandReader(options.limits ?? AUTHENTICATED_READER_LIMITS);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const chunkSize = options.chunkSize ?? bytes.length;
  const events: ReaderEvent[] = [];
  for (let offset = 0; offset < bytes.length; offset += Math.max(chunkSize, 1)) {
    reader.push(bytes.subarray(offset, offset + Math.max(chunkSize, 1)));
    for (let event = reader.next(); event; event = reader.next()) events.push(event);
  }
  return events;
}

/** Frames one command (CRLF appended when missing) and parses it. */
export function parseText(
  input: string | Buffer,
): { ok: true; command: Command } | { ok: false; error: ImapParseError } {
  let bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.at(-1) !== 0x0a) bytes = Buffer.concat([bytes, Buffer.from('\r\n')]);
  const commands = readEvents(bytes).filter((event) => event.kind !== 'continuation');
  assert.equal(commands.length, 1, `expected one framed command, got ${JSON.stringify(commands)}`);
  const event = commands[0]!;
  if (event.kind === 'error') return { ok: false, error: event.error };
  assert.equal(event.kind, 'command');
  if (event.kind !== 'command') throw new Error('unreachable');
  return parseCommand(event.command);
}

/** Parses and asserts success. */
export function parseOk(input: string | Buffer): Command {
  const result = parseText(input);
  if (!result.ok) assert.fail(`parse failed for ${JSON.stringify(String(input))}: ${result.error.message}`);
  return result.command;
}

/** Parses and asserts a non-fatal syntax-class failure; returns the error. */
export function parseFails(input: string | Buffer): ImapParseError {
  const result = parseText(input);
  if (result.ok) assert.fail(`expected a parse error for ${JSON.stringify(String(input))}`);
  return result.error;
}
