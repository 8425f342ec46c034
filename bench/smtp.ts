/**
 * SMTP benchmark: N concurrent clients send 10 KB and 1 MB messages to the local MX for a bounded
 * time, against two servers measured side by side in the same run:
 *   - marmot: the real system (`fargate/main.ts`, local adapters) in its own process, full pipeline:
 *     spool, scan and filter steps in-process, MIME structure, index entries, quota, fsyncs;
 *   - sink: a bare smtp-server in its own process that only writes each message to a file and fsyncs it.
 * Reported per profile: messages/s, p50/p99 latency (MAIL to the DATA reply), server CPU ms per message
 * (from /proc/<pid>/stat), split by thread kind and into user and system time (from /proc/<pid>/task:
 * the main thread, libuv's pool that does the file I/O, V8's GC and compiler workers), the server's peak
 * RSS (VmHWM), and marmot's CPU per message as a multiple of the sink's. The JSON result goes to bench/results/.
 *
 *   node --import tsx bench/smtp.ts            (BENCH_SECONDS, BENCH_CLIENTS, BENCH_LARGE_CLIENTS override)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../', import.meta.url));
const SECONDS_PER_PROFILE = Number(process.env.BENCH_SECONDS ?? 12);
const SMALL_CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const LARGE_CLIENTS = Number(process.env.BENCH_LARGE_CLIENTS ?? 8);
const SMALL_BYTES = 10 * 1024;
const LARGE_BYTES = 1024 * 1024;
const WARM_UP_MS = 1500;
const CLOCK_TICKS_PER_SECOND = 100;
const RECIPIENT = 'bench@bench.example';

interface Profile {
  name: string;
  clients: number;
  messageBytes: number;
}

interface Measurement {
  server: 'marmot' | 'sink';
  profile: string;
  clients: number;
  messageBytes: number;
  seconds: number;
  messages: number;
  failures: number;
  messagesPerSecond: number;
  latencyMs: { p50: number; p99: number };
  serverCpuMsPerMessage: number;
  /** By thread name (MainThread, libuv-worker, V8Worker, ...): user and system CPU ms per message. */
  serverCpuMsPerMessageByThread: Record<string, { user: number; system: number }>;
  serverPeakRssMb: number;
}

async function main(): Promise<void> {
  const profiles: Profile[] = [
    { name: '10KB', clients: SMALL_CLIENTS, messageBytes: SMALL_BYTES },
    { name: '1MB', clients: LARGE_CLIENTS, messageBytes: LARGE_BYTES },
  ];
  const results: Measurement[] = [];
  for (const server of ['marmot', 'sink'] as const) {
    const running = server === 'marmot' ? await startMarmot() : await startSink();
    try {
      for (const profile of profiles) {
        const measurement = await measure(server, running, profile);
        results.push(measurement);
        process.stderr.write(`${JSON.stringify(measurement)}\n`);
      }
    } finally {
      await running.stop();
    }
  }
  const ratios = profiles.map((profile) => {
    const marmot = results.find((result) => result.server === 'marmot' && result.profile === profile.name)!;
    const sink = results.find((result) => result.server === 'sink' && result.profile === profile.name)!;
    return {
      profile: profile.name,
      cpuPerMessageVsSink: round(marmot.serverCpuMsPerMessage / sink.serverCpuMsPerMessage),
      throughputVsSink: round(marmot.messagesPerSecond / sink.messagesPerSecond),
    };
  });
  const report = {
    benchmark: 'smtp',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    secondsPerProfile: SECONDS_PER_PROFILE,
    results,
    ratios,
  };
  const resultsDir = join(REPOSITORY, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `smtp-${report.at.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ results, ratios, file }, null, 2)}\n`);
}

