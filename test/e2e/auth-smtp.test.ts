/**
 * Authentication on the running system's submission listeners (587 STARTTLS, 465 implicit TLS), end to
 * end with real clients: Cyrus `smtptest` (every Cyrus mechanism, an admin acting as another user),
 * swaks, curl (NTLMv2), nodemailer (and a message it then submits), and a raw client for exact replies
 * (SCRAM-PLUS with both channel-binding types, malformed and oversized responses, AUTH before TLS, the
 * per-connection failure limit). A second system with a low failure limit shows throttling.
 *
 * Clients connect from different loopback addresses where they can choose one, and log in as different
 * accounts: the throttle counts failures per address and per account, and would slow the tests down.
 *
 * Debian packages: cyrus-clients, libsasl2-modules, swaks, libauthen-sasl-perl, libauthen-ntlm-perl,
 * libio-socket-ssl-perl, curl. Each client group is skipped, saying so, when its program is missing.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createTransport } from 'nodemailer';
import { serverEndPoint } from '../../shared/sasl/channel-binding.ts';
import { messagesIn } from '../fargate/smtp/mailbox-contents.ts';
import { RawSmtp, type Reply } from '../fargate/smtp/raw-smtp.ts';
import { AUTH_PASSWORD, seedAuthAccounts } from '../support/auth-accounts.ts';
import { startTestMailSystem, type TestMailSystem } from '../support/mail-system.ts';
import { commandExists, cyrusClientInstalled, runClient, swaksMissing } from '../support/real-clients.ts';
import { scramClientFinal, scramClientFirst } from '../support/scram-client.ts';

const SMTPTEST = '/usr/lib/cyrus/bin/smtptest';
const CLIENT_TIMEOUT_MS = 15_000;
const hasSmtptest = cyrusClientInstalled(SMTPTEST);
/** What the test system calls itself for DIGEST-MD5 digest-uri besides its hostname. */
const ALIASES = '127.0.0.1,localhost';

const runLocalClient = (command: string, args: string[], stdin = '') =>
  runClient(command, args, stdin, CLIENT_TIMEOUT_MS);

const b64 = (text: string) => Buffer.from(text).toString('base64');
const fromBase64 = (text: string) => Buffer.from(text, 'base64').toString();
const status = (reply: Reply | undefined) => `${reply?.code} ${reply?.text.split(' ')[0]}`;

const openClients = new Set<RawSmtp>();

