/**
 * Authentication on the running system's IMAP listeners (143 with STARTTLS, 993 implicit TLS), end to
 * end with real clients: Cyrus `imtest` (every Cyrus mechanism), curl (NTLMv2 and the rest), Python's
 * imaplib, imapflow, and a raw client for exact responses (SCRAM-PLUS with both channel-binding types,
 * malformed, cancelled and oversized responses, LOGIN and PLAIN before TLS, acting as another user,
 * the per-domain legacy switch). A second system with a low failure limit shows throttling.
 *
 * Clients connect from different loopback addresses where they can choose one, and log in as different
 * accounts: the throttle counts failures per address and per account, and would slow the tests down.
 *
 * Debian packages: cyrus-clients, libsasl2-modules, curl, python3. Each client group is skipped, saying
 * so, when its program is missing. (`imtest -s` is not used: imtest 3.6 stalls after a TLS 1.3
 * handshake on implicit TLS; its STARTTLS works.)
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { serverEndPoint } from '../../shared/sasl/channel-binding.ts';
import { RawImapClient } from '../fargate/imap/raw-imap-client.ts';
import { messagesIn } from '../fargate/smtp/mailbox-contents.ts';
import { AUTH_PASSWORD, seedAuthAccounts } from '../support/auth-accounts.ts';
import { startTestMailSystem, type TestMailSystem, testCertificate } from '../support/mail-system.ts';
import { commandExists, cyrusClientInstalled, runClient } from '../support/real-clients.ts';
import { scramClientFinal, scramClientFirst } from '../support/scram-client.ts';

const IMTEST = '/usr/lib/cyrus/bin/imtest';
const CLIENT_TIMEOUT_MS = 15_000;
const hasImtest = cyrusClientInstalled(IMTEST);
/** What the test system calls itself for DIGEST-MD5 digest-uri besides its hostname. */
const ALIASES = '127.0.0.1,localhost';
const MESSAGE = 'From: boss@example.com\r\nTo: alice@example.com\r\nSubject: appended as alice\r\n\r\nhi\r\n';

const runLocalClient = (command: string, args: string[], stdin = '') =>
  runClient(command, args, stdin, CLIENT_TIMEOUT_MS);

const b64 = (text: string) => Buffer.from(text).toString('base64');
const fromBase64 = (text: string) => Buffer.from(text, 'base64').toString();
const capabilitiesIn = (line: string) => /\[CAPABILITY ([^\]]*)\]/.exec(line)?.[1]?.split(' ') ?? [];

const openClients = new Set<RawImapClient>();

const CLIENT_ACCOUNTS = ['alice', 'cyrus', 'curl', 'python', 'flow', 'raw'];

