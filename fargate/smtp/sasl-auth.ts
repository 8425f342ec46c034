/**
 * SMTP AUTH (RFC 4954) on smtp-server through the shared SASL module, for every mechanism it
 * implements (shared/sasl), with SASL-IR, `334` challenges, and success data (SCRAM's `v=`,
 * DIGEST-MD5's `rspauth=`) sent as one more challenge.
 *
 * smtp-server implements PLAIN, LOGIN and CRAM-MD5 itself (its CRAM-MD5 needs the plaintext password)
 * and builds its EHLO AUTH line from one list per server. Two of its seams are used, for the servers
 * given to `enableSaslAuth` only (others behave exactly as before):
 * - AUTH: its handler looks the mechanism up in its `sasl` module as `SASL_<NAME>`. Every name we
 *   implement is installed there, replacing its own PLAIN, LOGIN and CRAM-MD5, and runs our mechanism.
 *   The server's `authMethods` lists them all, so its handler lets each through to ours, which decides
 *   per connection; `allowInsecureAuth` is on, so its blanket "538 STARTTLS first" does not hide the
 *   mechanisms that never expose the password: PLAIN and LOGIN get 538 5.7.11 before TLS from us.
 * - EHLO: its AUTH line lists `options.authMethods`, read while EHLO runs, synchronously; during one
 *   connection's EHLO the list is that connection's (TLS, channel binding, legacy switch).
 *
 * SECURITY: every AUTH line is client input: the exchange (shared/sasl/exchange.ts) bounds and
 * decodes it strictly. Nothing is logged from it but the mechanism's failure detail and the names.
 */
import type { TLSSocket } from 'node:tls';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import smtpServerSasl from 'smtp-server/lib/sasl.js';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { channelBindingsOf } from '../../shared/sasl/channel-binding.ts';
import { runSaslExchange, type SaslLineTransport } from '../../shared/sasl/exchange.ts';
import {
  SASL_MECHANISM_NAMES,
  type SaslFailure,
  type SaslIdentity,
  type SaslMechanismName,
} from '../../shared/sasl/mechanism.ts';
import type { SaslConnection, SaslServer } from '../../shared/sasl/sasl-server.ts';
import { replies, type SmtpReply } from './replies.ts';

export interface SmtpSaslBinding {
  sasl: SaslServer;
  /**
   * Called after a successful exchange: the value smtp-server keeps as `session.user`, or a reply
   * refusing the session (an account that may not submit).
   */
  authenticated(identity: SaslIdentity, session: SMTPServerSession): Promise<{ user: unknown } | SmtpReply>;
  /**
   * Called after a failed exchange (logging, counting failures per connection). A reply returned
   * replaces the default one; a 421 reply also closes the connection.
   */
  failed(failure: SaslFailure, session: SMTPServerSession): SmtpReply | undefined;
}

const bindings = new WeakMap<SMTPServer, SmtpSaslBinding>();

/**
 * Makes every AUTH on this server go through the shared SASL module. Call before the server accepts
 * connections; its options must not set `authMethods` or `allowInsecureAuth` themselves.
 */
export function enableSaslAuth(server: SMTPServer, binding: SmtpSaslBinding): void {
  installSeams();
  bindings.set(server, binding);
  server.options.authMethods = [...SASL_MECHANISM_NAMES];
  server.options.allowInsecureAuth = true;
}

let installed = false;

function installSeams(): void {
  if (installed) return;
  installed = true;
  const mechanisms = smtpServerSasl as unknown as Record<string, (this: SMTPConnection, ...args: never[]) => void>;
  for (const name of SASL_MECHANISM_NAMES) {
    const key = `SASL_${name}`;
    const builtIn = mechanisms[key] as ((this: SMTPConnection, args: string[], done: () => void) => void) | undefined;
    mechanisms[key] = function saslAuth(this: SMTPConnection, args: string[], done: () => void): void {
      const binding = bindings.get(this._server);
      if (binding) {
        authenticate(this, binding, name, args, done);
      } else if (builtIn) {
        builtIn.call(this, args, done);
      } else {
        send(this, replies.unrecognizedMechanism());
        done();
      }
    };
  }
  const ehlo = SMTPConnection.prototype.handler_EHLO;
  SMTPConnection.prototype.handler_EHLO = function ehloWithConnectionMechanisms(command, done) {
    const binding = bindings.get(this._server);
    if (!binding) {
      ehlo.call(this, command, done);
      return;
    }
    const options = this._server.options;
    const every = options.authMethods;
    options.authMethods = binding.sasl.mechanisms(saslConnectionOf(this));
    try {
      ehlo.call(this, command, done);
    } finally {
      options.authMethods = every;
    }
  };
}

