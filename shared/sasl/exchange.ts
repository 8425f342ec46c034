/**
 * One SASL exchange over a line protocol, the part SMTP AUTH (RFC 4954 §4) and IMAP AUTHENTICATE
 * (RFC 9051 §6.2.2, RFC 4959) share: the optional initial response (`=` for an empty one), each
 * challenge sent as base64 and answered by one base64 line, `*` to cancel (RFC 4422 §3.5), and data
 * sent with success (SCRAM's `v=`, DIGEST-MD5's `rspauth=`) sent as one more challenge whose answer
 * must be empty, since neither protocol carries data with its success reply (RFC 4422 §5).
 *
 * The listener owns the framing (`334 `, `+ `) and the line reading (with its line-length limit) and
 * maps the outcome to its replies (the table in mechanism.ts).
 *
 * SECURITY: every line is client input; parseClientResponse bounds and decodes it strictly.
 */
import { parseClientResponse } from './client-response.ts';
import type { SaslMechanism, SaslOutcome } from './mechanism.ts';

export interface SaslLineTransport {
  /**
   * Sends a challenge (base64 text, empty for an empty challenge) and returns the client's answer
   * line without its line ending, or undefined when the connection ended first.
   */
  challenge(base64: string): Promise<string | undefined>;
}

/**
 * `initialResponse`: the command's argument as sent (base64, or `=`), or already decoded where the
 * protocol's own parser decodes it (IMAP); undefined when the command had none.
 */
export async function runSaslExchange(
  mechanism: SaslMechanism,
  initialResponse: string | Buffer | undefined,
  transport: SaslLineTransport,
): Promise<SaslOutcome> {
  let response: Buffer | undefined;
  if (typeof initialResponse === 'string') {
    const parsed = parseClientResponse(initialResponse, { initial: true });
    if ('failure' in parsed) return parsed;
    response = parsed.response;
  } else {
    response = initialResponse;
  }
  for (;;) {
    const result = await mechanism.step(response);
    if ('failure' in result) return result;
    if ('success' in result) {
      if (result.serverFinal === undefined) return result;
      return finalData(result.serverFinal, transport, { success: result.success });
    }
    const next = await answer(transport, result.challenge);
    if ('failure' in next) return next;
    response = next.response;
  }
}

/** The success data as a last challenge; only an empty answer completes the exchange. */
async function finalData(data: Buffer, transport: SaslLineTransport, success: SaslOutcome): Promise<SaslOutcome> {
  const next = await answer(transport, data);
  if ('failure' in next) return next;
  if (next.response.length > 0) {
    return { failure: { kind: 'malformed', detail: 'the answer to the success data must be empty' } };
  }
  return success;
}

async function answer(
  transport: SaslLineTransport,
  challenge: Buffer,
): Promise<{ response: Buffer } | Extract<SaslOutcome, { failure: unknown }>> {
  const line = await transport.challenge(challenge.toString('base64'));
  if (line === undefined) return { failure: { kind: 'aborted', detail: 'the connection ended during the exchange' } };
  return parseClientResponse(line, { initial: false });
}
