/**
 * Real SASL clients against the server mechanisms, through a throwaway IMAP harness: Cyrus SASL
 * (`imtest` from cyrus-clients, with libsasl2-modules), curl, and Python's imaplib. Needs the Debian
 * packages cyrus-clients, libsasl2-modules, curl and python3; each group is skipped, saying so, when
 * its client is missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, globSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import type { SaslOutcome } from '../../../shared/sasl/mechanism.ts';
import { type Harness, startImapHarness } from './imap-auth-harness.ts';
import { ALICE, BOB, outcome, PASSWORD, saslFixture } from './sasl-fixture.ts';

const IMTEST = '/usr/lib/cyrus/bin/imtest';
const CLIENT_TIMEOUT_MS = 10_000;
const hasImtest = existsSync(IMTEST) && globSync('/usr/lib/*/sasl2/libdigestmd5.so*').length > 0;

function runClient(command: string, args: string[], stdin = ''): Promise<{ output: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: CLIENT_TIMEOUT_MS }, (error, stdout, stderr) => {
      resolve({ output: stdout + stderr, code: error ? ((error as { code?: number }).code ?? null) : 0 });
    });
    child.stdin?.end(stdin);
  });
}

function commandExists(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(`${dir}/${command}`));
}

const ALL = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'DIGEST-MD5', 'CRAM-MD5', 'NTLM', 'PLAIN', 'LOGIN'];