interface RunningServer {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startMarmot(): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marmot-bench-'));
  const env = {
    ...process.env,
    MARMOT_DATA_DIR: dataDir,
    MARMOT_LISTEN_HOST: '127.0.0.1',
    MARMOT_HOSTNAME: 'bench.example',
    MARMOT_LOG_LEVEL: 'info',
    MARMOT_SMTP_MAX_MESSAGE_BYTES: String(64 * 1024 * 1024),
    MARMOT_SMTP_PORT: '0',
    MARMOT_SUBMISSION_PORT: '0',
    MARMOT_SUBMISSION_TLS_PORT: '0',
    MARMOT_IMAP_PORT: '0',
    MARMOT_IMAPS_PORT: '0',
    MARMOT_MANAGESIEVE_PORT: '0',
  };
  await seed(env);
  const child = spawn(process.execPath, ['--import', 'tsx', 'fargate/main.ts'], {
    cwd: REPOSITORY,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`marmot exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { message?: string; listener?: string; port?: number };
      if (entry.message === 'listening' && entry.listener === 'smtp') port = entry.port ?? 0;
      if (entry.message === 'mail system started') resolve();
    });
  });
  child.removeAllListeners('exit');
  return {
    pid: child.pid!,
    port,
    async stop() {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates the domain and account the clients send to, in the data directory, before the server starts. */
async function seed(env: Record<string, string | undefined>): Promise<void> {
  const { loadConfig } = await import('../shared/config/config.ts');
  const { openStores } = await import('../shared/store/open-stores.ts');
  const { Directory } = await import('../shared/directory/directory.ts');
  const { openConfiguredKeyVault } = await import('../shared/keyvault/open-key-vault.ts');
  const config = loadConfig(env);
  const stores = await openStores(config.store);
  try {
    const keyVault = await openConfiguredKeyVault(config.keyVault, 'seeding accounts');
    const directory = new Directory(stores.metadata, { keyVault });
    await directory.addDomain('bench.example');
    await directory.addAccount(RECIPIENT, { password: randomBytes(12).toString('hex') });
  } finally {
    await stores.close();
  }
}

async function startSink(): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'marmot-bench-sink-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/smtp.ts', '--sink', dir], {
    cwd: REPOSITORY,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { port: number }).port),
    );
  });
  child.removeAllListeners('exit');
  return {
    pid: child.pid!,
    port,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(forced);
}

async function measure(server: Measurement['server'], running: RunningServer, profile: Profile): Promise<Measurement> {
  const body = messageBody(profile.messageBytes);
  // Each client from its own loopback address, as separate hosts would be (and per-address limits see them).
  const clients = await Promise.all(
    Array.from({ length: profile.clients }, (_, index) =>
      BenchClient.open(running.port, `127.0.${Math.floor(index / 250)}.${(index % 250) + 2}`),
    ),
  );
  const latencies: number[] = [];
  let failures = 0;
  const phase = { now: 'warm-up' as 'warm-up' | 'measure' | 'done' };
  const done = () => phase.now === 'done';
  const loops = clients.map(async (client, index) => {
    let sequence = 0;
    while (!done()) {
      const measured = phase.now === 'measure';
      const started = performance.now();
      const ok = await client.send(`${index}.${sequence++}`, body);
      if (!measured || done()) continue;
      if (ok) latencies.push(performance.now() - started);
      else failures++;
    }
  });
  // Warm-up (JIT, caches, first mailbox writes), then the measured window.
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
  const cpuBefore = await cpuMs(running.pid);
  const threadsBefore = await cpuMsByThread(running.pid);
  const startedAt = performance.now();
  phase.now = 'measure';
  await new Promise((resolve) => setTimeout(resolve, SECONDS_PER_PROFILE * 1000));
  phase.now = 'done';
  const seconds = (performance.now() - startedAt) / 1000;
  const cpuUsed = (await cpuMs(running.pid)) - cpuBefore;
  const threadsAfter = await cpuMsByThread(running.pid);
  await Promise.all(loops);
  for (const client of clients) client.close();
  latencies.sort((a, b) => a - b);
  return {
    server,
    profile: profile.name,
    clients: profile.clients,
    messageBytes: profile.messageBytes,
    seconds: round(seconds),
    messages: latencies.length,
    failures,
    messagesPerSecond: round(latencies.length / seconds),
    latencyMs: { p50: round(percentile(latencies, 0.5)), p99: round(percentile(latencies, 0.99)) },
    serverCpuMsPerMessage: round(cpuUsed / Math.max(1, latencies.length)),
    serverCpuMsPerMessageByThread: Object.fromEntries(
      [...threadsAfter].flatMap(([name, after]) => {
        const before = threadsBefore.get(name) ?? { user: 0, system: 0 };
        const perMessage = (ms: number) => Math.round((ms * 1000) / Math.max(1, latencies.length)) / 1000;
        const used = { user: perMessage(after.user - before.user), system: perMessage(after.system - before.system) };
        return used.user + used.system > 0 ? [[name, used]] : [];
      }),
    ),
    serverPeakRssMb: round((await peakRssKb(running.pid)) / 1024),
  };
}

/** A message of about `size` bytes: headers, then 76-character lines; content varies per message. */
function messageBody(size: number): (id: string) => Buffer {
  const line = `${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3).slice(0, 76)}\r\n`;
  const filler = line.repeat(Math.ceil(size / line.length));
  return (id) =>
    Buffer.from(
      `From: bench@client.example\r\nTo: ${RECIPIENT}\r\nSubject: bench ${id}\r\n` +
        `Message-ID: <${id}.${randomBytes(6).toString('hex')}@client.example>\r\nDate: ${new Date().toUTCString()}\r\n\r\n` +
        `${filler.slice(0, Math.max(0, size - 200))}\r\n.\r\n`,
    );
}

/** One SMTP connection that sends messages back to back (PIPELINING for the envelope). */
class BenchClient {
  private buffer = '';
  private waiters: Array<(line: string | undefined) => void> = [];
  private lines: string[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let end = this.buffer.indexOf('\r\n'); end >= 0; end = this.buffer.indexOf('\r\n')) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        if (line[3] === '-') continue;
        const waiter = this.waiters.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.waiters.splice(0)) waiter(undefined);
    });
    socket.on('error', () => {});
  }

  static async open(port: number, localAddress: string): Promise<BenchClient> {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.setNoDelay(true);
    const client = new BenchClient(socket);
    const greeting = await client.reply();
    if (!greeting?.startsWith('220')) throw new Error(`the server refused a client: ${greeting}`);
    socket.write('EHLO bench.client\r\n');
    await client.reply();
    return client;
  }

  private reply(): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined || this.closed) return Promise.resolve(line);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async send(id: string, body: (id: string) => Buffer): Promise<boolean> {
    if (this.closed) throw new Error('the server closed a client connection');
    this.socket.write(`MAIL FROM:<bench@client.example>\r\nRCPT TO:<${RECIPIENT}>\r\nDATA\r\n`);
    const mail = await this.reply();
    const rcpt = await this.reply();
    const data = await this.reply();
    if (!data?.startsWith('354')) {
      if (mail?.startsWith('250')) this.socket.write('RSET\r\n');
      if (mail?.startsWith('250')) await this.reply();
      return false;
    }
    this.socket.write(body(id));
    const done = await this.reply();
    return Boolean(rcpt?.startsWith('250') && done?.startsWith('250'));
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}

async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU ms so far of the process's threads, summed by thread name (a pool's threads share one). */
async function cpuMsByThread(pid: number): Promise<Map<string, { user: number; system: number }>> {
  const byName = new Map<string, { user: number; system: number }>();
  for (const thread of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${thread}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const total = byName.get(name) ?? { user: 0, system: 0 };
    total.user += (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_SECOND;
    total.system += (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SECOND;
    byName.set(name, total);
  }
  return byName;
}

async function peakRssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}

function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

// The sink: run as `bench/smtp.ts --sink <dir>`, prints its port.
async function runSink(): Promise<void> {
  const { SMTPServer } = await import('smtp-server');
  const dir = process.argv[3]!;
  let sequence = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    size: 64 * 1024 * 1024,
    onData(stream, _session, callback) {
      (async () => {
        const file = await open(join(dir, `${process.pid}-${sequence++}.eml`), 'w');
        try {
          for await (const chunk of stream) await file.write(chunk as Buffer);
          await file.sync();
        } finally {
          await file.close();
        }
      })().then(
        () => callback(),
        (error: Error) => callback(error),
      );
    },
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
  });
}

// Dispatch last: the classes above must be initialised before either side runs.
if (process.argv[2] === '--sink') await runSink();
else await main();
