/**
 * IMAP benchmark: the real mail system (`fargate/main.ts`, local adapters) in a child process, loaded with
 * the deterministic mailbox of `../shared/bench/gen_mbox.py` through IMAP APPEND, then driven by N
 * concurrent clients for a bounded time per phase:
 *
 *   - one phase per command (SELECT, FETCH headers, FETCH body, SEARCH, STORE, APPEND+EXPUNGE, IDLE):
 *     ops/s, p50/p99 latency, and server CPU per command (the server's CPU time over the phase / ops);
 *   - a client-like mix on long-lived sessions, and short sessions (login, ~10 commands, logout);
 *   - server RSS with many idle connections (before login), and with authenticated sessions in IDLE.
 *
 *   node --import tsx bench/imap.ts [--clients 8] [--seconds 4] [--messages 2000] [--idle 5000]
 *        [--idle-authenticated 300] [--mbox file] [--generator ../shared/bench/gen_mbox.py] [--json out.json]
 *
 * Server CPU comes from /proc/<pid>/stat, RSS from /proc/<pid>/status (Linux).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startMailSystem } from '../fargate/mail-system.ts';
import { loadConfig } from '../shared/config/config.ts';
import { Directory } from '../shared/directory/directory.ts';
import { LocalKeyVault } from '../shared/keyvault/local-key-vault.ts';
import { Logger } from '../shared/log/logger.ts';
import { openStores } from '../shared/store/open-stores.ts';

const REPO = resolve(import.meta.dirname, '..');
const { values: options } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '4' },
    messages: { type: 'string', default: '2000' },
    idle: { type: 'string', default: '5000' },
    'idle-authenticated': { type: 'string', default: '300' },
    mbox: { type: 'string' },
    generator: { type: 'string', default: join(REPO, '..', 'shared', 'bench', 'gen_mbox.py') },
    json: { type: 'string' },
    /** `dovecot`: run the same phases against Dovecot on loopback afterwards, as the yardstick. */
    yardstick: { type: 'string' },
    'dovecot-port': { type: 'string', default: '11143' },
    /** Internal: run the mail system for the bench (see startMarmot). */
    serve: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(options.clients);
const PHASE_MS = Number(options.seconds) * 1000;
const MESSAGES = Number(options.messages);
const IDLE_CONNECTIONS = Number(options.idle);
const IDLE_AUTHENTICATED = Number(options['idle-authenticated']);
const DOVECOT_PORT = Number(options['dovecot-port']);
const USER = 'bench@bench.test';
const PASSWORD = 'bench password 1';
/** Dovecot's static passdb takes no spaces. */
const DOVECOT_PASSWORD = 'benchpassword';
const SEARCH_WORDS = ['quota', 'release', 'meeting', 'backup', 'patch', 'invoice', 'lunch', 'holiday'];

// ---------------------------------------------------------------------------------------------------
// A small pipelining-free IMAP client: one command at a time, literals folded into their response.