describe('real SASL clients against the mechanisms', () => {
  let plain: Harness;
  let tls: Harness;
  let tls12: Harness;
  let twoRealms: Harness;

  before(async () => {
    const fixture = await saslFixture();
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { algorithm: 'sha256' });
    const context = () =>
      fixture.context({ hostname: 'localhost', alternateHostnames: ['127.0.0.1'], digestRealms: ['example.com'] });
    plain = await startImapHarness({ mechanisms: ALL, context });
    tls = await startImapHarness({ mechanisms: ALL, context, tls: { key: pems.private, cert: pems.cert } });
    // imtest 3.6 fails right after a TLS 1.3 handshake ("prot layer failure"), against openssl s_server
    // as well as Node, so it gets a TLS 1.2 listener.
    tls12 = await startImapHarness({
      mechanisms: ALL,
      context,
      tls: { key: pems.private, cert: pems.cert, maxVersion: 'TLSv1.2' },
    });
    twoRealms = await startImapHarness({
      mechanisms: ['DIGEST-MD5'],
      context: () => fixture.context({ hostname: 'localhost', digestRealms: ['other.example', 'example.com'] }),
    });
  });
  after(async () => {
    await Promise.all([plain?.close(), tls?.close(), tls12?.close(), twoRealms?.close()]);
  });

  const last = (harness: Harness): SaslOutcome => {
    const result = harness.outcomes.at(-1);
    assert.ok(result, 'the server saw an exchange');
    return result;
  };

  describe('Cyrus SASL (imtest)', { skip: !hasImtest && 'cyrus-clients / libsasl2-modules not installed' }, () => {
    const imtest = (harness: Harness, mechanism: string, extra: string[] = [], password = PASSWORD) =>
      runClient(
        IMTEST,
        ['-m', mechanism, '-a', ALICE, '-w', password, '-p', String(harness.port), ...extra, 'localhost'],
        'x LOGOUT\r\n',
      );

    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'DIGEST-MD5', 'CRAM-MD5']) {
      it(`${mechanism}: logs in, and a wrong password is refused`, async () => {
        const ok = await imtest(plain, mechanism);
        assert.match(ok.output, /Authenticated\./, ok.output);
        const result = last(plain);
        assert.deepEqual('success' in result && result.success, { authcid: ALICE, authzid: ALICE });
        const wrong = await imtest(plain, mechanism, [], 'not the password');
        assert.doesNotMatch(wrong.output, /Authenticated\./);
        assert.equal(outcome(last(plain)), 'bad-credentials');
      });
    }

    it('DIGEST-MD5 with an authorization identity (-u) and with the realm chosen among several (-r)', async () => {
      const withAuthz = await imtest(plain, 'DIGEST-MD5', ['-u', ALICE]);
      assert.match(withAuthz.output, /Authenticated\./, withAuthz.output);
      const chosen = await imtest(twoRealms, 'DIGEST-MD5', ['-r', 'example.com']);
      assert.match(chosen.output, /Authenticated\./, chosen.output);
      assert.equal(outcome(last(twoRealms)), 'success');
      const notAdmin = await imtest(plain, 'SCRAM-SHA-256', ['-u', BOB]);
      assert.doesNotMatch(notAdmin.output, /Authenticated\./);
      assert.equal(outcome(last(plain)), 'authorization-denied');
    });

    it('NTLM: Cyrus sends an NTLMv1 response unless configured otherwise, which is refused', async () => {
      const result = await imtest(plain, 'NTLM');
      assert.doesNotMatch(result.output, /Authenticated\./);
      const refused = last(plain);
      assert.ok('failure' in refused && /NTLMv1/.test(refused.failure.detail), JSON.stringify(refused));
    });

    // (imtest's "-m login" is the IMAP LOGIN command, not SASL LOGIN: curl covers that one.)
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-256']) {
      it(`${mechanism} over TLS (imtest -s)`, async () => {
        const result = await imtest(tls12, mechanism, ['-s']);
        assert.match(result.output, /Authenticated\./, result.output);
        assert.equal(outcome(last(tls12)), 'success');
      });
    }

    it('PLAIN is refused without TLS', async () => {
      const result = await imtest(plain, 'PLAIN');
      assert.doesNotMatch(result.output, /Authenticated\./);
      assert.equal(outcome(last(plain)), 'mechanism-not-allowed');
    });
  });

  describe('curl', { skip: !commandExists('curl') && 'curl not installed' }, () => {
    const curl = (harness: Harness, mechanism: string, password = PASSWORD, scheme = 'imap') =>
      runClient('curl', [
        '-sS',
        '-k',
        `${scheme}://127.0.0.1:${harness.port}/`,
        '-u',
        `${ALICE}:${password}`,
        '--login-options',
        `AUTH=${mechanism}`,
      ]);

    for (const mechanism of ['NTLM', 'DIGEST-MD5', 'CRAM-MD5']) {
      it(`${mechanism}: logs in (NTLM as NTLMv2), and a wrong password is refused`, async () => {
        const ok = await curl(plain, mechanism);
        assert.equal(ok.code, 0, ok.output);
        assert.equal(outcome(last(plain)), 'success');
        const wrong = await curl(plain, mechanism, 'wrong');
        assert.notEqual(wrong.code, 0);
        assert.equal(outcome(last(plain)), 'bad-credentials');
      });
    }

    for (const mechanism of ['PLAIN', 'LOGIN']) {
      it(`${mechanism} over IMAPS`, async () => {
        const ok = await curl(tls, mechanism, PASSWORD, 'imaps');
        assert.equal(ok.code, 0, ok.output);
        assert.equal(outcome(last(tls)), 'success');
      });
    }
  });

  describe("Python's imaplib", { skip: !commandExists('python3') && 'python3 not installed' }, () => {
    it('CRAM-MD5 (login_cram_md5) and PLAIN over IMAPS (authenticate)', async () => {
      const script = [
        'import imaplib, ssl, sys',
        'port, tls_port, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]',
        'client = imaplib.IMAP4("127.0.0.1", int(port))',
        'print(client.login_cram_md5(user, password)[0])',
        'client.logout()',
        'context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE',
        'client = imaplib.IMAP4_SSL("127.0.0.1", int(tls_port), ssl_context=context)',
        'print(client.authenticate("PLAIN", lambda _: ("\\0" + user + "\\0" + password).encode())[0])',
        'client.logout()',
      ].join('\n');
      const result = await runClient('python3', ['-c', script, String(plain.port), String(tls.port), ALICE, PASSWORD]);
      assert.equal(result.output.trim(), 'OK\nOK', result.output);
      assert.equal(outcome(last(plain)), 'success');
      assert.equal(outcome(last(tls)), 'success');
    });
  });
});
