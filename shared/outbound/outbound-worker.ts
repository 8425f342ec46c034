/**
 * The outbound delivery worker: drains the outbound queue. For each due entry it
 *   1. claims it (a conditional write in the queue: two workers never hold the same entry),
 *   2. signs it once through the dkim-sign step (invoker port) for the envelope sender's domain, and keeps
 *      the signature in the entry before sending, so every attempt (even after a crash) sends the same bytes,
 *   3. sends it to the recipients still pending through the outbound transport,
 *   4. records each recipient's outcome under the claim: accepted, refused for good, or still pending,
 *   5. tells the sender: a failure DSN for recipients that failed in this attempt (refused, or still
 *      undeliverable when the lifetime ran out), optionally one delay DSN,
 *   6. releases the entry with its next attempt time (exponential backoff, never past the lifetime), or
 *      removes it once no recipient is pending.
 * Nothing leaves the queue before every recipient was accepted or given up on. A worker that dies holds
 * its claim until the lease ends; the entry is then sent again (at least once, as SMTP promises). Failing
 * steps (signing, the store) leave the entry for the next attempt rather than sending it differently.
 *
 * Trusts the queue's entries (written by the SMTP pipeline); what the transport and the signing step say
 * is classified, never trusted further (the step's result is checked by sign-step.ts).
 */
import { createHash } from 'node:crypto';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DKIM_SIGN_FUNCTION, parseDkimSignResult } from '../dkim/sign-step.ts';
import type { Invoker } from '../invoker/invoker.ts';
import type { Logger } from '../log/logger.ts';
import { Metric, MetricDimension, MetricReason } from '../metrics/metric-names.ts';
import {
  ClaimLostError,
  type OutboundClaim,
  type OutboundMessage,
  type OutboundQueue,
  type RecipientState,
} from '../outbound-queue/outbound-queue.ts';
import type { OutboundTransport, RecipientOutcome } from '../outbound-transport/outbound-transport.ts';
import type { BlobStore } from '../store/blob.ts';
import { BlobNotFoundError } from '../store/errors.ts';
import { composeDsn, type DsnAction, type DsnRecipient } from './delivery-status-notification.ts';
import type { DsnDestination, DsnLetter } from './dsn-delivery.ts';

/** Backoff is spread by ±10% so entries that failed together do not retry together. */
const RETRY_JITTER = 0.1;
/** Queue depth and age are reported at most this often. */
const QUEUE_METRICS_INTERVAL_MS = 60_000;
/** Blobs left by interrupted enqueues are looked for this often. */
const ORPHAN_SWEEP_INTERVAL_MS = 60 * 60 * 1000;
/** How long stop() waits for sends in flight; their claims cover anything still running after. */
const STOP_WAIT_MS = 20_000;
/** The null sender's message is signed for its From domain; the header section read for it is bounded. */
const MAX_FROM_SEARCH_BYTES = 64 * 1024;

export interface OutboundWorkerSettings {
  hostname: string;
  /** How long the worker waits for the dkim-sign step. */
  signTimeoutMs: number;
  lifetimeMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  delayWarningMs?: number;
  pollMs: number;
  leaseMs: number;
  concurrency: number;
}

export interface OutboundWorkerDependencies {
  queue: OutboundQueue;
  blobs: BlobStore;
  transport: OutboundTransport;
  invoker: Invoker;
  deliverDsn: (letter: DsnLetter) => Promise<DsnDestination>;
  logger: Logger;
  metrics?: Metrics;
  settings: OutboundWorkerSettings;
}

