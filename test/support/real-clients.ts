/**
 * Running the Debian clients the authentication tests drive (Cyrus smtptest/imtest, swaks, curl,
 * python3) as subprocesses, and telling why a client cannot run here, so a missing one is skipped with a
 * reason instead of failing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, globSync } from 'node:fs';

export function commandExists(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(`${dir}/${command}`));
}

/** A Cyrus test client (`/usr/lib/cyrus/bin/...`) with the SASL plugins it needs for SCRAM and the rest. */
export function cyrusClientInstalled(path: string): boolean {
  return existsSync(path) && globSync('/usr/lib/*/sasl2/libscram.so*').length > 0;
}

/** Why the swaks tests cannot run: swaks, or the Perl modules its DIGEST-MD5, NTLM and TLS need. */
export function swaksMissing(): string | false {
  if (!commandExists('swaks')) return 'swaks not installed';
  for (const module of ['Authen::SASL', 'Authen::NTLM', 'Net::SSLeay']) {
    try {
      execFileSync('perl', [`-M${module}`, '-e1'], { stdio: 'ignore' });
    } catch {
      return `Perl module ${module} not installed (libauthen-sasl-perl, libauthen-ntlm-perl, libnet-ssleay-perl)`;
    }
  }
  return false;
}

/** Runs a client to its end (or its timeout) with `stdin`, and gives its output and exit code. */
export function runClient(
  command: string,
  args: string[],
  stdin: string,
  timeoutMs: number,
): Promise<{ output: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ output: stdout + stderr, code: error ? ((error as { code?: number }).code ?? null) : 0 });
    });
    child.stdin?.end(stdin);
  });
}
