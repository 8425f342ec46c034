/**
 * The SMTP outbound transport (nodemailer's SMTP client): either every message to one smarthost (a
 * provider's relay, with STARTTLS and AUTH), or direct delivery to each recipient domain's MX hosts.
 *
 * Reply codes decide (RFC 5321 §4.2.1): 2xx after DATA accepts, 4xx is temporary, 5xx permanent, per
 * recipient for RCPT and for all of them for MAIL and DATA. Anything that keeps us from getting an answer
 * (refused connection, timeout, TLS failure, a dropped session) is temporary. Direct delivery follows
 * RFC 5321 §5.1: MX hosts by preference (equal ones in random order), the domain itself when it has no MX,
 * the next MX when one cannot be reached; RFC 7505's null MX refuses mail for good.
 *
 * Trusts its configuration; everything a server or DNS says is untrusted and only classified and quoted
 * (replies are cut to MAX_REPLY_CHARS).
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import {
  type DeliveryStatus,
  enhancedStatusOf,
  type OutboundDelivery,
  type OutboundTransport,
  outcomeForAll,
  type RecipientOutcome,
} from './outbound-transport.ts';

/** RFC 5321 §4.5.3.2 asks for minutes per command; these keep one attempt well inside a worker's lease. */
const CONNECTION_TIMEOUT_MS = 30_000;
const GREETING_TIMEOUT_MS = 60_000;
const SOCKET_TIMEOUT_MS = 5 * 60_000;
const DNS_TIMEOUT_MS = 10_000;
const DNS_TRIES = 2;
/** MX hosts tried per domain and attempt. */
export const MAX_MX_HOSTS = 5;
/** Recipient domains delivered to at once in one attempt. */
const DOMAIN_CONCURRENCY = 4;
/** How much of a server's reply is kept (logs, queue, DSN). */
export const MAX_REPLY_CHARS = 512;
export const SMTP_PORT = 25;

/**
 * starttls: STARTTLS required and the certificate verified (what a smarthost needs); implicit: TLS from
 * the first byte (port 465), verified; opportunistic: STARTTLS when offered, unverified (RFC 7435, what MX
 * delivery does without MTA-STS or DANE); none: plain text.
 */
export type SmtpTlsMode = 'starttls' | 'implicit' | 'opportunistic' | 'none';

export interface SmarthostOptions {
  host: string;
  port: number;
  tls: SmtpTlsMode;
  auth?: { user: string; pass: string };
  /** Our name in EHLO. */
  heloName: string;
}

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** Like `dns.promises.resolveMx`, rejecting with node:dns codes (ENOTFOUND, ENODATA, ...). */
export type MxResolver = (domain: string) => Promise<MxRecord[]>;

export interface DirectMxOptions {
  heloName: string;
  /** 25; tests point it at a local sink. */
  port?: number;
  resolveMx?: MxResolver;
  tls?: SmtpTlsMode;
}

/** node:dns, through the given servers (`host[:port]`) or the system's. */
export function systemMxResolver(servers?: string[]): MxResolver {
  const resolver = new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: DNS_TRIES });
  if (servers?.length) resolver.setServers(servers);
  return (domain) => resolver.resolveMx(domain);
}

interface HostAttempt {
  /** False when no SMTP session came about: the caller may try another host. */
  reached: boolean;
  outcomes: RecipientOutcome[];
}

interface SmtpErrorFields {
  code?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: SmtpErrorFields[];
  message?: string;
}

export class SmtpTransport implements OutboundTransport {
  private constructor(
    readonly description: string,
    private readonly deliver: (delivery: OutboundDelivery) => Promise<RecipientOutcome[]>,
  ) {}

  static smarthost(options: SmarthostOptions): SmtpTransport {
    return new SmtpTransport(`smarthost ${options.host}:${options.port}`, async (delivery) => {
      const attempt = await deliverToHost(options.host, options.port, options.tls, options, delivery);
      return attempt.outcomes;
    });
  }