class BenchClient {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve(line: string): void; reject(error: Error): void } | undefined;
  private closed = false;
  private lines: string[] = [];
  private tag = 0;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.split();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.reject(new Error('connection closed by the server'));
      this.waiting = undefined;
    });
  }

  static async open(port: number): Promise<BenchClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((done, fail) => {
      socket.once('connect', () => done());
      socket.once('error', fail);
    });
    const client = new BenchClient(socket);
    await client.line();
    return client;
  }

  private split(): void {
    for (;;) {
      let position = 0;
      let end = -1;
      while (end === -1) {
        const lf = this.buffer.indexOf(0x0a, position);
        if (lf === -1) return;
        const literal = /\{(\d+)\}\r\n$/.exec(this.buffer.toString('latin1', Math.max(position, lf - 20), lf + 1));
        if (!literal) end = lf + 1;
        else {
          position = lf + 1 + Number(literal[1]);
          if (this.buffer.length < position) return;
        }
      }
      const line = this.buffer.toString('latin1', 0, Math.min(end, 200));
      this.buffer = this.buffer.subarray(end);
      const waiter = this.waiting;
      if (waiter) {
        this.waiting = undefined;
        waiter.resolve(line);
      } else this.lines.push(line);
    }
  }

  line(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error('connection closed by the server'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async command(text: string | Buffer, literal?: Buffer): Promise<string> {
    const tag = `b${++this.tag}`;
    if (literal) {
      this.socket.write(`${tag} ${text} {${literal.length}+}\r\n`);
      this.socket.write(literal);
      this.socket.write('\r\n');
    } else this.socket.write(`${tag} ${text}\r\n`);
    for (;;) {
      const line = await this.line();
      if (line.startsWith(`${tag} `)) {
        if (!line.startsWith(`${tag} OK`)) throw new Error(`${text.toString().slice(0, 60)}: ${line.trim()}`);
        return line;
      }
    }
  }

  /** IDLE, then DONE once the continuation arrives: the round trip of entering and leaving IDLE. */
  async idleRoundTrip(): Promise<void> {
    const tag = `b${++this.tag}`;
    this.socket.write(`${tag} IDLE\r\n`);
    while (!(await this.line()).startsWith('+')) {}
    this.socket.write('DONE\r\n');
    while (!(await this.line()).startsWith(`${tag} `)) {}
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------
// The servers under test and their resource use.

interface Target {
  name: string;
  port: number;
  user: string;
  password: string;
  /** CPU time (user + system) of the server, all its processes, in milliseconds. */
  cpuMs(): number;
  /** Memory of the server, all its processes (proportional set size, so shared pages count once). */
  memoryBytes(): number;
  /**
   * Memory the server process holds after a full garbage collection (JS heap, buffers), where the
   * server can say: the retained cost of connections, without garbage that is merely not yet collected.
   */
  retainedBytes?(): Promise<number>;
  stop(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
}

/** The process and its descendants that are alive now. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(Number(entry))[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index++) tree.push(...(children.get(tree[index]!) ?? []));
  return tree;
}

/** CPU of the live process tree plus what its exited children used (reaped into cutime/cstime). */
function treeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const fields = statFields(pid);
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // Gone meanwhile; its time is in its parent's cutime by now.
    }
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

function treePssBytes(root: number): number {
  let bytes = 0;
  for (const pid of processTree(root)) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      bytes += Number(match?.[1] ?? 0) * 1024;
    } catch {
      // Gone meanwhile.
    }
  }
  return bytes;
}

/**
 * The mail system in a child process: this script in `--serve` mode, which runs `startMailSystem` (what
 * `fargate/main.ts` runs) with `--expose-gc`, so the bench can ask it for its memory after a collection.
 */
async function startMarmot(): Promise<Target> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-bench-imap-'));
  const stores = await openStores({ kind: 'local', dataDir });
  // The data directory's master key, which the server process opens too.
  const directory = new Directory(stores.metadata, { keyVault: await LocalKeyVault.open(dataDir) });
  await directory.addDomain('bench.test');
  await directory.addAccount(USER, { password: PASSWORD });
  await stores.close();
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--serve'], {
    cwd: REPO,
    env: {
      ...process.env,
      MARMOT_DATA_DIR: dataDir,
      MARMOT_LISTEN_HOST: '127.0.0.1',
      MARMOT_SMTP_PORT: '0',
      MARMOT_SUBMISSION_PORT: '0',
      MARMOT_SUBMISSION_TLS_PORT: '0',
      MARMOT_IMAP_PORT: '0',
      MARMOT_IMAPS_PORT: '0',
      MARMOT_MANAGESIEVE_PORT: '0',
      MARMOT_IMAP_PLAINTEXT_AUTH: '1',
      MARMOT_IMAP_MAX_CONNECTIONS_PER_IP: String(IDLE_CONNECTIONS + 1000),
      MARMOT_IMAP_MAX_CONNECTIONS_PER_ACCOUNT: String(IDLE_CONNECTIONS + 1000),
      MARMOT_LOG_LEVEL: 'warn',
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const replies: Array<(line: string) => void> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) replies.shift()?.(line);
  });
  const ask = (request: string) =>
    new Promise<string>((done) => {
      replies.push(done);
      if (request) child.stdin!.write(`${request}\n`);
    });
  const started = await Promise.race([
    ask(''),
    new Promise<never>((_, fail) => child.once('exit', (code) => fail(new Error(`server exited with ${code}`)))),
  ]);
  const { port } = JSON.parse(started) as { port: number };
  const pid = child.pid!;
  return {
    name: 'marmot',
    port,
    user: USER,
    password: PASSWORD,
    cpuMs: () => treeCpuMs(pid),
    memoryBytes: () => treePssBytes(pid),
    retainedBytes: async () => Number(await ask('retained')),
    async stop() {
      child.stdin!.end('stop\n');
      await new Promise((done) => child.once('exit', done));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `--serve`: the mail system for the bench; stdin `retained` answers the bytes held after a full GC. */
async function serve(): Promise<void> {
  const config = loadConfig();
  const system = await startMailSystem(config, new Logger(config.logLevel, { component: 'bench' }, process.stderr));
  const imap = system.listeners.find((listener) => listener.name === 'imap')!;
  process.stdout.write(`${JSON.stringify({ port: imap.port })}\n`);
  const collect = (globalThis as { gc?: () => void }).gc!;
  let buffered = '';
  process.stdin.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'retained') {
        collect();
        collect();
        const usage = process.memoryUsage();
        process.stdout.write(`${usage.heapUsed + usage.external}\n`);
      } else if (line === 'stop') {
        void system.stop().then(() => process.exit(0));
      }
    }
  });
}