async function raw(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<RawSmtp> {
  const client = await RawSmtp.open(port, options);
  openClients.add(client);
  assert.equal((await client.read())?.code, 220);
  return client;
}

const CLIENT_ACCOUNTS = ['alice', 'cyrus', 'swaks', 'curl', 'mailer', 'raw'];

describe('SMTP submission authentication, end to end', () => {
  let system: TestMailSystem;
  let submission: number;
  let submissionTls: number;

  before(async () => {
    system = await startTestMailSystem({ MARMOT_HOSTNAME_ALIASES: ALIASES });
    submission = system.ports.submission!;
    submissionTls = system.ports['submission-tls']!;
    await seedAuthAccounts(system, CLIENT_ACCOUNTS);
  });
  after(() => system?.stop());
  afterEach(() => {
    for (const client of openClients) client.close();
    openClients.clear();
  });

  describe('raw protocol', () => {
    const from = '127.0.0.5';

    it('advertises the challenge-response mechanisms before STARTTLS and refuses PLAIN/LOGIN there: 538 5.7.11', async () => {
      const client = await raw(submission, { localAddress: from });
      const ehlo = await client.command('EHLO client.example');
      assert.ok(
        ehlo?.lines.includes('250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 DIGEST-MD5 CRAM-MD5 NTLM'),
        ehlo?.lines.join('|'),
      );
      assert.equal(
        status(await client.command(`AUTH PLAIN ${b64(`\0raw@example.com\0${AUTH_PASSWORD}`)}`)),
        '538 5.7.11',
      );
      assert.equal(status(await client.command('AUTH LOGIN')), '538 5.7.11');
      assert.equal(status(await client.command('AUTH SCRAM-SHA-256-PLUS')), '504 5.5.4');
    });

    it('SCRAM-SHA-256-PLUS: tls-exporter on 465, tls-server-end-point after STARTTLS on 587', async () => {
      const implicit = await raw(submissionTls, { tls: true, localAddress: from });
      const starttls = await raw(submission, { localAddress: from });
      await starttls.command('EHLO client.example');
      assert.equal((await starttls.startTls())?.code, 220);
      const certificate = starttls.tlsSocket.getPeerX509Certificate();
      assert.ok(certificate);
      for (const [client, type, data] of [
        [
          implicit,
          'tls-exporter',
          implicit.tlsSocket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
        ],
        [starttls, 'tls-server-end-point', serverEndPoint(certificate)!],
      ] as const) {
        const ehlo = await client.command('EHLO client.example');
        assert.ok(
          ehlo?.lines.some((line) => line.includes('SCRAM-SHA-256-PLUS')),
          ehlo?.lines.join('|'),
        );
        const first = scramClientFirst('raw@example.com', `p=${type}`);
        const challenge = await client.command(`AUTH SCRAM-SHA-256-PLUS ${b64(first.message)}`);
        assert.equal(challenge?.code, 334, type);
        const final = scramClientFinal(first, fromBase64(challenge.text), AUTH_PASSWORD, data);
        const signature = await client.command(b64(final.message));
        assert.equal(`${signature?.code} ${fromBase64(signature?.text ?? '')}`, `334 ${final.expectedServerFinal}`);
        assert.equal(status(await client.command('')), '235 2.7.0', type);
        assert.equal((await client.command('MAIL FROM:<raw@example.com>'))?.code, 250, 'the session is raw@');
      }
    });

    it('malformed, oversized and cancelled responses, and 421 after three failed attempts on one connection', async () => {
      const client = await raw(submissionTls, { tls: true, localAddress: from });
      await client.command('EHLO client.example');
      assert.equal(status(await client.command('AUTH SCRAM-SHA-1 !!!not-base64')), '501 5.5.2');
      assert.equal(status(await client.command(`AUTH SCRAM-SHA-1 ${'QUJD'.repeat(2750)}`)), '501 5.5.2');
      assert.equal((await client.command('AUTH CRAM-MD5'))?.code, 334);
      assert.equal(status(await client.command('*')), '501 5.7.0');
      assert.equal(status(await client.command(`AUTH PLAIN ${b64('\0raw@example.com\0wrong')}`)), '421 4.7.0');
      await client.waitForClose();
    });
  });

  describe('Cyrus SASL (smtptest)', { skip: !hasSmtptest && 'cyrus-clients / libsasl2-modules not installed' }, () => {
    const smtptest = (args: string[], port = submission, stdin = 'QUIT\r\n') =>
      runLocalClient(SMTPTEST, ['-p', String(port), ...args, '127.0.0.1'], stdin);
    const login = (mechanism: string, extra: string[] = [], password = AUTH_PASSWORD) =>
      smtptest(['-m', mechanism, '-a', 'cyrus@example.com', '-w', password, ...extra]);

    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'DIGEST-MD5', 'CRAM-MD5']) {
      it(`${mechanism} before STARTTLS`, async () => {
        const result = await login(mechanism);
        assert.match(result.output, /^Authenticated\./m, result.output);
      });
    }

    it('SCRAM-SHA-256 and PLAIN after STARTTLS, SCRAM-SHA-1 on 465; a wrong password gets 535 5.7.8', async () => {
      for (const [mechanism, extra, port] of [
        ['SCRAM-SHA-256', ['-t', ''], submission],
        ['PLAIN', ['-t', ''], submission],
        ['SCRAM-SHA-1', ['-s'], submissionTls],
      ] as const) {
        const result = await smtptest(
          ['-m', mechanism, '-a', 'cyrus@example.com', '-w', AUTH_PASSWORD, ...extra],
          port,
        );
        assert.match(result.output, /^Authenticated\./m, `${mechanism}: ${result.output}`);
      }
      const wrong = await login('SCRAM-SHA-256', [], 'not the password');
      assert.match(wrong.output, /^S: 535 5\.7\.8/m, wrong.output);
    });

    it('an admin may act as another user and then sends as that user; nobody else may', async () => {
      const commands = join(tmpdir(), `marmot-smtptest-${process.pid}.txt`);
      await writeFile(commands, 'MAIL FROM:<alice@example.com>\r\nQUIT\r\n');
      const asAlice = await smtptest([
        '-m',
        'DIGEST-MD5',
        '-a',
        'boss@example.com',
        '-u',
        'alice@example.com',
        '-w',
        AUTH_PASSWORD,
        '-f',
        commands,
      ]);
      assert.match(asAlice.output, /^Authenticated\./m, asAlice.output);
      assert.match(asAlice.output, /^250 /m, asAlice.output);
      const notAdmin = await smtptest([
        '-m',
        'SCRAM-SHA-256',
        '-a',
        'cyrus@example.com',
        '-u',
        'alice@example.com',
        '-w',
        AUTH_PASSWORD,
      ]);
      assert.match(notAdmin.output, /^S: 535 5\.7\.8/m, notAdmin.output);
    });
  });

  describe('swaks', { skip: swaksMissing() }, () => {
    // Each case from its own address, so the failures of one do not slow the next down (the throttle).
    let address = 0;
    const swaks = (
      mechanism: string,
      options: { extra?: string[]; user?: string; password?: string; port?: number; from?: string } = {},
    ) =>
      runLocalClient('swaks', [
        '--server',
        `127.0.0.1:${options.port ?? submission}`,
        '--local-interface',
        options.from ?? '127.0.3.100',
        '--auth',
        mechanism,
        '--auth-user',
        options.user ?? 'swaks@example.com',
        '--auth-password',
        options.password ?? AUTH_PASSWORD,
        '--quit-after',
        'AUTH',
        ...(options.extra ?? []),
      ]);
    const accepted = /^<[-~]+ +235 2\.7\.0/m;
    const refused = (code: string) => new RegExp(`^<[-~*]+ +${code.replaceAll('.', '\\.')}`, 'm');

    for (const [mechanism, extra, port] of [
      ['CRAM-MD5', [], undefined],
      ['DIGEST-MD5', [], undefined],
      ['PLAIN', ['-tls'], undefined],
      ['LOGIN', ['-tls'], undefined],
      ['PLAIN', ['--tls-on-connect'], 'tls'],
    ] as const) {
      it(`${mechanism}${extra.length ? ` (${extra[0]})` : ''}: logs in; a wrong password and an unknown user get 535 5.7.8`, async () => {
        const target = port ? submissionTls : submission;
        const from = `127.0.3.${++address}`;
        const ok = await swaks(mechanism, { extra: [...extra], port: target, from });
        assert.match(ok.output, accepted, ok.output);
        const wrong = await swaks(mechanism, { extra: [...extra], port: target, from, password: 'not the password' });
        assert.match(wrong.output, refused('535 5.7.8'), wrong.output);
        const unknown = await swaks(mechanism, { extra: [...extra], port: target, from, user: 'nobody@example.com' });
        assert.match(unknown.output, refused('535 5.7.8'), unknown.output);
      });
    }

    it('CRAM-MD5 in a domain with the legacy mechanisms off, and NTLMv1 (what swaks sends): 534 5.7.9', async () => {
      const strict = await swaks('CRAM-MD5', { user: 'sam@strict.example' });
      assert.match(strict.output, refused('534 5.7.9'), strict.output);
      const ntlmv1 = await swaks('NTLM');
      assert.match(ntlmv1.output, refused('534 5.7.9'), ntlmv1.output);
    });
  });

  describe('curl', { skip: !commandExists('curl') && 'curl not installed' }, () => {
    let address = 0;
    const curl = (
      mechanism: string,
      options: { password?: string; url?: string; extra?: string[]; from?: string } = {},
    ) =>
      runLocalClient('curl', [
        '-sS',
        '--interface',
        options.from ?? '127.0.2.1',
        options.url ?? `smtp://127.0.0.1:${submission}`,
        '-u',
        `curl@example.com:${options.password ?? AUTH_PASSWORD}`,
        '--login-options',
        `AUTH=${mechanism}`,
        '-X',
        'NOOP',
        ...(options.extra ?? []),
      ]);

    for (const [mechanism, extra] of [
      ['NTLM', []],
      ['DIGEST-MD5', []],
      ['CRAM-MD5', []],
      ['PLAIN', ['--ssl-reqd', '-k']],
      ['LOGIN', ['--ssl-reqd', '-k']],
    ] as const) {
      it(`${mechanism}${extra.length ? ' after STARTTLS' : ''}: logs in (NTLM as NTLMv2); a wrong password is refused`, async () => {
        const from = `127.0.2.${++address}`;
        const ok = await curl(mechanism, { extra: [...extra], from });
        assert.equal(ok.code, 0, ok.output);
        const wrong = await curl(mechanism, { extra: [...extra], from, password: 'wrong' });
        assert.equal(wrong.code, 67, wrong.output);
      });
    }

    it('PLAIN over SMTPS (465)', async () => {
      const ok = await curl('PLAIN', { url: `smtps://127.0.0.1:${submissionTls}`, extra: ['-k'] });
      assert.equal(ok.code, 0, ok.output);
    });
  });

  describe('nodemailer', () => {
    const transport = (method: string, secure: boolean, pass = AUTH_PASSWORD) =>
      createTransport({
        host: '127.0.0.1',
        port: submission,
        localAddress: '127.0.0.4',
        secure: false,
        requireTLS: secure,
        ignoreTLS: !secure,
        tls: { rejectUnauthorized: false },
        auth: { user: 'mailer@example.com', pass, method },
      });

    for (const [method, secure] of [
      ['PLAIN', true],
      ['LOGIN', true],
      ['CRAM-MD5', false],
    ] as const) {
      it(`${method}${secure ? ' after STARTTLS' : ''}: verifies; a wrong password gets 535 5.7.8`, async () => {
        const good = transport(method, secure);
        const bad = transport(method, secure, 'nope');
        try {
          assert.equal(await good.verify(), true);
          await assert.rejects(bad.verify(), /535 5\.7\.8/);
        } finally {
          good.close();
          bad.close();
        }
      });
    }

    it('submits a message after CRAM-MD5, delivered to the local recipient', async () => {
      const mailer = transport('CRAM-MD5', false);
      try {
        const info = await mailer.sendMail({
          from: 'mailer@example.com',
          to: 'alice@example.com',
          subject: 'after CRAM-MD5',
          text: 'hello',
        });
        assert.match(info.response, /^250 /);
      } finally {
        mailer.close();
      }
      const inbox = await messagesIn(system, 'alice@example.com');
      assert.ok(inbox.some((message) => message.includes('Subject: after CRAM-MD5')));
    });
  });
});

