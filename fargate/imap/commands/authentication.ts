/**
 * LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2, with RFC 4959 SASL-IR), both through the shared
 * SASL module (LOGIN as PLAIN with the given name and password), so every way in takes the same checks:
 * throttling, the per-domain legacy switch, the decoy for unknown users, the admin rule for acting as
 * another user. Challenges go out as `+ <base64>`; success data (SCRAM's `v=`, DIGEST-MD5's `rspauth=`)
 * as one more challenge, since the tagged OK cannot carry it.
 *
 * SECURITY: LOGIN, PLAIN and LOGIN-the-mechanism send the password in clear, so they are refused
 * before TLS (`[PRIVACYREQUIRED]`) unless the listener is trusted-plaintext; the challenge-response
 * mechanisms are allowed before it. Failed attempts are counted per connection and the connection is
 * closed after a few; an account over its session limit gets `[LIMIT]`.
 */

import type { Account } from '../../../shared/directory/directory.ts';
import { createDefaultMailboxes, listMailboxes } from '../../../shared/mailbox/mailboxes.ts';
import { INBOX } from '../../../shared/mailbox/names.ts';
import { runSaslExchange, type SaslLineTransport } from '../../../shared/sasl/exchange.ts';
import type { SaslFailure, SaslOutcome } from '../../../shared/sasl/mechanism.ts';
import { bad, type CommandOf, type Completion, no, ok } from '../completion.ts';
import { MAX_AUTH_FAILURES_PER_CONNECTION } from '../limits.ts';
import { authenticateChallenge, token, untaggedStatus } from '../protocol/response-writer.ts';
import type { ImapSession } from '../session.ts';

const PRIVACY_REQUIRED = no('Authentication requires TLS; use STARTTLS first', { name: 'PRIVACYREQUIRED' });

/** Failures that count towards closing the connection: guesses, garbage, and trying on while refused. */
const COUNTED_FAILURES: ReadonlySet<SaslFailure['kind']> = new Set([
  'bad-credentials',
  'authorization-denied',
  'malformed',
  'throttled',
]);

export async function runLogin(session: ImapSession, command: CommandOf<'LOGIN'>): Promise<Completion> {
  if (!session.authenticationAllowed) return PRIVACY_REQUIRED;
  const mechanism = session.server.sasl.start('PLAIN', session.saslConnection())!;
  const result = await mechanism.step(Buffer.from(`\0${command.username}\0${command.password}`, 'utf8'));
  return 'challenge' in result ? bad('Unexpected authentication challenge') : finish(session, result);
}

export async function runAuthenticate(session: ImapSession, command: CommandOf<'AUTHENTICATE'>): Promise<Completion> {
  const mechanism = session.server.sasl.start(command.mechanism, session.saslConnection());
  if (!mechanism) return no(`Unsupported authentication mechanism ${command.mechanism}`);
  const transport: SaslLineTransport = {
    async challenge(base64) {
      session.send(authenticateChallenge(Buffer.from(base64, 'base64')));
      await session.flush();
      try {
        return (await session.readLine()).toString('latin1');
      } catch {
        // The connection closed, or the line broke a limit (the session has answered that already).
        return undefined;
      }
    },
  };
  return finish(session, await runSaslExchange(mechanism, command.initialResponse, transport));
}

async function finish(session: ImapSession, outcome: SaslOutcome): Promise<Completion> {
  if ('success' in outcome) {
    const account = await session.server.directory.getAccount(outcome.success.authzid);
    if (!account) return no('Invalid credentials', { name: 'AUTHENTICATIONFAILED' });
    return logIn(session, account);
  }
  const { failure } = outcome;
  const fields = { kind: failure.kind, detail: failure.detail, login: failure.authcid };
  if (failure.kind === 'unavailable')
    session.logger.error('authentication unavailable', { ...fields, error: failure.cause });
  else session.logger.info('authentication failed', fields);
  if (COUNTED_FAILURES.has(failure.kind)) {
    session.authFailures++;
    if (session.authFailures >= MAX_AUTH_FAILURES_PER_CONNECTION) {
      session.send(untaggedStatus('BYE', 'Too many failed authentication attempts'));
      void session.close();
    }
  }
  return failureCompletion(failure);
}

/** RFC 9051 §6.2.2 and RFC 5530 response codes, one per way an exchange can end. */
function failureCompletion(failure: SaslFailure): Completion {
  switch (failure.kind) {
    case 'malformed':
      return bad('Malformed authentication data');
    case 'aborted':
      return bad('Authentication cancelled');
    case 'bad-credentials':
      return no('Invalid credentials', { name: 'AUTHENTICATIONFAILED' });
    case 'authorization-denied':
      return no('Not authorized to act as that user', { name: 'AUTHORIZATIONFAILED' });
    case 'throttled':
    case 'unavailable':
      return no('Authentication is unavailable right now; try again later', { name: 'UNAVAILABLE' });
    case 'mechanism-not-allowed':
      switch (failure.requirement) {
        case 'tls':
          return PRIVACY_REQUIRED;
        case 'channel-binding':
          return no('This mechanism needs TLS channel binding', { name: 'CANNOT' });
        default:
          return no('This mechanism is too weak for this account', { name: 'CANNOT' });
      }
  }
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
