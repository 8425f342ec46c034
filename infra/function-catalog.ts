/**
 * Every Lambda the system may deploy, in one table: its folder under `functions/`, the variable that
 * carries its name to the callers, its size, and exactly what it may touch (the grants its own role gets).
 *
 * A function is deployed only once its `functions/<name>/handler.ts` exists, so this table can run
 * ahead of the handlers. A test checks the other direction: every folder in `functions/` has an entry
 * here, so a new handler cannot ship without a declared role.
 */
import type { BlobAccess, StoreAccess } from './store-access.ts';

export type FunctionName = 'scan' | 'filter' | 'dkim-sign' | 'expire' | 'ses-inbound';

export interface FunctionSpec {
  name: FunctionName;
  description: string;
  /** Environment variable holding the deployed function name (set on the task and on callers). */
  envVar: string;
  memoryMiB: number;
  timeoutSeconds: number;
  access: StoreAccess;
  /** Other functions this one invokes (by the same invoker port as the listeners). */
  invokes: FunctionName[];
  /** Whether the SMTP listeners (the transfer service) invoke it: their role may then call it. */
  invokedByTransfer: boolean;
  /** Deployed only when this setting is on (ses-inbound needs SES receiving). */
  onlyWithSesReceiving: boolean;
}

const readMessages: BlobAccess = { read: ['msg/'] };

export const FUNCTION_CATALOG: readonly FunctionSpec[] = [
  {
    name: 'scan',
    description: 'Scores a spooled message (malware, spam, SPF/DKIM/DMARC, attachment policy, MIME validity)',
    envVar: 'MARMOT_FN_SCAN',
    memoryMiB: 1024,
    timeoutSeconds: 60,
    // Reads the received message (stored under msg/ before the 250); reads and updates greylist
    // entries and Bayes tokens.
    access: { table: 'readWrite', blobs: readMessages },
    invokes: [],
    invokedByTransfer: true,
    onlyWithSesReceiving: false,
  },
  {
    name: 'filter',
    description: 'Runs plus-addressing and the recipient Sieve script for one delivery',
    envVar: 'MARMOT_FN_FILTER',
    memoryMiB: 512,
    timeoutSeconds: 30,
    // Reads scripts and mailboxes; records vacation replies sent.
    access: { table: 'readWrite', blobs: readMessages },
    invokes: [],
    invokedByTransfer: true,
    onlyWithSesReceiving: false,
  },
  {
    name: 'dkim-sign',
    description: "Signs an outbound message with the sender domain's active DKIM key",
    envVar: 'MARMOT_FN_DKIM_SIGN',
    memoryMiB: 512,
    timeoutSeconds: 30,
    // Reads the key record and unwraps the private key with the vault key; never writes.
    access: { table: 'read', blobs: { read: ['outbound/'] }, vault: 'decrypt' },
    invokes: [],
    invokedByTransfer: true,
    onlyWithSesReceiving: false,
  },
  {
    name: 'expire',
    description: 'Nightly: purges expunged messages and deleted folders past retention, reconciles quotas',
    envVar: 'MARMOT_FN_EXPIRE',
    memoryMiB: 1024,
    timeoutSeconds: 900,
    // The only code that deletes message blobs (S3 lifecycle rules clear spool/ and quarantine/).
    access: {
      table: 'readWrite',
      blobs: { read: ['msg/'], delete: ['msg/'], list: true },
    },
    invokes: [],
    invokedByTransfer: false,
    onlyWithSesReceiving: false,
  },
  {
    name: 'ses-inbound',
    description: 'Delivers a message SES received and stored under spool/ses-inbound/ through the same pipeline',
    envVar: 'MARMOT_FN_SES_INBOUND',
    memoryMiB: 1024,
    timeoutSeconds: 300,
    access: {
      table: 'readWrite',
      blobs: { read: ['spool/'], write: ['msg/', 'quarantine/'], delete: ['spool/ses-inbound/'] },
    },
    invokes: ['scan', 'filter'],
    invokedByTransfer: false,
    onlyWithSesReceiving: true,
  },
];

export function functionSpec(name: FunctionName): FunctionSpec {
  const spec = FUNCTION_CATALOG.find((s) => s.name === name);
  if (!spec) throw new Error(`no function named ${name} in the catalog`);
  return spec;
}
