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

export interface SmtpAuthReply {
  code: number;
  enhanced: string;
  text: string;
}

export interface SmtpSaslBinding {
  sasl: SaslServer;
  /**
   * Called after a successful exchange: the value smtp-server keeps as `session.user`, or a reply
   * refusing the session (an account that may not submit).
   */
  authenticated(identity: SaslIdentity, session: SMTPServerSession): Promise<{ user: unknown } | SmtpAuthReply>;
  /**
   * Called after a failed exchange (logging, counting failures per connection). A reply returned
   * replaces the default one; a 421 reply also closes the connection.
   */
  failed(failure: SaslFailure, session: SMTPServerSession): SmtpAuthReply | undefined;
}

/** RFC 4954 §6 and RFC 5248: one reply per way an exchange can end. */
export const smtpAuthReplies = {
  success: { code: 235, enhanced: '2.7.0', text: 'Authentication successful' },
  badCredentials: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  malformed: { code: 501, enhanced: '5.5.2', text: 'Cannot decode the authentication response' },
  aborted: { code: 501, enhanced: '5.7.0', text: 'Authentication aborted' },
  syntax: { code: 501, enhanced: '5.5.4', text: 'Syntax: AUTH mechanism [initial-response]' },
  encryptionRequired: { code: 538, enhanced: '5.7.11', text: 'Encryption required for this authentication mechanism' },
  tooWeak: { code: 534, enhanced: '5.7.9', text: 'Authentication mechanism is too weak for this account' },
  unrecognized: { code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type' },
  temporaryFailure: { code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure; try again later' },
} as const satisfies Record<string, SmtpAuthReply>;

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
        send(this, smtpAuthReplies.unrecognized);
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

function send(connection: SMTPConnection, reply: SmtpAuthReply): void {
  connection.send(reply.code, `${reply.enhanced} ${reply.text}`, false);
}

/** The reply for a mechanism this connection may not use (RFC 4954 §6). */
function notAllowed(failure: SaslFailure): SmtpAuthReply {
  switch (failure.requirement) {
    case 'tls':
      return smtpAuthReplies.encryptionRequired;
    case 'domain-policy':
    case 'ntlmv2':
      return smtpAuthReplies.tooWeak;
    default:
      return smtpAuthReplies.unrecognized;
  }
}

function failureReply(failure: SaslFailure): SmtpAuthReply {
  switch (failure.kind) {
    case 'bad-credentials':
    case 'authorization-denied':
      return smtpAuthReplies.badCredentials;
    case 'malformed':
      return smtpAuthReplies.malformed;
    case 'aborted':
      return smtpAuthReplies.aborted;
    case 'mechanism-not-allowed':
      return notAllowed(failure);
    case 'throttled':
    case 'unavailable':
      return smtpAuthReplies.temporaryFailure;
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
    send(connection, smtpAuthReplies.syntax);
    done();
    return;
  }
  const saslConnection = saslConnectionOf(connection);
  if (!binding.sasl.mechanisms(saslConnection).includes(name)) {
    const needsTls = !saslConnection.tls && binding.sasl.mechanisms({ tls: true }).includes(name);
    send(connection, needsTls ? smtpAuthReplies.encryptionRequired : smtpAuthReplies.unrecognized);
    done();
    return;
  }
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
        send(connection, smtpAuthReplies.success);
        return;
      }
      const reply = binding.failed(outcome.failure, connection.session) ?? failureReply(outcome.failure);
      send(connection, reply);
      if (reply.code === 421) connection.close();
    })
    .catch(() => {
      if (!connection._closed) send(connection, smtpAuthReplies.temporaryFailure);
    })
    .finally(proceed);
}
