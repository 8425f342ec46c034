/**
 * Lambda entry of the filter step: a thin middy wrapper that validates the request and runs filter.ts
 * against the mail store. In Lambda the store is opened from the environment on the first call; the
 * in-process invoker builds its handler with createFilterHandler around the listener's own store.
 */
import middy from '@middy/core';
import { loadConfig } from '../../shared/config/config.ts';
import { type FilterResult, parseFilterRequest } from '../../shared/delivery/steps.ts';
import { type MailStore, openMailStore } from '../../shared/mailbox/mail-store.ts';
import { openStores } from '../../shared/store/open-stores.ts';
import { placeRecipients } from './filter.ts';

export function createFilterHandler(store: MailStore) {
  return middy<unknown, FilterResult>(async (event: unknown) => placeRecipients(parseFilterRequest(event), store));
}

let lambdaStore: Promise<MailStore> | undefined;

export const handler = middy<unknown, FilterResult>(async (event: unknown) => {
  lambdaStore ??= openStores(loadConfig().store).then((stores) => openMailStore(stores.metadata));
  return placeRecipients(parseFilterRequest(event), await lambdaStore);
});
