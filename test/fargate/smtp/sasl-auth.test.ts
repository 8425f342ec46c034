/**
 * SMTP AUTH through the shared SASL module on smtp-server (fargate/smtp/sasl-auth.ts), on a bare
 * smtp-server with the real directory (SQLite), key vault and mechanisms, driven by real clients:
 * Cyrus `smtptest` (cyrus-clients, libsasl2-modules), swaks (with libauthen-sasl-perl,
 * libauthen-ntlm-perl, libio-socket-ssl-perl), curl and nodemailer, plus a raw client for the exact
 * replies. Each client group is skipped, saying so, when its program is missing.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createTransport } from 'nodemailer';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { enableSaslAuth } from '../../../fargate/smtp/sasl-auth.ts';
import { Directory } from '../../../shared/directory/directory.ts';
import { LocalKeyVault } from '../../../shared/keyvault/local-key-vault.ts';
import { AuthThrottle } from '../../../shared/sasl/auth-throttle.ts';
import type { SaslFailure, SaslIdentity } from '../../../shared/sasl/mechanism.ts';
import { SaslServer } from '../../../shared/sasl/sasl-server.ts';
import { SqliteMetadataStore } from '../../../shared/store/sqlite/sqlite-metadata-store.ts';
import { commandExists, cyrusClientInstalled, runClient, swaksMissing } from '../../support/real-clients.ts';
import { scramClientFinal, scramClientFirst } from '../../support/scram-client.ts';
import { RawSmtp, type Reply } from './raw-smtp.ts';

const USER = 'alice@example.com';
const STRICT_USER = 'sam@strict.example';
const PASSWORD = 'correct horse battery';
const SMTPTEST = '/usr/lib/cyrus/bin/smtptest';
const CLIENT_TIMEOUT_MS = 10_000;
const hasSmtptest = cyrusClientInstalled(SMTPTEST);
const LENIENT = { freeFailures: 1000, baseDelayMs: 1, maxDelayMs: 1, refuseAt: 10_000, refusalMs: 1, halfLifeMs: 1000 };

const runLocalClient = (command: string, args: string[], stdin = '') =>
  runClient(command, args, stdin, CLIENT_TIMEOUT_MS);

const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Raw clients still open; closed after each test, so a failed assertion leaves no connection behind. */
const openClients = new Set<RawSmtp>();

async function rawClient(port: number, tls = false): Promise<RawSmtp> {
  const client = await RawSmtp.open(port, { tls });
  openClients.add(client);
  await client.read();
  return client;
}

/** Sends a command line; its reply, which the test expects to come. */
async function send(client: RawSmtp, line: string): Promise<Reply> {
  const reply = await client.command(line);
  assert.ok(reply, `no reply to ${line.slice(0, 40)}`);
  return reply;
}

const authLine = (reply: Reply) =>
  reply.lines
    .find((line) => /^250[- ]AUTH /.test(line))
    ?.slice(9)
    .split(' ') ?? [];

interface Listener {
  server: SMTPServer;
  port: number;
  identities: SaslIdentity[];
  failures: SaslFailure[];
}