/** min · 2^(attempts-1), capped at max, ±10%. */
export function retryDelayMs(attempts: number, minMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

export class OutboundWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastQueueMetrics = 0;
  private lastSweep = Date.now();

  constructor(private readonly deps: OutboundWorkerDependencies) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking entries and waits (up to STOP_WAIT_MS) for the ones in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    if (!this.loop) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.loop,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STOP_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** One pass: claims and processes up to `concurrency` due entries; resolves with how many it took. */
  async runOnce(now = new Date()): Promise<number> {
    const { due, depth, oldest } = await this.deps.queue.due(now, this.deps.settings.concurrency);
    this.reportQueue(now, depth, oldest);
    const taken = await Promise.all(due.map((message) => this.process(message)));
    return taken.filter(Boolean).length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let taken = 0;
      try {
        taken = await this.runOnce();
        if (Date.now() - this.lastSweep >= ORPHAN_SWEEP_INTERVAL_MS) {
          this.lastSweep = Date.now();
          const removed = await this.deps.queue.sweepOrphanBlobs();
          if (removed > 0) this.deps.logger.info('removed orphaned queue blobs', { removed });
        }
      } catch (error) {
        this.deps.logger.error('outbound queue pass failed', { error });
      }
      // Straight on while there is work; otherwise wait for the next poll (or stop).
      if (taken === 0 && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.deps.settings.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** Claims and works one entry; false when another worker had it first. */
  private async process(candidate: OutboundMessage): Promise<boolean> {
    const { queue, settings } = this.deps;
    const claim = await queue.claim(candidate, new Date(), settings.leaseMs);
    if (!claim) return false;
    const log = this.deps.logger.child({ queueId: claim.message.id });
    try {
      await this.attempt(claim, log);
    } catch (error) {
      if (error instanceof ClaimLostError) log.warn('claim lost while sending; another worker has the entry', {});
      else log.error('outbound attempt failed; the entry is retried when its claim expires', { error });
    } finally {
      this.publishMetrics();
    }
    return true;
  }

  private async attempt(claim: OutboundClaim, log: Logger): Promise<void> {
    const { queue, settings } = this.deps;
    const message = claim.message;
    const attemptAt = new Date();
    let states = message.recipientStates;
    let dkimSignature = message.dkimSignature;
    const pending = states.filter((state) => state.status === 'pending').map((state) => state.address);

    if (pending.length > 0) {
      let body: Buffer | undefined;
      try {
        body = await this.deps.blobs.read(message.blobKey);
      } catch (error) {
        if (!(error instanceof BlobNotFoundError)) throw error;
        log.error('queued message body is missing', { blobKey: message.blobKey });
      }
      let outcomes: RecipientOutcome[];
      if (!body) {
        outcomes = pending.map((recipient) => ({
          recipient,
          status: 'permanent',
          enhancedStatus: '5.3.0',
          reply: 'the queued message was lost',
        }));
      } else {
        const signed = dkimSignature === undefined ? await this.sign(message, body, log) : { header: dkimSignature };
        if ('failure' in signed) {
          outcomes = pending.map((recipient) => ({
            recipient,
            status: 'temporary',
            enhancedStatus: '4.3.0',
            reply: `not sent: DKIM signing failed (${signed.failure})`,
          }));
        } else {
          if (signed.header !== undefined && dkimSignature === undefined) {
            dkimSignature = signed.header;
            await queue.saveSignature(claim, dkimSignature);
          }
          outcomes = await this.deps.transport.send({
            id: message.id,
            envelope: { mailFrom: message.mailFrom, recipients: pending },
            message: dkimSignature ? Buffer.concat([Buffer.from(dkimSignature), body]) : body,
          });
        }
      }
      states = mergeOutcomes(states, outcomes, attemptAt);
      this.countOutcomes(outcomes);
      log.info('delivery attempt', {
        attempt: message.attempts,
        outcomes: outcomes.map((o) => ({ recipient: o.recipient, status: o.status, reply: o.reply })),
      });
    }

    const deadline = new Date(message.enqueuedAt.getTime() + settings.lifetimeMs);
    const expired = attemptAt >= deadline;
    const newlyFailed = new Set(
      states
        .filter((state, i) => state.status === 'failed' && message.recipientStates[i]?.status !== 'failed')
        .map((state) => state.address),
    );
    if (expired) {
      states = states.map((state) => {
        if (state.status !== 'pending') return state;
        newlyFailed.add(state.address);
        this.count(Metric.DeliveryFailures.name, 1, MetricReason.Expired);
        return {
          ...state,
          status: 'failed',
          enhancedStatus: '4.4.7',
          reply: `gave up after ${message.attempts} attempt(s) in ${describeDuration(settings.lifetimeMs)}: ${state.reply ?? 'no answer'}`,
          at: attemptAt,
        };
      });
    }
    if (newlyFailed.size > 0) {
      await this.notify(
        message,
        'failed',
        `failed-a${message.attempts}`,
        attemptAt,
        states.filter((s) => newlyFailed.has(s.address)),
      );
    }

    const stillPending = states.filter((state) => state.status === 'pending');
    if (stillPending.length === 0) {
      await queue.recordAttempt(claim, { recipientStates: states });
      await queue.complete(claim);
      log.info('outbound message done', {
        sent: states.filter((s) => s.status === 'sent').length,
        failed: states.filter((s) => s.status === 'failed').length,
      });
      return;
    }

    let warnedAt = message.warnedAt;
    if (
      settings.delayWarningMs !== undefined &&
      !warnedAt &&
      attemptAt.getTime() - message.enqueuedAt.getTime() >= settings.delayWarningMs
    ) {
      await this.notify(message, 'delayed', 'delayed', attemptAt, stillPending, deadline);
      warnedAt = attemptAt;
    }
    const retryAt = attemptAt.getTime() + retryDelayMs(message.attempts, settings.retryMinMs, settings.retryMaxMs);
    await queue.recordAttempt(claim, {
      recipientStates: states,
      ...(warnedAt ? { warnedAt } : {}),
      nextAttemptAt: new Date(Math.min(retryAt, deadline.getTime())),
    });
  }

  /** The signature field, `{}` to send unsigned, or why signing failed (the attempt is then deferred). */
  private async sign(
    message: OutboundMessage,
    body: Buffer,
    log: Logger,
  ): Promise<{ header?: string } | { failure: string }> {
    const domain = signingDomainOf(message.mailFrom, body);
    if (!domain) return {};
    try {
      const result = parseDkimSignResult(
        await this.deps.invoker.invoke(
          DKIM_SIGN_FUNCTION,
          { blobKey: message.blobKey, domain },
          { timeoutMs: this.deps.settings.signTimeoutMs },
        ),
      );
      if (result.signed) return { header: result.header };
      log.info('sending unsigned', { domain, reason: result.reason, detail: result.detail });
      return {};
    } catch (error) {
      log.warn('dkim-sign step failed', { domain, error });
      return { failure: error instanceof Error ? error.message : String(error) };
    }
  }

  private async notify(
    message: OutboundMessage,
    kind: DsnAction,
    keyPart: string,
    date: Date,
    recipients: RecipientState[],
    deadline?: Date,
  ): Promise<void> {
    if (message.mailFrom === '') return; // never a DSN about a DSN (RFC 5321 §4.5.5)
    let original: Buffer;
    try {
      original = await this.deps.blobs.read(message.blobKey, { offset: 0, length: 64 * 1024 });
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
      original = Buffer.alloc(0);
    }
    const dsnRecipients: DsnRecipient[] = recipients.map((state) => ({
      address: state.address,
      action: kind,
      status: state.enhancedStatus ?? (kind === 'failed' ? '5.0.0' : '4.0.0'),
      ...(state.reply ? { diagnostic: state.reply } : {}),
      ...(state.remoteMta ? { remoteMta: state.remoteMta } : {}),
      ...(state.at ? { lastAttemptAt: state.at } : {}),
      ...(deadline ? { willRetryUntil: deadline } : {}),
    }));
    const dsn = composeDsn({
      kind,
      reportingMta: this.deps.settings.hostname,
      queueId: message.id,
      to: message.mailFrom,
      arrivalDate: message.enqueuedAt,
      date,
      recipients: dsnRecipients,
      original,
    });
    const key = createHash('sha256').update(`${keyPart}\0${message.id}`).digest('base64url');
    const destination = await this.deps.deliverDsn({
      key,
      to: message.mailFrom,
      submittedBy: message.submittedBy,
      message: dsn,
    });
    this.deps.logger.info('DSN', { queueId: message.id, kind, destination, recipients: recipients.length });
  }

  private countOutcomes(outcomes: RecipientOutcome[]): void {
    const accepted = outcomes.filter((o) => o.status === 'accepted').length;
    const refused = outcomes.filter((o) => o.status === 'permanent').length;
    if (accepted > 0) this.count(Metric.Deliveries.name, accepted);
    if (refused > 0) this.count(Metric.DeliveryFailures.name, refused, MetricReason.RemoteRejected);
  }

  private count(name: string, value: number, reason?: string): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    if (reason === undefined) {
      metrics.addMetric(name, MetricUnit.Count, value);
      return;
    }
    // Its own document: the [service] total and the [service, Reason] breakdown.
    const single = metrics.singleMetric();
    single.addDimensions({});
    single.addDimensions({ [MetricDimension.Reason]: reason });
    single.addMetric(name, MetricUnit.Count, value);
  }

  private reportQueue(now: Date, depth: number, oldest: Date | undefined): void {
    const metrics = this.deps.metrics;
    if (!metrics || now.getTime() - this.lastQueueMetrics < QUEUE_METRICS_INTERVAL_MS) return;
    this.lastQueueMetrics = now.getTime();
    metrics.addMetric(Metric.QueueDepth.name, MetricUnit.Count, depth);
    const age = oldest ? Math.max(0, Math.round((now.getTime() - oldest.getTime()) / 1000)) : 0;
    metrics.addMetric(Metric.QueueOldestAgeSeconds.name, MetricUnit.Seconds, age);
    this.publishMetrics();
  }

  private publishMetrics(): void {
    if (this.deps.metrics?.hasStoredMetrics()) this.deps.metrics.publishStoredMetrics();
  }
}

/** `5 days`, `3 hours`, `20 minutes`, `2 seconds`: for the operator and the DSN. */
function describeDuration(ms: number): string {
  const units: [string, number][] = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ];
  for (const [name, size] of units) {
    if (ms >= 2 * size) return `${Math.round(ms / size)} ${name}s`;
  }
  return `${Math.round(ms / 1000)} seconds`;
}