describe('IMAP authentication, end to end', () => {
  let system: TestMailSystem;
  let imap: number;
  let imaps: number;
  let ca: string;

  /** A raw client past the greeting (whose capabilities it returns). */
  async function raw(
    options: { tls?: boolean; localAddress?: string } = {},
  ): Promise<{ client: RawImapClient; greeting: string[] }> {
    const client = await RawImapClient.connect(options.tls ? imaps : imap, { ...options, ca });
    openClients.add(client);
    const greeting = (await client.readLine()) ?? '';
    assert.match(greeting, /^\* OK /);
    return { client, greeting: capabilitiesIn(greeting) };
  }

  before(async () => {
    system = await startTestMailSystem({ MARMOT_HOSTNAME_ALIASES: ALIASES });
    imap = system.ports.imap!;
    imaps = system.ports.imaps!;
    ca = await readFile((await testCertificate()).certFile, 'utf8');
    await seedAuthAccounts(system, CLIENT_ACCOUNTS);
  });
  after(() => system?.stop());
  afterEach(() => {
    for (const client of openClients) client.close();
    openClients.clear();
  });

  describe('raw protocol', () => {
    const from = '127.0.4.1';

    it('offers the challenge-response mechanisms before TLS with LOGINDISABLED, and PLAIN, LOGIN and -PLUS with TLS', async () => {
      const { client, greeting } = await raw({ localAddress: from });
      const auth = (list: string[]) => list.filter((capability) => capability.startsWith('AUTH='));
      assert.deepEqual(auth(greeting), [
        'AUTH=SCRAM-SHA-256',
        'AUTH=SCRAM-SHA-1',
        'AUTH=DIGEST-MD5',
        'AUTH=CRAM-MD5',
        'AUTH=NTLM',
      ]);
      assert.ok(greeting.includes('LOGINDISABLED') && greeting.includes('STARTTLS'));
      assert.match((await client.command(`LOGIN "raw@example.com" "${AUTH_PASSWORD}"`)).line, /NO \[PRIVACYREQUIRED\]/);
      const plain = b64(`\0raw@example.com\0${AUTH_PASSWORD}`);
      assert.match((await client.command(`AUTHENTICATE PLAIN ${plain}`)).line, /NO \[PRIVACYREQUIRED\]/);
      assert.equal((await client.command('STARTTLS')).status, 'OK');
      await client.startTls(ca);
      const listed = (await client.command('CAPABILITY')).untagged.find((line) => line.startsWith('* CAPABILITY '));
      const secure = listed?.split(' ').slice(2) ?? [];
      assert.ok(secure.includes('AUTH=SCRAM-SHA-256-PLUS') && secure.includes('AUTH=PLAIN'), secure.join(' '));
      assert.ok(!secure.includes('LOGINDISABLED'));
      assert.equal((await client.command(`AUTHENTICATE PLAIN ${plain}`)).status, 'OK');
    });

    it('SCRAM-SHA-256-PLUS: tls-exporter on 993, tls-server-end-point after STARTTLS on 143', async () => {
      const implicit = (await raw({ tls: true, localAddress: from })).client;
      const starttls = (await raw({ localAddress: from })).client;
      assert.equal((await starttls.command('STARTTLS')).status, 'OK');
      await starttls.startTls(ca);
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
        const first = scramClientFirst('raw@example.com', `p=${type}`);
        client.write(`a1 AUTHENTICATE SCRAM-SHA-256-PLUS ${b64(first.message)}\r\n`);
        const serverFirst = (await client.readLine()) ?? '';
        assert.match(serverFirst, /^\+ /, type);
        const final = scramClientFinal(first, fromBase64(serverFirst.slice(2)), AUTH_PASSWORD, data);
        client.write(`${b64(final.message)}\r\n`);
        assert.equal(`+ ${b64(final.expectedServerFinal)}`, await client.readLine(), type);
        client.write('\r\n');
        assert.match((await client.untilTagged('a1')).line, /^a1 OK \[CAPABILITY /, type);
      }
    });

    it('malformed and cancelled responses get BAD, a wrong password NO [AUTHENTICATIONFAILED], and three failures BYE', async () => {
      const { client } = await raw({ tls: true, localAddress: from });
      assert.equal((await client.command('AUTHENTICATE SCRAM-SHA-1 !!!not-base64')).status, 'BAD');
      client.write('a1 AUTHENTICATE CRAM-MD5\r\n');
      assert.match((await client.readLine()) ?? '', /^\+ [A-Za-z0-9+/=]+$/);
      client.write('*\r\n');
      assert.match((await client.untilTagged('a1')).line, /^a1 BAD/);
      client.write('a2 AUTHENTICATE CRAM-MD5\r\n');
      await client.readLine();
      client.write('@@@@\r\n');
      assert.match((await client.untilTagged('a2')).line, /^a2 BAD/);
      const wrong = await client.command(`AUTHENTICATE PLAIN ${b64('\0raw@example.com\0wrong')}`);
      assert.match(wrong.line, /NO \[AUTHENTICATIONFAILED\]/);
      // The third failure of the connection (the malformed response counted too): BYE, and closed.
      client.write(`a3 AUTHENTICATE PLAIN ${b64('\0raw@example.com\0wrong again')}\r\n`);
      const lines: string[] = [];
      for (let line = await client.readLine(); line !== undefined; line = await client.readLine()) lines.push(line);
      assert.ok(
        lines.some((line) => line.startsWith('* BYE')),
        JSON.stringify(lines),
      );
    });

    it('an oversized response ends the connection with TOOBIG', async () => {
      const { client } = await raw({ tls: true, localAddress: from });
      client.write('a1 AUTHENTICATE CRAM-MD5\r\n');
      await client.readLine();
      client.write(`${'QUJD'.repeat(2500)}\r\n`);
      const lines: string[] = [];
      for (let line = await client.readLine(); line !== undefined; line = await client.readLine()) lines.push(line);
      assert.ok(
        lines.some((line) => /TOOBIG/.test(line)),
        JSON.stringify(lines),
      );
      assert.ok(client.isClosed);
    });

    it('an admin acts as another user (PLAIN authzid) and works in that mailbox; others may not', async () => {
      const { client } = await raw({ tls: true, localAddress: from });
      const asAlice = await client.command(
        `AUTHENTICATE PLAIN ${b64(`alice@example.com\0boss@example.com\0${AUTH_PASSWORD}`)}`,
      );
      assert.equal(asAlice.status, 'OK', asAlice.line);
      client.write(`a9 APPEND INBOX {${MESSAGE.length}+}\r\n${MESSAGE}\r\n`);
      assert.match((await client.untilTagged('a9')).line, /^a9 OK/);
      const inbox = await messagesIn(system, 'alice@example.com');
      assert.ok(inbox.some((message) => message.includes('Subject: appended as alice')));
      const other = (await raw({ tls: true, localAddress: from })).client;
      const denied = await other.command(
        `AUTHENTICATE PLAIN ${b64(`alice@example.com\0raw@example.com\0${AUTH_PASSWORD}`)}`,
      );
      assert.match(denied.line, /NO \[AUTHORIZATIONFAILED\]/);
    });

    it('a legacy mechanism for a domain that has them off: NO [CANNOT], account or not', async () => {
      for (const user of ['sam@strict.example', 'nobody@strict.example']) {
        const { client } = await raw({ localAddress: from });
        client.write('a1 AUTHENTICATE CRAM-MD5\r\n');
        await client.readLine();
        client.write(`${b64(`${user} 00112233445566778899aabbccddeeff`)}\r\n`);
        assert.match((await client.untilTagged('a1')).line, /^a1 NO \[CANNOT\]/, user);
      }
    });
  });

  describe('Cyrus SASL (imtest)', { skip: !hasImtest && 'cyrus-clients / libsasl2-modules not installed' }, () => {
    const imtest = (mechanism: string, extra: string[] = [], password = AUTH_PASSWORD, user = 'cyrus@example.com') =>
      runLocalClient(
        IMTEST,
        ['-m', mechanism, '-a', user, '-w', password, '-p', String(imap), ...extra, '127.0.0.1'],
        'x LOGOUT\r\n',
      );

    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'DIGEST-MD5', 'CRAM-MD5']) {
      it(`${mechanism} before STARTTLS`, async () => {
        const result = await imtest(mechanism);
        assert.match(result.output, /^Authenticated\./m, result.output);
      });
    }

    it('SCRAM-SHA-256 and PLAIN after STARTTLS; a wrong password gets NO [AUTHENTICATIONFAILED]', async () => {
      for (const mechanism of ['SCRAM-SHA-256', 'PLAIN']) {
        const result = await imtest(mechanism, ['-t', '']);
        assert.match(result.output, /^Authenticated\./m, `${mechanism}: ${result.output}`);
      }
      const wrong = await imtest('DIGEST-MD5', [], 'not the password');
      assert.match(wrong.output, /NO \[AUTHENTICATIONFAILED\]/, wrong.output);
    });

    it('an admin may act as another user (-u); nobody else may', async () => {
      const asAlice = await imtest('DIGEST-MD5', ['-u', 'alice@example.com'], AUTH_PASSWORD, 'boss@example.com');
      assert.match(asAlice.output, /^Authenticated\./m, asAlice.output);
      const notAdmin = await imtest('SCRAM-SHA-256', ['-u', 'alice@example.com']);
      assert.match(notAdmin.output, /NO \[AUTHORIZATIONFAILED\]/, notAdmin.output);
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
        options.from ?? '127.0.5.100',
        options.url ?? `imap://127.0.0.1:${imap}/`,
        '-u',
        `curl@example.com:${options.password ?? AUTH_PASSWORD}`,
        '--login-options',
        `AUTH=${mechanism}`,
        ...(options.extra ?? []),
      ]);

    for (const [mechanism, extra] of [
      ['NTLM', []],
      ['DIGEST-MD5', []],
      ['CRAM-MD5', []],
      ['PLAIN', ['--ssl-reqd', '-k']],
      ['LOGIN', ['--ssl-reqd', '-k']],
    ] as const) {
      it(`${mechanism}${extra.length ? ' after STARTTLS' : ''}: lists the mailboxes (NTLM as NTLMv2); a wrong password is refused`, async () => {
        const from = `127.0.5.${++address}`;
        const ok = await curl(mechanism, { extra: [...extra], from });
        assert.equal(ok.code, 0, ok.output);
        assert.match(ok.output, /\* LIST .*"INBOX"/);
        const wrong = await curl(mechanism, { extra: [...extra], from, password: 'wrong' });
        assert.equal(wrong.code, 67, wrong.output);
      });
    }

    it('PLAIN over IMAPS (993)', async () => {
      const ok = await curl('PLAIN', { url: `imaps://127.0.0.1:${imaps}/`, extra: ['-k'] });
      assert.equal(ok.code, 0, ok.output);
    });
  });

  describe("Python's imaplib", { skip: !commandExists('python3') && 'python3 not installed' }, () => {
    it('CRAM-MD5 before TLS, AUTHENTICATE PLAIN over IMAPS, and a wrong CRAM-MD5 password', async () => {
      const script = [
        'import imaplib, ssl, sys',
        'port, tls_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]',
        'client = imaplib.IMAP4("127.0.0.1", port)',
        'print(client.login_cram_md5(user, password)[0])',
        'client.logout()',
        'context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE',
        'client = imaplib.IMAP4_SSL("127.0.0.1", tls_port, ssl_context=context)',
        'print(client.authenticate("PLAIN", lambda _: ("\\0" + user + "\\0" + password).encode())[0])',
        'client.logout()',
        'client = imaplib.IMAP4("127.0.0.1", port)',
        'try:',
        '    client.login_cram_md5(user, "wrong")',
        'except imaplib.IMAP4.error as error:',
        '    print(error)',
      ].join('\n');
      const result = await runLocalClient('python3', [
        '-c',
        script,
        String(imap),
        String(imaps),
        'python@example.com',
        AUTH_PASSWORD,
      ]);
      const lines = result.output.trim().split('\n');
      assert.deepEqual(lines.slice(0, 2), ['OK', 'OK'], result.output);
      assert.match(lines[2] ?? '', /AUTHENTICATIONFAILED/, result.output);
    });
  });

  describe('imapflow', () => {
    for (const loginMethod of ['AUTH=PLAIN', 'AUTH=LOGIN', 'LOGIN'] as const) {
      it(`${loginMethod} over IMAPS; a wrong password gets AUTHENTICATIONFAILED`, async () => {
        const connect = (pass: string) =>
          new ImapFlow({
            host: '127.0.0.1',
            port: imaps,
            secure: true,
            tls: { rejectUnauthorized: false },
            auth: { user: 'flow@example.com', pass, loginMethod },
            logger: false,
          });
        const client = connect(AUTH_PASSWORD);
        await client.connect();
        assert.ok(client.authenticated);
        await client.logout();
        const wrong = connect('nope');
        await assert.rejects(wrong.connect(), (error: { serverResponseCode?: string }) => {
          assert.equal(error.serverResponseCode, 'AUTHENTICATIONFAILED');
          return true;
        });
        wrong.close();
      });
    }
  });
});