describe('SMTP AUTH through the SASL module', () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let starttls: Listener;
  let implicitTls: Listener;
  let strict: Listener;

  async function listen(sasl: SaslServer, options: { secure: boolean; key: string; cert: string }): Promise<Listener> {
    const identities: SaslIdentity[] = [];
    const failures: SaslFailure[] = [];
    const server = new SMTPServer({
      ...options,
      name: 'localhost',
      authOptional: true,
      logger: false,
      onData: (stream, _session, callback) => {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    enableSaslAuth(server, {
      sasl,
      async authenticated(identity) {
        identities.push(identity);
        return { user: identity.authzid };
      },
      failed(failure) {
        failures.push(failure);
        return undefined;
      },
    });
    server.listen(0, '127.0.0.1');
    await once(server.server, 'listening');
    return { server, port: (server.server.address() as AddressInfo).port, identities, failures };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marmot-smtp-auth-'));
    store = new SqliteMetadataStore(join(dir, 'metadata.sqlite'));
    const vault = await LocalKeyVault.open(dir);
    const directory = new Directory(store, { keyVault: vault });
    await directory.addDomain('example.com');
    await directory.addDomain('strict.example', { legacySaslMechanisms: false });
    await directory.addAccount(USER, { password: PASSWORD });
    await directory.addAccount(STRICT_USER, { password: PASSWORD });
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { algorithm: 'sha256' });
    const tls = { key: pems.private, cert: pems.cert };
    const saslOptions = { directory, vault, hostname: 'localhost', alternateHostnames: ['127.0.0.1'] };
    const lenient = await SaslServer.open({
      ...saslOptions,
      throttle: new AuthThrottle({ address: LENIENT, account: LENIENT }),
    });
    starttls = await listen(lenient, { secure: false, ...tls });
    implicitTls = await listen(lenient, { secure: true, ...tls });
    const refusing = await SaslServer.open({
      ...saslOptions,
      throttle: new AuthThrottle({
        address: {
          freeFailures: 0,
          baseDelayMs: 1,
          maxDelayMs: 1,
          refuseAt: 2,
          refusalMs: 60_000,
          halfLifeMs: 600_000,
        },
      }),
    });
    strict = await listen(refusing, { secure: false, ...tls });
  });

  after(async () => {
    await Promise.all(
      [starttls, implicitTls, strict].map((l) => l && new Promise<void>((resolve) => l.server.close(() => resolve()))),
    );
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    for (const client of openClients) client.close();
    openClients.clear();
  });

  const lastFailure = (listener: Listener) => listener.failures.at(-1)?.kind;

  describe('raw protocol', () => {
    it('EHLO offers no PLAIN or LOGIN before TLS, and them and -PLUS after STARTTLS', async () => {
      const client = await rawClient(starttls.port);
      assert.deepEqual(authLine(await send(client, 'EHLO client.example')), [
        'SCRAM-SHA-256',
        'SCRAM-SHA-1',
        'DIGEST-MD5',
        'CRAM-MD5',
        'NTLM',
      ]);
      assert.equal((await client.startTls())?.code, 220);
      assert.deepEqual(authLine(await send(client, 'EHLO client.example')), [
        'SCRAM-SHA-256-PLUS',
        'SCRAM-SHA-1-PLUS',
        'SCRAM-SHA-256',
        'SCRAM-SHA-1',
        'DIGEST-MD5',
        'CRAM-MD5',
        'NTLM',
        'PLAIN',
        'LOGIN',
      ]);
    });

    it('answers every way an exchange can end with its own reply', async () => {
      const client = await rawClient(starttls.port);
      await send(client, 'EHLO client.example');
      const expect = async (line: string, code: number, enhanced: string) => {
        const reply = await send(client, line);
        assert.equal(`${reply.code} ${reply.text.slice(0, enhanced.length)}`, `${code} ${enhanced}`, line);
      };
      await expect(`AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`, 538, '5.7.11');
      await expect('AUTH LOGIN', 538, '5.7.11');
      await expect('AUTH SCRAM-SHA-256-PLUS', 504, '5.5.4');
      // A name we do not implement never reaches us: smtp-server answers it, without an enhanced code.
      assert.equal((await send(client, 'AUTH GSSAPI')).code, 504);
      await expect('AUTH CRAM-MD5 one two', 501, '5.5.4');
      await expect('AUTH SCRAM-SHA-256 not-base64!', 501, '5.5.2');
      await expect(`AUTH SCRAM-SHA-256 ${'A'.repeat(12_000)}`, 501, '5.5.2');
      await expect('AUTH CRAM-MD5', 334, '');
      await expect('*', 501, '5.7.0');
      await expect('AUTH CRAM-MD5', 334, '');
      await expect('@@@@', 501, '5.5.2');
      await expect('AUTH CRAM-MD5', 334, '');
      await expect(b64(`${STRICT_USER} 00112233445566778899aabbccddeeff`), 534, '5.7.9');
      await expect('AUTH CRAM-MD5', 334, '');
      await expect(b64(`nobody@example.com 00112233445566778899aabbccddeeff`), 535, '5.7.8');
      assert.equal(lastFailure(starttls), 'bad-credentials');
    });

    it('SCRAM-SHA-256-PLUS with tls-exporter on implicit TLS: the signature as a last challenge, then 235', async () => {
      const client = await rawClient(implicitTls.port, true);
      assert.ok(authLine(await send(client, 'EHLO client.example')).includes('SCRAM-SHA-256-PLUS'));
      const bindings = client.tlsSocket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
      const first = scramClientFirst(USER, 'p=tls-exporter');
      const serverFirst = await send(client, `AUTH SCRAM-SHA-256-PLUS ${b64(first.message)}`);
      assert.equal(serverFirst.code, 334);
      const final = scramClientFinal(first, Buffer.from(serverFirst.text, 'base64').toString(), PASSWORD, bindings);
      const signature = await send(client, b64(final.message));
      assert.equal(signature.code, 334);
      assert.equal(Buffer.from(signature.text, 'base64').toString(), final.expectedServerFinal);
      const done = await send(client, '');
      assert.equal(`${done.code} ${done.text}`, '235 2.7.0 Authentication successful');
      assert.deepEqual(implicitTls.identities.at(-1), { authcid: USER, authzid: USER });
      assert.equal((await send(client, 'AUTH CRAM-MD5')).code, 503, 'no second AUTH');
    });

    it('SCRAM with the wrong channel binding, or a non-empty answer to the signature, fails', async () => {
      const client = await rawClient(implicitTls.port, true);
      await send(client, 'EHLO client.example');
      const first = scramClientFirst(USER, 'p=tls-exporter');
      const serverFirst = await send(client, `AUTH SCRAM-SHA-256-PLUS ${b64(first.message)}`);
      const final = scramClientFinal(
        first,
        Buffer.from(serverFirst.text, 'base64').toString(),
        PASSWORD,
        Buffer.alloc(32),
      );
      assert.equal((await send(client, b64(final.message))).code, 535);

      const again = scramClientFirst(USER, 'n');
      const secondFirst = await send(client, `AUTH SCRAM-SHA-1 ${b64(again.message)}`);
      const good = scramClientFinal(
        again,
        Buffer.from(secondFirst.text, 'base64').toString(),
        PASSWORD,
        undefined,
        'sha1',
      );
      assert.equal((await send(client, b64(good.message))).code, 334);
      const refused = await send(client, b64('unexpected'));
      assert.equal(`${refused.code} ${refused.text.slice(0, 5)}`, '501 5.5.2');
    });

    it('throttled: a temporary failure, even with the right password, after repeated failures', async () => {
      const client = await rawClient(strict.port);
      await send(client, 'EHLO client.example');
      for (let i = 0; i < 3; i++) {
        await send(client, 'AUTH CRAM-MD5');
        await send(client, b64(`${USER} 00112233445566778899aabbccddeeff`));
      }
      const first = scramClientFirst(USER, 'n');
      const refused = await send(client, `AUTH SCRAM-SHA-256 ${b64(first.message)}`);
      assert.equal(`${refused.code} ${refused.text.slice(0, 5)}`, '454 4.7.0');
      assert.equal(lastFailure(strict), 'throttled');
    });
  });

  describe('Cyrus SASL (smtptest)', { skip: !hasSmtptest && 'cyrus-clients / libsasl2-modules not installed' }, () => {
    const smtptest = (mechanism: string, extra: string[] = [], password = PASSWORD) =>
      runLocalClient(
        SMTPTEST,
        ['-m', mechanism, '-a', USER, '-w', password, '-p', String(starttls.port), ...extra, '127.0.0.1'],
        'QUIT\r\n',
      );

    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'DIGEST-MD5', 'CRAM-MD5']) {
      it(`${mechanism} without TLS: logs in; a wrong password gets 535`, async () => {
        const ok = await smtptest(mechanism);
        assert.match(ok.output, /^Authenticated\./m, ok.output);
        assert.deepEqual(starttls.identities.at(-1), { authcid: USER, authzid: USER });
        const wrong = await smtptest(mechanism, [], 'not the password');
        assert.match(wrong.output, /^S: 535 5\.7\.8/m, wrong.output);
      });
    }

    it('SCRAM-SHA-256 after STARTTLS', async () => {
      const ok = await smtptest('SCRAM-SHA-256', ['-t', '']);
      assert.match(ok.output, /^Authenticated\./m, ok.output);
    });
  });

  describe('swaks', { skip: swaksMissing() }, () => {
    const swaks = (mechanism: string, extra: string[] = [], password = PASSWORD, user = USER) =>
      runLocalClient('swaks', [
        '--server',
        `127.0.0.1:${starttls.port}`,
        '--auth',
        mechanism,
        '--auth-user',
        user,
        '--auth-password',
        password,
        '--quit-after',
        'AUTH',
        ...extra,
      ]);

    for (const [mechanism, extra] of [
      ['CRAM-MD5', []],
      ['DIGEST-MD5', []],
      ['PLAIN', ['-tls']],
      ['LOGIN', ['-tls']],
    ] as const) {
      it(`${mechanism}${extra.length ? ' after STARTTLS' : ''}: logs in; wrong password and unknown user get 535`, async () => {
        const ok = await swaks(mechanism, [...extra]);
        assert.match(ok.output, /^<[-~]+ +235 2\.7\.0/m, ok.output);
        const wrong = await swaks(mechanism, [...extra], 'not the password');
        assert.match(wrong.output, /^<[-~*]+ +535 5\.7\.8/m, wrong.output);
        const unknown = await swaks(mechanism, [...extra], PASSWORD, 'nobody@example.com');
        assert.match(unknown.output, /^<[-~*]+ +535 5\.7\.8/m, unknown.output);
      });
    }

    it('NTLM: swaks (Authen::NTLM) answers with NTLMv1, refused as too weak', async () => {
      const result = await swaks('NTLM');
      assert.match(result.output, /534 5\.7\.9/, result.output);
    });

    it('CRAM-MD5 in a domain whose legacy mechanisms are off: 534', async () => {
      const result = await swaks('CRAM-MD5', [], PASSWORD, STRICT_USER);
      assert.match(result.output, /534 5\.7\.9/, result.output);
    });
  });

  describe('curl', { skip: !commandExists('curl') && 'curl not installed' }, () => {
    const curl = (mechanism: string, password = PASSWORD, extra: string[] = []) =>
      runLocalClient('curl', [
        '-sS',
        `smtp://127.0.0.1:${starttls.port}`,
        '-u',
        `${USER}:${password}`,
        '--login-options',
        `AUTH=${mechanism}`,
        '-X',
        'NOOP',
        ...extra,
      ]);

    for (const [mechanism, extra] of [
      ['NTLM', []],
      ['DIGEST-MD5', []],
      ['CRAM-MD5', []],
      ['PLAIN', ['--ssl-reqd', '-k']],
      ['LOGIN', ['--ssl-reqd', '-k']],
    ] as const) {
      it(`${mechanism}${extra.length ? ' after STARTTLS' : ''}: logs in (NTLM as NTLMv2); a wrong password is refused`, async () => {
        const ok = await curl(mechanism, PASSWORD, [...extra]);
        assert.equal(ok.code, 0, ok.output);
        assert.deepEqual(starttls.identities.at(-1), { authcid: USER, authzid: USER });
        const wrong = await curl(mechanism, 'wrong', [...extra]);
        assert.equal(wrong.code, 67, wrong.output);
        assert.equal(lastFailure(starttls), 'bad-credentials');
      });
    }
  });

  describe('nodemailer', () => {
    for (const [method, secure] of [
      ['PLAIN', true],
      ['LOGIN', true],
      ['CRAM-MD5', false],
    ] as const) {
      it(`${method}${secure ? ' after STARTTLS' : ''}`, async () => {
        const transport = createTransport({
          host: '127.0.0.1',
          port: starttls.port,
          secure: false,
          requireTLS: secure,
          ignoreTLS: !secure,
          tls: { rejectUnauthorized: false },
          auth: { user: USER, pass: PASSWORD, method },
        });
        try {
          assert.equal(await transport.verify(), true);
          const wrong = createTransport({ ...transport.options, auth: { user: USER, pass: 'nope', method } });
          await assert.rejects(wrong.verify(), /535 5\.7\.8/);
        } finally {
          transport.close();
        }
      });
    }
  });
});
