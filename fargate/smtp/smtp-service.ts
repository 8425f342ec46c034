/**
 * What the three SMTP listeners of one system share: the directory, the mail store, the invoker with
 * the scan and filter steps, the outbound queue, the delivery pipeline, the relay-host allow-list cache.
 * Made by the first listener that starts and released when the last one closes.
 */

import { createFilterHandler } from '../../functions/filter/handler.ts';
import { handler as scanHandler } from '../../functions/scan/handler.ts';
import { DeliveryPipeline } from '../../shared/delivery/delivery-pipeline.ts';
import type { ResolutionDependencies } from '../../shared/delivery/recipient-resolution.ts';
import { MailStoreRecipients } from '../../shared/delivery/shared-mailboxes.ts';
import { FILTER_FUNCTION, SCAN_FUNCTION } from '../../shared/delivery/steps.ts';
import { Directory } from '../../shared/directory/directory.ts';
import { type IpNetwork, networkContains, parseNetwork } from '../../shared/directory/ip-network.ts';
import type { Invoker } from '../../shared/invoker/invoker.ts';
import { openInvoker } from '../../shared/invoker/open-invoker.ts';
import { type MailStore, openMailStore } from '../../shared/mailbox/mail-store.ts';
import { OutboundQueue } from '../../shared/outbound-queue/outbound-queue.ts';
import type { ListenerContext } from '../listener.ts';
import { RELAY_HOSTS_CACHE_MS } from './limits.ts';

export interface SmtpService {
  context: ListenerContext;
  directory: Directory;
  mailStore: MailStore;
  pipeline: DeliveryPipeline;
  resolution: ResolutionDependencies;
  relayHosts: RelayHostCache;
  release(): Promise<void>;
}

interface Shared {
  service: Promise<SmtpService>;
  users: number;
}

const shared = new WeakMap<ListenerContext, Shared>();

/** The service of this system, made on first use; each caller must `release()` it once. */
export function acquireSmtpService(context: ListenerContext): Promise<SmtpService> {
  let entry = shared.get(context);
  if (!entry) {
    entry = { service: createService(context), users: 0 };
    shared.set(context, entry);
    entry.service.catch(() => shared.delete(context));
  }
  entry.users++;
  return entry.service;
}

async function createService(context: ListenerContext): Promise<SmtpService> {
  const { config, stores, logger } = context;
  const directory = new Directory(stores.metadata, { keyVault: context.keyVault });
  const mailStore = openMailStore(stores.metadata);
  const invoker: Invoker = await openInvoker(config.functions, {
    [SCAN_FUNCTION]: scanHandler,
    [FILTER_FUNCTION]: createFilterHandler(mailStore),
  });
  const recipients = new MailStoreRecipients(mailStore);
  const pipeline = new DeliveryPipeline({
    blobs: stores.blobs,
    mailStore,
    invoker,
    outboundQueue: new OutboundQueue(stores.metadata, stores.blobs),
    stepTimeoutMs: config.functions.timeoutMs,
    logger: logger.child({ component: 'delivery' }),
  });
  const service: SmtpService = {
    context,
    directory,
    mailStore,
    pipeline,
    resolution: { directory, sharedMailboxes: recipients, quota: recipients, primaryDomain: config.hostname },
    relayHosts: new RelayHostCache(directory),
    async release() {
      const entry = shared.get(context);
      if (!entry) return;
      entry.users--;
      if (entry.users > 0) return;
      shared.delete(context);
      await invoker.close();
    },
  };
  return service;
}

/** The relay-host allow-list, re-read from the directory at most every RELAY_HOSTS_CACHE_MS. */
export class RelayHostCache {
  private networks: IpNetwork[] = [];
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;

  constructor(private readonly directory: Directory) {}

  async contains(address: string): Promise<boolean> {
    if (Date.now() - this.readAt > RELAY_HOSTS_CACHE_MS) {
      this.reading ??= this.directory
        .listRelayHosts()
        .then((hosts) => {
          this.networks = hosts.map((host) => parseNetwork(host.network));
          this.readAt = Date.now();
        })
        .finally(() => {
          this.reading = undefined;
        });
      await this.reading;
    }
    return this.networks.some((network) => networkContains(network, address));
  }
}
