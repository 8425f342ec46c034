/**
 * Every reply our SMTP policy and pipeline give, mapped from domain outcomes in one place.
 *
 * smtp-server can only derive enhanced status codes (RFC 3463) from the reply code, which would give
 * wrong ones (554 would always be 5.6.0, while relay denial is 5.7.1), so its automatic codes stay off
 * and ours carry their code in the text, as RFC 2034 §4 shapes them: `554 5.7.1 Relay access denied`.
 */
import type { DeliveryFailure } from '../../shared/delivery/delivery-pipeline.ts';
import type { RejectReason } from '../../shared/delivery/recipient-resolution.ts';
import type { SpoolRefusal } from './message-spool.ts';

/** An error smtp-server turns into a reply: `responseCode` is the code, the message the rest of the line. */
export class SmtpReply extends Error {
  override name = 'SmtpReply';
  constructor(
    readonly responseCode: number,
    readonly enhancedCode: string,
    text: string,
  ) {
    super(`${enhancedCode} ${text}`);
  }
}

export function recipientRejected(reason: RejectReason, address: string): SmtpReply {
  const who = `<${address.replace(/[^\x21-\x7e]|[<>]/g, '_')}>`;
  switch (reason) {
    case 'unknown-recipient':
      return new SmtpReply(550, '5.1.1', `${who}: Recipient address rejected: no such user here`);
    case 'relay-denied':
      return new SmtpReply(554, '5.7.1', `${who}: Relay access denied`);
    case 'relay-syntax':
      return new SmtpReply(554, '5.7.1', `${who}: Relay access denied (% and ! routing is not supported)`);
    case 'quoted-local-part':
      return new SmtpReply(553, '5.1.3', `${who}: Quoted local parts are not accepted`);
    case 'invalid-address':
      return new SmtpReply(553, '5.1.3', `${who}: Bad destination mailbox address syntax`);
    case 'mailbox-full':
      return new SmtpReply(552, '5.2.2', `${who}: Mailbox full`);
    case 'alias-loop':
      return new SmtpReply(550, '5.4.6', `${who}: Alias expansion loop or too many targets`);
  }
}

export function spoolRefused(refusal: SpoolRefusal, maxBytes: number): SmtpReply {
  switch (refusal) {
    case 'too-large':
      return new SmtpReply(552, '5.3.4', `Message exceeds the size limit of ${maxBytes} bytes`);
    case 'bare-line-ending':
      return new SmtpReply(550, '5.5.2', 'Message contains a bare <CR> or <LF>; lines must end with <CR><LF>');
    case 'timed-out':
      return new SmtpReply(421, '4.4.2', 'Message transfer took too long; closing connection');
    case 'client-gone':
      return new SmtpReply(451, '4.4.2', 'Connection lost during the message transfer');
  }
}

export function deliveryFailed(failure: DeliveryFailure): SmtpReply {
  switch (failure.kind) {
    case 'step-failed':
      return new SmtpReply(451, '4.3.0', 'Temporary failure processing the message; try again later');
    case 'rejected':
      return new SmtpReply(554, '5.7.1', `Message refused: ${failure.detail.replace(/[^\x20-\x7e]/g, ' ')}`);
    case 'mailbox-full':
      return new SmtpReply(552, '5.2.2', 'Mailbox full');
    case 'some-mailboxes-full':
      return new SmtpReply(452, '4.2.2', 'Some recipients have full mailboxes; a retry will not duplicate the rest');
    case 'temporary':
      return new SmtpReply(451, '4.3.0', 'Temporary failure storing the message; try again later');
  }
}

export const replies = {
  authenticationRequired: () => new SmtpReply(530, '5.7.0', 'Authentication required'),
  senderNotOwned: (address: string) =>
    new SmtpReply(553, '5.7.1', `<${address.replace(/[^\x21-\x7e]|[<>]/g, '_')}>: Sender address not owned by you`),
  badSender: () => new SmtpReply(553, '5.1.7', 'Bad sender address syntax'),
  tooManyRecipients: (max: number) => new SmtpReply(452, '4.5.3', `Too many recipients (at most ${max} per message)`),
  // AUTH (RFC 4954 §6, RFC 5248); sasl-auth.ts maps each way a SASL exchange ends to one of these.
  authenticationSucceeded: () => new SmtpReply(235, '2.7.0', 'Authentication successful'),
  authenticationFailed: () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid'),
  authenticationMalformed: () => new SmtpReply(501, '5.5.2', 'Cannot decode the authentication response'),
  authenticationAborted: () => new SmtpReply(501, '5.7.0', 'Authentication aborted'),
  authenticationSyntax: () => new SmtpReply(501, '5.5.4', 'Syntax: AUTH mechanism [initial-response]'),
  encryptionRequired: () => new SmtpReply(538, '5.7.11', 'Encryption required for this authentication mechanism'),
  mechanismTooWeak: () => new SmtpReply(534, '5.7.9', 'Authentication mechanism is too weak for this account'),
  unrecognizedMechanism: () => new SmtpReply(504, '5.5.4', 'Unrecognized authentication type'),
  authenticationUnavailable: () => new SmtpReply(454, '4.7.0', 'Temporary authentication failure; try again later'),
  tooManyAuthenticationFailures: () => new SmtpReply(421, '4.7.0', 'Too many failed authentications; closing'),
  tooManyCommands: () => new SmtpReply(421, '4.7.0', 'Too many commands without a message; closing'),
  tooManyConnectionsFromAddress: () => new SmtpReply(421, '4.7.0', 'Too many connections from your address'),
  listenerFull: () => new SmtpReply(421, '4.3.2', 'Too many connections; try again later'),
  noValidRecipients: () => new SmtpReply(554, '5.5.1', 'No valid recipients'),
  temporaryFailure: () => new SmtpReply(451, '4.3.0', 'Temporary failure; try again later'),
  accepted: (id: string) => `2.0.0 Ok: delivered as ${id}`,
};