  static directMx(options: DirectMxOptions): SmtpTransport {
    const resolveMx = options.resolveMx ?? systemMxResolver();
    const port = options.port ?? SMTP_PORT;
    const tls = options.tls ?? 'opportunistic';
    return new SmtpTransport('direct MX', async (delivery) => {
      const byDomain = new Map<string, string[]>();
      for (const recipient of delivery.envelope.recipients) {
        const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
        byDomain.set(domain, [...(byDomain.get(domain) ?? []), recipient]);
      }
      const groups = [...byDomain];
      const outcomes: RecipientOutcome[] = [];
      let next = 0;
      const worker = async () => {
        while (next < groups.length) {
          const [domain, recipients] = groups[next++]!;
          const hosts = await mxHosts(resolveMx, domain);
          if (!hosts.ok) {
            outcomes.push(...outcomeForAll(recipients, hosts.outcome));
            continue;
          }
          const part = { ...delivery, envelope: { ...delivery.envelope, recipients } };
          outcomes.push(...(await deliverToFirstReachable(hosts.hosts, port, tls, options, part)));
        }
      };
      await Promise.all(Array.from({ length: Math.min(DOMAIN_CONCURRENCY, groups.length) }, worker));
      return outcomes;
    });
  }

  async send(delivery: OutboundDelivery): Promise<RecipientOutcome[]> {
    if (delivery.envelope.recipients.length === 0) throw new RangeError('a delivery needs a recipient');
    return this.deliver(delivery);
  }

  async close(): Promise<void> {}
}

type MxHosts = { ok: true; hosts: string[] } | { ok: false; outcome: Omit<RecipientOutcome, 'recipient'> };

async function mxHosts(resolveMx: MxResolver, domain: string): Promise<MxHosts> {
  // An address literal (`user@[192.0.2.1]`, RFC 5321 §4.1.3) names its host.
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain)?.[1];
  if (literal !== undefined) {
    return isIP(literal)
      ? { ok: true, hosts: [literal] }
      : failure('permanent', '5.1.2', `bad address literal ${domain}`);
  }
  let records: MxRecord[];
  try {
    records = await resolveMx(domain);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOTFOUND') return failure('permanent', '5.1.2', `domain ${domain} does not exist`);
    if (code === 'ENODATA') return { ok: true, hosts: [domain] }; // no MX: the domain itself (RFC 5321 §5.1)
    return failure('temporary', '4.4.3', `MX lookup for ${domain} failed: ${code ?? (error as Error).message}`);
  }
  if (records.length === 0) return { ok: true, hosts: [domain] };
  if (records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.')) {
    return failure('permanent', '5.1.10', `${domain} accepts no mail (null MX, RFC 7505)`);
  }
  const shuffled = records
    .filter((record) => record.exchange !== '' && record.exchange !== '.')
    .map((record) => ({ record, tiebreak: Math.random() }))
    .sort((a, b) => a.record.priority - b.record.priority || a.tiebreak - b.tiebreak)
    .map(({ record }) => record.exchange.replace(/\.$/, ''));
  return { ok: true, hosts: [...new Set(shuffled)].slice(0, MAX_MX_HOSTS) };
}

function failure(status: DeliveryStatus, enhancedStatus: string, reply: string): MxHosts {
  return { ok: false, outcome: { status, enhancedStatus, reply } };
}

async function deliverToFirstReachable(
  hosts: string[],
  port: number,
  tls: SmtpTlsMode,
  options: { heloName: string },
  delivery: OutboundDelivery,
): Promise<RecipientOutcome[]> {
  const unreachable: string[] = [];
  for (const host of hosts) {
    const attempt = await deliverToHost(host, port, tls, options, delivery);
    if (attempt.reached) return attempt.outcomes;
    unreachable.push(attempt.outcomes[0]?.reply ?? host);
  }
  return outcomeForAll(delivery.envelope.recipients, {
    status: 'temporary',
    enhancedStatus: '4.4.1',
    reply: clip(`no MX host answered: ${unreachable.join('; ')}`),
  });
}