/**
 * Dovecot 2.3 from Debian (`apt-get install dovecot-imapd`) on loopback, Maildir, static password,
 * performance-mode login processes and enough process slots for the idle-connection test.
 */
async function startDovecot(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-bench-dovecot-'));
  const port = DOVECOT_PORT;
  // mkdtemp makes the directory 0700; the dovecot user must get to its mail under it.
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(dir, sub));
  execFileSync('chown', ['-R', 'dovecot:dovecot', join(dir, 'mail')]);
  const limit = IDLE_CONNECTIONS + 1000;
  writeFileSync(
    join(dir, 'dovecot.conf'),
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      'listen = 127.0.0.1',
      'protocols = imap',
      'ssl = no',
      'disable_plaintext_auth = no',
      `log_path = ${dir}/dovecot.log`,
      `mail_location = maildir:${dir}/mail/%n`,
      'default_internal_user = dovecot',
      'default_login_user = dovenull',
      // The dovecot user (a system uid) owns the bench mail.
      'first_valid_uid = 100',
      `default_client_limit = ${limit}`,
      `mail_max_userip_connections = ${limit}`,
      `passdb {\n  driver = static\n  args = password=${DOVECOT_PASSWORD}\n}`,
      `userdb {\n  driver = static\n  args = uid=dovecot gid=dovecot home=${dir}/mail/%n\n}`,
      `service imap-login {\n  inet_listener imap {\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n  service_count = 0\n  client_limit = ${limit}\n  process_limit = 4\n  process_min_avail = 2\n}`,
      `service imap {\n  process_limit = ${limit}\n}`,
      `service anvil {\n  client_limit = ${limit * 2}\n}`,
      '',
    ].join('\n'),
  );
  // The daemon keeps inherited pipes open: give it none, or this call would wait for it to exit.
  execFileSync('dovecot', ['-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  // The master writes its pid once it has daemonized.
  const pidFile = join(dir, 'run', 'master.pid');
  for (let waited = 0; !existsSync(pidFile) && waited < 5_000; waited += 50) {
    await new Promise((done) => setTimeout(done, 50));
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  await new Promise((done) => setTimeout(done, 500));
  return {
    name: 'dovecot',
    port,
    user: 'bench',
    password: DOVECOT_PASSWORD,
    cpuMs: () => treeCpuMs(pid),
    memoryBytes: () => treePssBytes(pid),
    async stop() {
      execFileSync('dovecot', ['-c', join(dir, 'dovecot.conf'), 'stop'], { stdio: 'ignore' });
      await new Promise((done) => setTimeout(done, 500));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The mailbox.

function loadMbox(path: string): Buffer[] {
  const text = readFileSync(path, 'latin1');
  return text
    .split(/^From .*\n/m)
    .filter((message) => message.trim().length > 0)
    .map((message) =>
      Buffer.from(
        message
          .replace(/^>From /gm, 'From ')
          .replace(/\n+$/, '\n')
          .replace(/\r?\n/g, '\r\n'),
        'latin1',
      ),
    );
}

function mboxPath(): string {
  if (options.mbox && existsSync(options.mbox)) return options.mbox;
  const path = options.mbox ?? join(tmpdir(), `marmot-bench-${MESSAGES}.mbox`);
  if (!existsSync(path)) {
    if (!existsSync(options.generator))
      throw new Error(`no mailbox generator at ${options.generator}; pass --generator`);
    execFileSync('python3', [options.generator, String(MESSAGES), path], { stdio: 'inherit' });
  }
  return path;
}

// ---------------------------------------------------------------------------------------------------
// Measurement.

interface PhaseResult {
  phase: string;
  ops: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerOp: number;
  /** Commands per second of server CPU. */
  opsPerServerCpuSecond: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/**
 * Runs `operation` on every worker in a loop until the phase time is up (or the operation says there is
 * nothing left by returning false) and measures it.
 */
async function runPhase(
  name: string,
  server: Target,
  workers: number,
  operation: (worker: number) => Promise<boolean | undefined>,
  durationMs = PHASE_MS,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = server.cpuMs();
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (performance.now() < deadline) {
        const begin = performance.now();
        try {
          if ((await operation(worker)) === false) return;
          latencies.push(performance.now() - begin);
        } catch (error) {
          errors++;
          if (errors < 3) console.error(`${name}: ${(error as Error).message}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = server.cpuMs() - cpuBefore;
  latencies.sort((a, b) => a - b);
  const result: PhaseResult = {
    phase: name,
    ops: latencies.length,
    opsPerSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    serverCpuMsPerOp: latencies.length ? cpu / latencies.length : 0,
    opsPerServerCpuSecond: cpu > 0 ? (latencies.length * 1000) / cpu : 0,
    errors,
  };
  console.error(
    `${server.name.padEnd(8)} ${name.padEnd(24)} ${result.opsPerSecond.toFixed(0).padStart(7)} ops/s  p50 ${result.p50Ms.toFixed(2).padStart(7)} ms  ` +
      `p99 ${result.p99Ms.toFixed(2).padStart(7)} ms  cpu ${result.serverCpuMsPerOp.toFixed(3).padStart(7)} ms/op  errors ${errors}`,
  );
  return result;
}

const random = (n: number) => Math.floor(Math.random() * n);

/** Every phase against one server; returns its report. */
async function runBench(server: Target, messages: Buffer[]): Promise<Record<string, unknown>> {
  const results: PhaseResult[] = [];
  const report: Record<string, unknown> = { server: server.name };
  const login = async () => {
    const client = await BenchClient.open(server.port);
    await client.command(`LOGIN "${server.user}" "${server.password}"`);
    return client;
  };
  const clients = await Promise.all(Array.from({ length: CLIENTS }, login));

  // Load the mailbox through APPEND, every client taking its share.
  const memoryBeforeLoad = server.memoryBytes();
  let next = 0;
  const load = await runPhase(
    'APPEND (load)',
    server,
    CLIENTS,
    async (worker) => {
      const message = messages[next++];
      if (!message) return false;
      await clients[worker]!.command('APPEND INBOX', message);
      return true;
    },
    Number.POSITIVE_INFINITY,
  );
  results.push(load);
  report.memoryBeforeLoad = memoryBeforeLoad;
  report.memoryAfterLoad = server.memoryBytes();

  for (const client of clients) await client.command('SELECT INBOX');
  const count = messages.length;
  /** An operation on each worker's own long-lived session. */
  const each =
    (operation: (client: BenchClient) => Promise<unknown>) =>
    async (worker: number): Promise<boolean> => {
      await operation(clients[worker]!);
      return true;
    };
  const uid = () => 1 + random(count);

  results.push(
    await runPhase(
      'SELECT',
      server,
      CLIENTS,
      each((client) => client.command('SELECT INBOX')),
    ),
  );
  results.push(
    await runPhase(
      'FETCH headers (50)',
      server,
      CLIENTS,
      each(async (client) => {
        const first = 1 + random(Math.max(1, count - 50));
        await client.command(
          `UID FETCH ${first}:${first + 49} (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODY.PEEK[HEADER.FIELDS (References List-Id)])`,
        );
      }),
    ),
  );
  results.push(
    await runPhase(
      'FETCH body',
      server,
      CLIENTS,
      each(async (client) => {
        await client.command(`UID FETCH ${uid()} (BODYSTRUCTURE BODY.PEEK[])`);
      }),
    ),
  );
  results.push(
    await runPhase(
      'SEARCH header',
      server,
      CLIENTS,
      each(async (client) => {
        const word = SEARCH_WORDS[random(SEARCH_WORDS.length)];
        await client.command(random(2) ? `UID SEARCH SUBJECT "${word}"` : 'UID SEARCH UNSEEN FLAGGED');
      }),
    ),
  );
  results.push(
    await runPhase(
      'SEARCH body',
      server,
      CLIENTS,
      each(async (client) => {
        await client.command(`UID SEARCH BODY "${SEARCH_WORDS[random(SEARCH_WORDS.length)]}"`);
      }),
    ),
  );
  results.push(
    await runPhase(
      'STORE',
      server,
      CLIENTS,
      each(async (client) => {
        await client.command(`UID STORE ${uid()} ${random(2) ? '+' : '-'}FLAGS.SILENT (\\Flagged)`);
      }),
    ),
  );
  const small = Buffer.from('From: bench@bench.test\r\nSubject: small\r\n\r\nA short message.\r\n');
  results.push(
    await runPhase(
      'APPEND+EXPUNGE',
      server,
      CLIENTS,
      each(async (client) => {
        const appended = await client.command('APPEND INBOX (\\Deleted)', small);
        const newUid = /APPENDUID \d+ (\d+)/.exec(appended)?.[1];
        await client.command(`UID EXPUNGE ${newUid}`);
      }),
    ),
  );
  results.push(
    await runPhase(
      'IDLE round trip',
      server,
      CLIENTS,
      each((client) => client.idleRoundTrip()),
    ),
  );
  results.push(
    await runPhase(
      'mixed (long sessions)',
      server,
      CLIENTS,
      each(async (client) => {
        const roll = random(100);
        if (roll < 35) {
          const first = 1 + random(Math.max(1, count - 20));
          await client.command(`UID FETCH ${first}:${first + 19} (UID FLAGS ENVELOPE)`);
        } else if (roll < 60) await client.command(`UID FETCH ${uid()} (BODY.PEEK[])`);
        else if (roll < 70) await client.command(`UID SEARCH SUBJECT "${SEARCH_WORDS[random(SEARCH_WORDS.length)]}"`);
        else if (roll < 85) await client.command(`UID STORE ${uid()} +FLAGS.SILENT (\\Seen)`);
        else if (roll < 90) await client.command('NOOP');
        else if (roll < 95) await client.idleRoundTrip();
        else await client.command('STATUS INBOX (MESSAGES UNSEEN UIDNEXT)');
      }),
    ),
  );
  for (const client of clients) client.close();

  results.push(
    await runPhase('short sessions (10 cmds)', server, CLIENTS, async () => {
      const client = await login();
      await client.command('SELECT INBOX');
      await client.command(`UID FETCH ${Math.max(1, count - 20)}:* (UID FLAGS ENVELOPE)`);
      await client.command(`UID FETCH ${uid()} (BODY.PEEK[])`);
      await client.command('UID SEARCH UNSEEN');
      await client.command(`UID STORE ${uid()} +FLAGS.SILENT (\\Seen)`);
      await client.command('STATUS INBOX (MESSAGES UNSEEN)');
      await client.command('NOOP');
      await client.command('LOGOUT');
      client.close();
      return true;
    }),
  );

  // Memory per idle connection, before login and then authenticated and idling on INBOX: the RSS
  // slope between the first and the last quarter of the connections (the first quarter also grows the
  // heap to its working size, which is not per-connection memory).
  const measureSlope = async (total: number, open: () => Promise<BenchClient>, held: BenchClient[]) => {
    const quarter = Math.max(1, Math.floor(total / 4));
    const points: Array<{ count: number; memory: number; retained: number | undefined }> = [];
    while (held.length < total) {
      const batch = Math.min(50, quarter, total - held.length);
      held.push(...(await Promise.all(Array.from({ length: batch }, open))));
      if (held.length % quarter === 0 || held.length === total) {
        await new Promise((done) => setTimeout(done, 500));
        const retained = server.retainedBytes ? await server.retainedBytes() : undefined;
        points.push({ count: held.length, memory: server.memoryBytes(), retained });
      }
    }
    const first = points[0]!;
    const last = points.at(-1)!;
    const slope = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || last.count === first.count
        ? undefined
        : Math.round((b - a) / (last.count - first.count));
    return {
      connections: total,
      memory: last.memory,
      bytesPerConnection: slope(first.memory, last.memory),
      retainedBytesPerConnection: slope(first.retained, last.retained),
    };
  };
  const idle: BenchClient[] = [];
  report.idleBeforeLogin = await measureSlope(IDLE_CONNECTIONS, () => BenchClient.open(server.port), idle);
  for (const client of idle) client.close();
  await new Promise((done) => setTimeout(done, 1_000));

  const idling: BenchClient[] = [];
  report.idleAuthenticated = await measureSlope(
    IDLE_AUTHENTICATED,
    async () => {
      const client = await login();
      await client.command('SELECT INBOX');
      client.write('i1 IDLE\r\n');
      await client.line();
      return client;
    },
    idling,
  );
  const cpuIdleBefore = server.cpuMs();
  await new Promise((done) => setTimeout(done, 3_000));
  report.serverCpuMsPerSecondWhileIdling = (server.cpuMs() - cpuIdleBefore) / 3;
  for (const client of idling) client.close();
  report.phases = results;
  type Slope = { memory: number; bytesPerConnection?: number; retainedBytesPerConnection?: number };
  const before = report.idleBeforeLogin as Slope;
  const after = report.idleAuthenticated as Slope;
  const perConnection = (slope: Slope) =>
    `${slope.bytesPerConnection} B each (memory slope)` +
    (slope.retainedBytesPerConnection === undefined ? '' : `, ${slope.retainedBytesPerConnection} B retained after GC`);
  console.error(
    `${server.name}: ${IDLE_CONNECTIONS} connections before login: ${(before.memory / 1048576).toFixed(0)} MB, ` +
      `${perConnection(before)}; ${IDLE_AUTHENTICATED} authenticated sessions in IDLE: ${perConnection(after)}; ` +
      `${Number(report.serverCpuMsPerSecondWhileIdling).toFixed(1)} ms CPU/s while they idle`,
  );
  return report;
}

async function main(): Promise<void> {
  if (options.serve) return serve();
  const messages = loadMbox(mboxPath()).slice(0, MESSAGES);
  const reports: Record<string, unknown>[] = [];
  const starters = [startMarmot, ...(options.yardstick === 'dovecot' ? [startDovecot] : [])];
  for (const start of starters) {
    const server = await start();
    try {
      reports.push(await runBench(server, messages));
    } finally {
      await server.stop();
    }
  }
  if (reports.length === 2) {
    // Side by side: throughput and CPU per command relative to Dovecot.
    const [ours, theirs] = reports.map((report) => report.phases as PhaseResult[]) as [PhaseResult[], PhaseResult[]];
    console.error('\nphase                     ops/s marmot/dovecot   CPU per op marmot/dovecot');
    for (const phase of ours) {
      const other = theirs.find((candidate) => candidate.phase === phase.phase);
      if (!other) continue;
      console.error(
        `${phase.phase.padEnd(26)}${(phase.opsPerSecond / other.opsPerSecond).toFixed(2).padStart(8)}` +
          `${(phase.serverCpuMsPerOp / Math.max(other.serverCpuMsPerOp, 0.001)).toFixed(2).padStart(26)}`,
      );
    }
  }
  const json = JSON.stringify(
    { clients: CLIENTS, phaseSeconds: PHASE_MS / 1000, messages: messages.length, reports },
    null,
    2,
  );
  if (options.json) writeFileSync(options.json, json);
  process.stdout.write(`${json}\n`);
}

await main();
