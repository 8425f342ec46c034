/**
 * Two DKIM verifiers that share no code with our signer's canonicalization: Python's dkimpy (Debian
 * `python3-dkim`, run as a subprocess) and mailauth's verifier. Both get their key records from a stub
 * resolver built from the TXT strings a test supplies, as DNS would serve them (split strings included).
 */
import { spawn } from 'node:child_process';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';

/** Debian's interpreter, where python3-dkim installs (a pyenv or venv `python3` earlier on PATH lacks it). */
const DEBIAN_PYTHON = '/usr/bin/python3';

/** TXT records by owner name (no trailing dot), each as its character-strings. */
export type TxtRecords = Record<string, string[]>;

const DKIMPY_SCRIPT = `
import json, sys, dkim
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    key = name.decode('ascii').rstrip('.').lower()
    strings = records.get(key)
    return ''.join(strings).encode('ascii') if strings is not None else None
message = sys.stdin.buffer.read()
d = dkim.DKIM(message)
count = sum(1 for (name, value) in d.headers if name.lower() == b'dkim-signature')
results = []
for index in range(count):
    try:
        ok = bool(d.verify(idx=index, dnsfunc=dnsfunc))
    except Exception as error:
        ok = False
    results.append({'ok': ok, 'domain': (d.domain or b'').decode(), 'selector': (d.selector or b'').decode()})
print(json.dumps(results))
`;

export interface DkimpyResult {
  ok: boolean;
  domain: string;
  selector: string;
}

/** dkimpy's verdict on every DKIM-Signature of the message, in header order. */
export function verifyWithDkimpy(message: Buffer, records: TxtRecords): Promise<DkimpyResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(DEBIAN_PYTHON, ['-c', DKIMPY_SCRIPT, JSON.stringify(lowerKeys(records))]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`dkimpy exited with ${code}: ${stderr}`));
      resolve(JSON.parse(stdout) as DkimpyResult[]);
    });
    child.stdin.end(message);
  });
}

export interface MailauthResult {
  status: string;
  domain: string;
  selector: string;
  bodyHash?: string;
}

/** mailauth's verdict on every DKIM-Signature of the message. */
export async function verifyWithMailauth(message: Buffer, records: TxtRecords): Promise<MailauthResult[]> {
  const lowered = lowerKeys(records);
  const result = await dkimVerify(message, {
    resolver: async (name: string, type: string) => {
      const strings = type === 'TXT' ? lowered[name.toLowerCase().replace(/\.$/, '')] : undefined;
      if (!strings) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
      return [strings];
    },
  });
  return result.results.map((entry) => ({
    status: entry.status.result,
    domain: entry.signingDomain ?? '',
    selector: entry.selector ?? '',
    ...(entry.bodyHash ? { bodyHash: entry.bodyHash } : {}),
  }));
}

function lowerKeys(records: TxtRecords): TxtRecords {
  return Object.fromEntries(Object.entries(records).map(([name, strings]) => [name.toLowerCase(), strings]));
}
