/**
 * The dkim-sign step: reads a queued outbound message from the blob store and signs it with the active
 * key of the requested domain. A domain without an active key, or a message that cannot be signed (no
 * From field), goes out unsigned: the result says so and the MessagesUnsigned metric counts it, so an
 * operator sees a domain that forgot its key without mail piling up.
 *
 * SECURITY: trusts the metadata store and the key vault; the request only as far as sign-step.ts checks it
 * (a blob under `outbound/`, a domain name). It only reads: the blob, the key record, the vault. It never
 * returns or logs the private key.
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DkimKeys } from '../../shared/dkim/dkim-keys.ts';
import type { DkimSignRequest, DkimSignResult } from '../../shared/dkim/sign-step.ts';
import { DkimSigningError, signMessage } from '../../shared/dkim/signing.ts';
import { Metric, MetricDimension, MetricReason } from '../../shared/metrics/metric-names.ts';
import type { BlobStore } from '../../shared/store/blob.ts';

export interface DkimSignDependencies {
  keys: DkimKeys;
  blobs: BlobStore;
  metrics: Metrics;
}

export async function signQueuedMessage(request: DkimSignRequest, deps: DkimSignDependencies): Promise<DkimSignResult> {
  const key = await deps.keys.signingKey(request.domain);
  if (!key) {
    countUnsigned(deps.metrics, MetricReason.NoDkimKey);
    return { signed: false, reason: 'no-key', detail: `${request.domain} has no active DKIM key` };
  }
  let header: string;
  try {
    header = await signMessage(await deps.blobs.get(request.blobKey), key);
  } catch (error) {
    if (!(error instanceof DkimSigningError)) throw error;
    countUnsigned(deps.metrics, MetricReason.Unsignable);
    return { signed: false, reason: 'unsignable', detail: error.message };
  }
  deps.metrics.addMetric(Metric.MessagesSigned.name, MetricUnit.Count, 1);
  return { signed: true, header, domain: key.domain, selector: key.selector, algorithm: key.algorithm };
}

/** Counted under [service] (the total) and [service, Reason], as the metric's definition says. */
function countUnsigned(metrics: Metrics, reason: string): void {
  metrics.addDimensions({});
  metrics.addDimensions({ [MetricDimension.Reason]: reason });
  metrics.addMetric(Metric.MessagesUnsigned.name, MetricUnit.Count, 1);
}