describe('IMAP authentication throttling, end to end', () => {
  let system: TestMailSystem;
  let ca: string;

  before(async () => {
    system = await startTestMailSystem({ MARMOT_AUTH_MAX_FAILURES_PER_ADDRESS: '3' });
    ca = await readFile((await testCertificate()).certFile, 'utf8');
    await seedAuthAccounts(system, CLIENT_ACCOUNTS);
  });
  after(() => system?.stop());

  it('refuses an address after repeated failures with NO [UNAVAILABLE], even with the right password; others still log in', async () => {
    const port = system.ports.imaps!;
    const login = async (localAddress: string, password: string) => {
      const client = await RawImapClient.connect(port, { tls: true, ca, localAddress });
      try {
        await client.readLine();
        return (await client.command(`AUTHENTICATE PLAIN ${b64(`\0raw@example.com\0${password}`)}`)).line;
      } finally {
        client.close();
      }
    };
    for (let i = 0; i < 3; i++) assert.match(await login('127.0.0.6', 'wrong'), /NO \[AUTHENTICATIONFAILED\]/);
    assert.match(await login('127.0.0.6', AUTH_PASSWORD), /NO \[UNAVAILABLE\]/);
    assert.match(await login('127.0.0.7', AUTH_PASSWORD), /OK \[CAPABILITY/);
  });
});
