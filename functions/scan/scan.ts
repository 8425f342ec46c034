/**
 * The scan step: decides whether a spooled message may be delivered at all.
 *
 * Scope today (issue 3): the step exists with its real contract, deadline and failure handling, and
 * every message it is asked about is clean. Malware scanning, spam scoring, attachment policy, MIME
 * validity and SPF/DKIM/DMARC are the later issues that give it its logic; they add reject verdicts
 * (with a quarantine copy) here without changing the contract.
 *
 * SECURITY: the request is validated (shared/delivery/steps.ts) before use; the message itself is read
 * from the blob store only by key.
 */
import type { ScanRequest, ScanVerdict } from '../../shared/delivery/steps.ts';

export async function scanMessage(_request: ScanRequest): Promise<ScanVerdict> {
  return { verdict: 'clean' };
}
