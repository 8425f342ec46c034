/** Shared setup for the mailbox tests: a MailStore over fresh real stores, and sample messages. */
import type { TestContext } from 'node:test';
import type { MailStoreOptions } from '../../../shared/mailbox/mail-store.ts';
import { type MailStore, openMailStore } from '../../../shared/mailbox/mail-store.ts';
import type { NewMessage } from '../../../shared/mailbox/messages.ts';
import type { AdapterSet, StoreSet } from '../../support/stores.ts';

export const ACCOUNT = 'alice@example.com';

/** A MailStore over fresh stores of the adapter set, cleaned up when the test ends. */
export async function openTestStore(
  t: TestContext,
  adapters: AdapterSet,
  options?: MailStoreOptions,
): Promise<{ store: MailStore; stores: StoreSet }> {
  const stores = await adapters.open();
  t.after(() => stores.cleanup());
  return { store: openMailStore(stores.metadata, options), stores };
}

export function sampleMessage(index: number, overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    blobKey: `msg/test/${index}`,
    size: 1000 + index,
    internalDate: new Date(Date.UTC(2024, 0, 1) + index * 60_000),
    flags: [],
    envelope: { subject: `message ${index}`, from: [{ name: 'Bob', address: 'bob@example.net' }] },
    bodyStructure: { type: 'text', subtype: 'plain', size: 1000 + index },
    search: {
      subject: `Re: message ${index}`,
      baseSubject: `message ${index}`,
      from: 'bob@example.net',
      sentDate: Date.UTC(2024, 0, 1),
    },
    ...overrides,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