describe('SMTP authentication throttling, end to end', () => {
  let system: TestMailSystem;

  before(async () => {
    system = await startTestMailSystem({ MARMOT_AUTH_MAX_FAILURES_PER_ADDRESS: '3' });
    await seedAuthAccounts(system, CLIENT_ACCOUNTS);
  });
  after(() => system?.stop());

  it('refuses an address after repeated failures with 454 4.7.0, even with the right password; others still log in', async () => {
    const port = system.ports['submission-tls']!;
    const plain = (password: string) => `AUTH PLAIN ${b64(`\0raw@example.com\0${password}`)}`;
    for (let i = 0; i < 3; i++) {
      const client = await RawSmtp.open(port, { tls: true, localAddress: '127.0.0.6' });
      try {
        await client.read();
        await client.command('EHLO client.example');
        assert.equal(status(await client.command(plain('wrong'))), '535 5.7.8');
      } finally {
        client.close();
      }
    }
    const refused = await RawSmtp.open(port, { tls: true, localAddress: '127.0.0.6' });
    const other = await RawSmtp.open(port, { tls: true, localAddress: '127.0.0.7' });
    try {
      for (const client of [refused, other]) {
        await client.read();
        await client.command('EHLO client.example');
      }
      assert.equal(status(await refused.command(plain(AUTH_PASSWORD))), '454 4.7.0');
      assert.equal(status(await other.command(plain(AUTH_PASSWORD))), '235 2.7.0');
    } finally {
      refused.close();
      other.close();
    }
  });
});
