/**
 * Client sides of the SASL mechanisms, computed from the password as a real client does, to drive the
 * server mechanisms against the real directory in tests. (Real client programs drive them end to end
 * in test/e2e.)
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { digestMd5Response, parseDigestDirectives } from '../../../shared/sasl/digest-md5.ts';
import type { SaslMechanism, SaslStepResult } from '../../../shared/sasl/mechanism.ts';
import { scramClientFinal, scramClientFirst } from '../../support/scram-client.ts';

export type ClientMechanism = 'PLAIN' | 'CRAM-MD5' | 'DIGEST-MD5' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
export const CLIENT_MECHANISMS: readonly ClientMechanism[] = [
  'PLAIN',
  'CRAM-MD5',
  'DIGEST-MD5',
  'SCRAM-SHA-1',
  'SCRAM-SHA-256',
];

export interface ClientRun {
  result: SaslStepResult;
  /** SCRAM only: the salt the server sent. */
  salt?: string;
  iterations?: number;
}

/** Runs one exchange as `user` with `password`; the result is the server's last step. */
export async function authenticateAs(
  mechanism: SaslMechanism,
  user: string,
  password: string,
  options: { service?: string; hostname?: string } = {},
): Promise<ClientRun> {
  switch (mechanism.name) {
    case 'PLAIN':
      return { result: await mechanism.step(Buffer.from(`\0${user}\0${password}`)) };
    case 'CRAM-MD5': {
      const first = await mechanism.step(undefined);
      if (!('challenge' in first)) return { result: first };
      const digest = createHmac('md5', password).update(first.challenge).digest('hex');
      return { result: await mechanism.step(Buffer.from(`${user} ${digest}`)) };
    }
    case 'DIGEST-MD5':
      return digestMd5(mechanism, user, password, options);
    case 'SCRAM-SHA-1':
      return scram(mechanism, 'sha1', user, password);
    case 'SCRAM-SHA-256':
      return scram(mechanism, 'sha256', user, password);
    default:
      throw new Error(`no test client for ${mechanism.name}`);
  }
}

async function digestMd5(
  mechanism: SaslMechanism,
  user: string,
  password: string,
  options: { service?: string; hostname?: string },
): Promise<ClientRun> {
  const first = await mechanism.step(undefined);
  if (!('challenge' in first)) return { result: first };
  const parsed = parseDigestDirectives(first.challenge);
  if ('error' in parsed) throw new Error(parsed.error);
  const nonce = parsed.directives.get('nonce')!;
  const realm = user.slice(user.indexOf('@') + 1);
  const cnonce = randomBytes(12).toString('hex');
  const digestUri = `${options.service ?? 'imap'}/${options.hostname ?? 'mail.example.com'}`;
  const secret = createHash('md5').update(`${user}:${realm}:${password}`).digest();
  const response = digestMd5Response(
    {
      secret,
      nonce: Buffer.from(nonce),
      cnonce: Buffer.from(cnonce),
      nc: Buffer.from('00000001'),
      digestUri: Buffer.from(digestUri),
    },
    'AUTHENTICATE',
  );
  const message =
    `charset=utf-8,username="${user}",realm="${realm}",nonce="${nonce}",nc=00000001,` +
    `cnonce="${cnonce}",digest-uri="${digestUri}",response=${response},qop=auth`;
  return { result: await mechanism.step(Buffer.from(message)) };
}

async function scram(
  mechanism: SaslMechanism,
  hash: 'sha1' | 'sha256',
  user: string,
  password: string,
): Promise<ClientRun> {
  const first = scramClientFirst(user, 'n');
  const serverFirst = await mechanism.step(Buffer.from(first.message));
  if (!('challenge' in serverFirst)) return { result: serverFirst };
  const final = scramClientFinal(first, serverFirst.challenge.toString(), password, undefined, hash);
  const result = await mechanism.step(Buffer.from(final.message));
  return { result, salt: final.salt, iterations: final.iterations };
}
