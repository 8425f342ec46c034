/**
 * Idempotent-delivery markers: `dlv#<delivery key>` in the mailbox's partition records which UID an
 * attempt to deliver took, so a retry after a crash (writes done, 250 never sent) finds the entry instead
 * of making a second one. The protocol, crash point by crash point, is in the header of mail-store.ts;
 * appendMessage (messages.ts) runs it. The expire job drops markers older than any SMTP retry window.
 */
import { ConditionFailedError } from '../store/errors.ts';
import { InvalidMessageError } from './errors.ts';
import type { MailStore } from './mail-store.ts';
import { checkVersion, DELIVERY_PREFIX, deliverySk, mailboxPk, numberOf, SCHEMA_VERSION } from './schema.ts';

export const MAX_DELIVERY_KEY_LENGTH = 256;
const DELIVERY_KEY = /^[\u0021-\u007e]+$/;
/** Markers examined per query when trimming. */
const TRIM_PAGE = 500;

export interface DeliveryMarker {
  uid: number;
  modseq: number;
  /** When the attempt took its UID. */
  at: number;
}

export function assertDeliveryKey(key: string): void {
  if (typeof key !== 'string' || key.length > MAX_DELIVERY_KEY_LENGTH || !DELIVERY_KEY.test(key)) {
    throw new InvalidMessageError(`invalid delivery key ${JSON.stringify(key)}`);
  }
}

export async function readDeliveryMarker(
  store: MailStore,
  mailboxId: string,
  key: string,
): Promise<DeliveryMarker | undefined> {
  const item = await store.metadata.get(mailboxPk(mailboxId), deliverySk(key));
  if (!item) return undefined;
  checkVersion(item);
  return { uid: numberOf(item, 'uid'), modseq: numberOf(item, 'modseq'), at: numberOf(item, 'at') };
}

/**
 * Records `marker` for the key: only if no marker exists, or (taking over from a dead attempt) only if
 * the marker is still exactly `replacing`. False when another attempt got there first.
 */
export async function claimDeliveryMarker(
  store: MailStore,
  mailboxId: string,
  key: string,
  marker: DeliveryMarker,
  replacing?: DeliveryMarker,
): Promise<boolean> {
  try {
    await store.metadata.put(
      { pk: mailboxPk(mailboxId), sk: deliverySk(key), v: SCHEMA_VERSION, ...marker },
      replacing
        ? [
            { attribute: 'uid', op: '=', value: replacing.uid },
            { attribute: 'at', op: '=', value: replacing.at },
          ]
        : [{ attribute: 'pk', op: 'notExists' }],
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
}

/** Drops the mailbox's markers made before `olderThan` (for the expire job); returns how many. */
export async function trimDeliveryMarkers(store: MailStore, mailboxId: string, olderThan: Date): Promise<number> {
  let trimmed = 0;
  let startAfter: string | undefined;
  do {
    const page = await store.metadata.query(mailboxPk(mailboxId), {
      beginsWith: DELIVERY_PREFIX,
      limit: TRIM_PAGE,
      ...(startAfter ? { startAfter } : {}),
    });
    for (const item of page.items) {
      const at = numberOf(item, 'at');
      if (at >= olderThan.getTime()) continue;
      try {
        await store.metadata.delete(item.pk, item.sk, [{ attribute: 'at', op: '=', value: at }]);
        trimmed++;
      } catch (error) {
        // A retry took the marker over meanwhile: it is young again.
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    startAfter = page.next;
  } while (startAfter);
  return trimmed;
}