/** One SMTP session: connect, (STARTTLS,) (AUTH,) MAIL, RCPT..., DATA, QUIT. */
async function deliverToHost(
  host: string,
  port: number,
  tls: SmtpTlsMode,
  options: { heloName: string; auth?: { user: string; pass: string } },
  delivery: OutboundDelivery,
): Promise<HostAttempt> {
  const { recipients } = delivery.envelope;
  const verify = tls === 'starttls' || tls === 'implicit';
  const connection = new SMTPConnection({
    host,
    port,
    secure: tls === 'implicit',
    requireTLS: tls === 'starttls',
    ignoreTLS: tls === 'none',
    opportunisticTLS: tls === 'opportunistic',
    name: options.heloName,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    tls: { rejectUnauthorized: verify, ...(isIP(host) ? {} : { servername: host }) },
    logger: false,
  });
  // Errors also reach the callbacks below; the listener keeps an 'error' event from being unhandled.
  connection.on('error', () => {});
  let connected = false;
  try {
    try {
      await step<void>(connection, (done) => connection.connect((error) => done(error ?? null)));
      connected = true;
    } catch (error) {
      return { reached: false, outcomes: outcomeForAll(recipients, sessionFailure(host, error)) };
    }
    if (options.auth) {
      try {
        await step<boolean>(connection, (done) =>
          connection.login({ user: options.auth!.user, pass: options.auth!.pass }, done),
        );
      } catch (error) {
        // Our credentials are wrong or the relay refuses them: ours to fix, so retry rather than bounce.
        const failed = sessionFailure(host, error);
        return { reached: true, outcomes: outcomeForAll(recipients, { ...failed, status: 'temporary' }) };
      }
    }
    const eightBit = delivery.message.some((byte) => byte > 0x7f);
    try {
      const info = await step<SMTPConnection.SentMessageInfo>(connection, (done) =>
        connection.send(
          { from: delivery.envelope.mailFrom, to: recipients, size: delivery.message.length, use8BitMime: eightBit },
          delivery.message,
          done as never,
        ),
      );
      const rejected = new Map(
        ((info.rejectedErrors ?? []) as SmtpErrorFields[]).map((error) => [error.recipient, error] as const),
      );
      return {
        reached: true,
        outcomes: recipients.map((recipient) => {
          const refusal = rejected.get(recipient);
          if (refusal) return { recipient, ...replyOutcome(host, refusal) };
          return {
            recipient,
            status: 'accepted',
            enhancedStatus: '2.0.0',
            reply: clip(info.response),
            remoteMta: host,
          };
        }),
      };
    } catch (error) {
      const fields = error as SmtpErrorFields;
      const perRecipient = new Map(
        (fields.rejectedErrors ?? []).map((refusal) => [refusal.recipient, refusal] as const),
      );
      const whole = fields.responseCode ? replyOutcome(host, fields) : sessionFailure(host, error);
      return {
        reached: true,
        outcomes: recipients.map((recipient) => {
          const refusal = perRecipient.get(recipient);
          return { recipient, ...(refusal ? replyOutcome(host, refusal) : whole) };
        }),
      };
    }
  } finally {
    if (connected) connection.quit();
    else connection.close();
  }
}

/** Runs one client operation; a session that dies meanwhile rejects it rather than leaving it hanging. */
function step<T>(
  connection: SMTPConnection,
  start: (done: (error: Error | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      connection.off('end', onEnd);
      if (error) reject(error);
      else resolve(value as T);
    };
    const onEnd = () => finish(Object.assign(new Error('connection closed'), { code: 'ECONNECTION' }));
    connection.on('end', onEnd);
    start(finish);
  });
}

function replyOutcome(host: string, error: SmtpErrorFields): Omit<RecipientOutcome, 'recipient'> {
  const code = error.responseCode ?? 0;
  const reply = clip(error.response ?? error.message ?? String(code));
  const permanent = code >= 500 && code < 600;
  const fallback = permanent ? '5.0.0' : '4.0.0';
  return {
    status: permanent ? 'permanent' : 'temporary',
    enhancedStatus: enhancedStatusOf(reply, code) ?? fallback,
    reply,
    remoteMta: host,
  };
}

/** No reply to classify: the session failed (network, TLS, timeout, protocol). Always temporary. */
function sessionFailure(host: string, error: unknown): Omit<RecipientOutcome, 'recipient'> {
  const fields = error as SmtpErrorFields;
  if (fields.responseCode) return replyOutcome(host, fields);
  return {
    status: 'temporary',
    enhancedStatus: '4.4.1',
    reply: clip(`${host}: ${fields.code ?? 'error'} ${fields.message ?? String(error)}`),
  };
}

function clip(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ').trim();
  return oneLine.length > MAX_REPLY_CHARS ? `${oneLine.slice(0, MAX_REPLY_CHARS)}…` : oneLine;
}
