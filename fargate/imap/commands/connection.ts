/**
 * Commands about the connection itself: CAPABILITY, NOOP, LOGOUT (RFC 9051 §6.1), STARTTLS (§6.2.1),
 * ID (RFC 2971), ENABLE (RFC 5161), COMPRESS (RFC 4978).
 */
import { ENABLEABLE, type Enableable } from '../capabilities.ts';
import { answered, bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_LOGGED_ID_BYTES } from '../limits.ts';
import {
  capabilityResponse,
  enabledResponse,
  idResponse,
  taggedResponse,
  untaggedStatus,
} from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';

export async function runCapability(session: ImapSession): Promise<Completion> {
  session.send(capabilityResponse(session.capabilityList()));
  return ok('CAPABILITY completed');
}

/** NOOP does nothing itself; the dispatcher announces mailbox changes after it (RFC 9051 §6.1.2). */
export async function runNoop(): Promise<Completion> {
  return ok('NOOP completed');
}

export async function runLogout(session: ImapSession, command: CommandOf<'LOGOUT'>): Promise<Completion> {
  session.send(untaggedStatus('BYE', 'Logging out'));
  session.send(taggedResponse(command.tag, 'OK', 'LOGOUT completed'));
  await session.close();
  return answered();
}

export async function runId(session: ImapSession, command: CommandOf<'ID'>): Promise<Completion> {
  if (command.parameters) {
    const client = JSON.stringify(command.parameters).slice(0, MAX_LOGGED_ID_BYTES);
    session.logger.info('client id', { client });
  }
  session.send(idResponse([{ field: 'name', value: 'Marmot Mail' }]));
  return ok('ID completed');
}

export async function runEnable(session: ImapSession, command: CommandOf<'ENABLE'>): Promise<Completion> {
  const newlyEnabled: Enableable[] = [];
  for (const requested of command.capabilities) {
    // The parser upper-cases keywords; ENABLED names them as CAPABILITY spells them.
    const known = ENABLEABLE.find((capability) => capability.toUpperCase() === requested);
    // RFC 5161 §3.1: unknown capabilities are ignored; ENABLED lists only what this command turned on.
    if (!known || session.enabled.has(known)) continue;
    session.enabled.add(known);
    newlyEnabled.push(known);
    // RFC 7162 §3.2.3: enabling QRESYNC implies CONDSTORE.
    if (known === 'QRESYNC' && !session.enabled.has('CONDSTORE')) {
      session.enabled.add('CONDSTORE');
      newlyEnabled.push('CONDSTORE');
    }
  }
  session.send(enabledResponse(newlyEnabled));
  return ok('ENABLE completed');
}

export async function runStartTls(session: ImapSession, command: CommandOf<'STARTTLS'>): Promise<Completion> {
  if (session.transport.secure) return bad('TLS is already active');
  // RFC 9051 §6.2.1 / CVE-2011-0411: nothing the client sent before the handshake may be read after it.
  const pipelined = session.takeUnreadInput();
  if (pipelined.length > 0) {
    session.logger.warn('input after STARTTLS dropped', { bytes: pipelined.length });
  }
  session.send(taggedResponse(command.tag, 'OK', 'Begin TLS negotiation now'));
  try {
    await session.transport.startTls(session.server.secureContext);
  } catch (error) {
    session.logger.info('TLS handshake failed', { error });
    session.transport.destroy();
  }
  return answered();
}

export async function runCompress(session: ImapSession, command: CommandOf<'COMPRESS'>): Promise<Completion> {
  if (command.mechanism !== 'DEFLATE') return bad(`Unknown compression mechanism ${command.mechanism}`);
  // RFC 4978 §3: a second COMPRESS is refused with [COMPRESSIONACTIVE].
  if (session.transport.compressed) return no('Compression is already active', { name: 'COMPRESSIONACTIVE' });
  session.send(taggedResponse(command.tag, 'OK', 'DEFLATE active'));
  // Bytes after the command were already compressed by the client (it waits for OK, but may not).
  await session.transport.startCompression(session.takeUnreadInput());
  return answered();
}
