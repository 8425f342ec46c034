/**
 * LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2, with RFC 4959 SASL-IR). Both run one SASL exchange
 * (LOGIN as PLAIN with the given name and password), so every way in takes the same checks.
 *
 * SECURITY: refused before TLS unless the listener is trusted-plaintext (`[PRIVACYREQUIRED]`); failed
 * attempts are counted per connection and the connection is closed after a few; an account over its
 * session limit gets `[LIMIT]`.
 */

import type { Account } from '../../../shared/directory/directory.ts';
import { createDefaultMailboxes, listMailboxes } from '../../../shared/mailbox/mailboxes.ts';
import { INBOX } from '../../../shared/mailbox/names.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_AUTH_FAILURES_PER_CONNECTION } from '../limits.ts';
import { parseAuthenticateResponse } from '../protocol/command-parser.ts';
import { authenticateChallenge, token, untaggedStatus } from '../protocol/response-writer.ts';
import { PlainExchange, type SaslExchange, type SaslStepResult } from '../sasl-plain.ts';
import type { ImapSession } from '../session.ts';

const PRIVACY_REQUIRED = no('Authentication requires TLS; use STARTTLS first', { name: 'PRIVACYREQUIRED' });

export async function runLogin(session: ImapSession, command: CommandOf<'LOGIN'>): Promise<Completion> {
  if (!session.authenticationAllowed) return PRIVACY_REQUIRED;
  const exchange = plainExchange(session);
  const message = Buffer.from(`\0${command.username}\0${command.password}`, 'utf8');
  const result = await exchange.step(message);
  return 'challenge' in result ? bad('Unexpected authentication challenge') : finish(session, result);
}

export async function runAuthenticate(session: ImapSession, command: CommandOf<'AUTHENTICATE'>): Promise<Completion> {
  if (!session.authenticationAllowed) return PRIVACY_REQUIRED;
  const exchange = createExchange(session, command.mechanism);
  if (!exchange) return no(`Unsupported authentication mechanism ${command.mechanism}`);
  let response = command.initialResponse;
  for (;;) {
    const result = await exchange.step(response);
    if (!('challenge' in result)) return finish(session, result);
    session.send(authenticateChallenge(result.challenge));
    await session.flush();
    const line = await session.readLine();
    const parsed = parseAuthenticateResponse(line);
    if (!parsed.ok) return bad(parsed.error.message);
    if (parsed.cancelled) return bad('AUTHENTICATE cancelled');
    response = parsed.data;
  }
}

function createExchange(session: ImapSession, mechanism: string): SaslExchange | undefined {
  return mechanism === 'PLAIN' ? plainExchange(session) : undefined;
}

function plainExchange(session: ImapSession): PlainExchange {
  return new PlainExchange(session.server.directory, {
    limiter: session.server.authThrottle,
    clientAddress: session.remoteAddress,
  });
}

async function finish(
  session: ImapSession,
  result: Exclude<SaslStepResult, { challenge: Buffer }>,
): Promise<Completion> {
  if ('failure' in result) {
    session.logger.info('authentication failed', { reason: result.failure.detail });
    session.authFailures++;
    if (session.authFailures >= MAX_AUTH_FAILURES_PER_CONNECTION) {
      session.send(untaggedStatus('BYE', 'Too many failed authentication attempts'));
      void session.close();
    }
    switch (result.failure.kind) {
      case 'malformed':
        return bad('Malformed authentication data');
      case 'authorization-denied':
        return no('Not authorized to act as that user', { name: 'AUTHORIZATIONFAILED' });
      case 'bad-credentials':
        return no('Invalid credentials', { name: 'AUTHENTICATIONFAILED' });
      case 'throttled':
        return no('Too many failed attempts; try again later', { name: 'UNAVAILABLE' });
    }
  }
  return logIn(session, result.success.account);
}

async function logIn(session: ImapSession, account: Account): Promise<Completion> {
  if (!session.authenticate(account)) {
    return no('Too many sessions for this account', { name: 'LIMIT' });
  }
  await ensureDefaultMailboxes(session, account);
  return ok('Logged in', { name: 'CAPABILITY', args: session.capabilityList().map(token) });
}

/**
 * RFC 6154 special-use folders for new accounts: created on the first login that finds nothing but
 * INBOX (the mailbox layer makes them idempotently; a user who deleted them all gets them back, as
 * Dovecot's auto-created folders behave).
 */
async function ensureDefaultMailboxes(session: ImapSession, account: Account): Promise<void> {
  const mailboxes = await listMailboxes(session.server.mail, account.id);
  if (mailboxes.every((mailbox) => mailbox.name === INBOX))
    await createDefaultMailboxes(session.server.mail, account.id);
}
