/**
 * The SES emulator (aws-ses-v2-local, a devDependency) started in this process on 127.0.0.1, port 0.
 * It keeps what it was sent in memory; `emails()` reads its store over its HTTP API.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesEmulator from 'aws-ses-v2-local';

export interface SesEmulatorEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
}

export interface SesEmulator {
  endpoint: string;
  emails(): Promise<SesEmulatorEmail[]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** The emulator only checks that a request is signed; any key will do. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'test-key', secretAccessKey: 'test-secret' };

export async function startSes(): Promise<SesEmulator> {
  // A CommonJS module with `exports.default`: the default import is its whole module.exports.
  const server: Server = await sesEmulator.default({ host: '127.0.0.1', port: 0 });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    async emails() {
      const response = await fetch(`${endpoint}/store`);
      return ((await response.json()) as { emails: SesEmulatorEmail[] }).emails;
    },
    async clear() {
      await fetch(`${endpoint}/clear-store`, { method: 'POST' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