function saslConnectionOf(connection: SMTPConnection): SaslConnection {
  return {
    service: 'smtp',
    tls: connection.secure,
    channelBindings: connection.secure ? channelBindingsOf(connection._socket as TLSSocket) : undefined,
    clientAddress: connection.session.remoteAddress,
  };
}

function send(connection: SMTPConnection, reply: SmtpReply): void {
  connection.send(reply.responseCode, reply.message, false);
}

/** The reply for a mechanism this connection may not use (RFC 4954 §6). */
function notAllowed(failure: SaslFailure): SmtpReply {
  switch (failure.requirement) {
    case 'tls':
      return replies.encryptionRequired();
    case 'domain-policy':
    case 'ntlmv2':
      return replies.mechanismTooWeak();
    default:
      return replies.unrecognizedMechanism();
  }
}

function failureReply(failure: SaslFailure): SmtpReply {
  switch (failure.kind) {
    case 'bad-credentials':
    case 'authorization-denied':
      return replies.authenticationFailed();
    case 'malformed':
      return replies.authenticationMalformed();
    case 'aborted':
      return replies.authenticationAborted();
    case 'mechanism-not-allowed':
      return notAllowed(failure);
    case 'throttled':
    case 'unavailable':
      return replies.authenticationUnavailable();
  }
}

/**
 * Runs one exchange. smtp-server reads the next line only once `done` is called, so each challenge
 * hands it the current line's `done` after sending, and the final reply the last one's.
 */
function authenticate(
  connection: SMTPConnection,
  binding: SmtpSaslBinding,
  name: SaslMechanismName,
  args: string[],
  done: () => void,
): void {
  if (args.length > 1) {
    send(connection, replies.authenticationSyntax());
    done();
    return;
  }
  // Not only the advertised names: the mechanism itself refuses what this connection may not use
  // (PLAIN before TLS, -PLUS without channel binding, a legacy one for a domain that has them off),
  // while a legacy one a domain allowed since the advertisement was cached works at once.
  const saslConnection = saslConnectionOf(connection);
  let resume: (() => void) | undefined = done;
  const proceed = () => {
    const next = resume;
    resume = undefined;
    next?.();
  };
  const transport: SaslLineTransport = {
    challenge(base64) {
      return new Promise((resolve) => {
        const socket = connection._socket;
        const closed = () => resolve(undefined);
        socket.once('close', closed);
        connection._nextHandler = (line, lineDone) => {
          socket.off('close', closed);
          resume = lineDone;
          resolve(line.toString());
        };
        connection.send(334, base64, false);
        proceed();
      });
    },
  };
  const mechanism = binding.sasl.start(name, saslConnection)!;
  void runSaslExchange(mechanism, args[0], transport)
    .then(async (outcome) => {
      if (connection._closed) return;
      if ('success' in outcome) {
        const verdict = await binding.authenticated(outcome.success, connection.session);
        if (!('user' in verdict)) {
          send(connection, verdict);
          return;
        }
        connection.session.user = verdict.user;
        connection.session.transmissionType = connection._transmissionType();
        send(connection, replies.authenticationSucceeded());
        return;
      }
      const reply = binding.failed(outcome.failure, connection.session) ?? failureReply(outcome.failure);
      send(connection, reply);
      if (reply.responseCode === 421) connection.close();
    })
    .catch((cause: unknown) => {
      // Only `authenticated` can throw (a store error): the exchange itself ends in a value.
      binding.failed({ kind: 'unavailable', detail: 'completing the login failed', cause }, connection.session);
      if (!connection._closed) send(connection, replies.authenticationUnavailable());
    })
    .finally(proceed);
}
