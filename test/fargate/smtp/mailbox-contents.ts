/** Reads what a mailbox holds, straight from the stores: the raw bytes of each message, in UID order. */
import type { Directory } from '../../../shared/directory/directory.ts';
import { getMailboxByName, listMessages, MailboxNotFoundError, type MailStore } from '../../../shared/mailbox/index.ts';
import type { BlobStore } from '../../../shared/store/blob.ts';

export interface StoreView {
  directory: Directory;
  mailStore: MailStore;
  stores: { blobs: BlobStore };
}

/** Messages in `mailbox` of the account (or of the owner id given as `owner:<id>`); [] if it does not exist. */
export async function messagesIn(view: StoreView, account: string, mailbox = 'INBOX'): Promise<Buffer[]> {
  const owner = account.startsWith('owner:') ? account.slice(6) : (await view.directory.getAccount(account))?.id;
  if (!owner) throw new Error(`no account ${account}`);
  let found: Awaited<ReturnType<typeof getMailboxByName>>;
  try {
    found = await getMailboxByName(view.mailStore, owner, mailbox);
  } catch (error) {
    if (error instanceof MailboxNotFoundError) return [];
    throw error;
  }
  const page = await listMessages(view.mailStore, found.id);
  return Promise.all(page.messages.map((message) => view.stores.blobs.read(message.blobKey)));
}

/** The header section of a stored message, as text. */
export function headerOf(message: Buffer): string {
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? text : text.slice(0, end + 2);
}

/** Every chunk of a stream. */
export async function chunksOf(stream: AsyncIterable<unknown>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks;
}