function mergeOutcomes(states: RecipientState[], outcomes: RecipientOutcome[], at: Date): RecipientState[] {
  const byRecipient = new Map(outcomes.map((outcome) => [outcome.recipient, outcome]));
  return states.map((state) => {
    const outcome = byRecipient.get(state.address);
    if (!outcome || state.status !== 'pending') return state;
    return {
      address: state.address,
      status: outcome.status === 'accepted' ? 'sent' : outcome.status === 'permanent' ? 'failed' : 'pending',
      reply: outcome.reply,
      enhancedStatus: outcome.enhancedStatus,
      ...(outcome.remoteMta ? { remoteMta: outcome.remoteMta } : {}),
      at,
    };
  });
}

/**
 * The domain whose key signs: the envelope sender's (submission checked that the sender owns it); for the
 * null sender, the From field's domain. The dkim-sign step signs only for domains with an active key.
 */
export function signingDomainOf(mailFrom: string, message: Buffer): string | undefined {
  if (mailFrom !== '') return mailFrom.slice(mailFrom.lastIndexOf('@') + 1).toLowerCase();
  const head = message.subarray(0, MAX_FROM_SEARCH_BYTES).toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  const unfolded = (end >= 0 ? head.slice(0, end) : head).replace(/\r\n[ \t]+/g, ' ');
  const from = /(?:^|\r\n)from[ \t]*:([^\r\n]*)/i.exec(unfolded)?.[1];
  const domain = from ? /@([A-Za-z0-9.-]+)\s*>?\s*$/.exec(from.trim())?.[1] : undefined;
  return domain?.toLowerCase();
}
