/** Which listeners one process runs: all locally, one group per task in AWS (MARMOT_LISTENERS). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config/config.ts';
import { startTestMailSystem } from '../support/mail-system.ts';

describe('MARMOT_LISTENERS', () => {
  test('defaults to every listener, takes a subset, refuses unknown names', () => {
    assert.deepEqual(loadConfig({}).enabledListeners, [
      'smtp',
      'submission',
      'submissionTls',
      'imap',
      'imaps',
      'managesieve',
    ]);
    assert.deepEqual(loadConfig({ MARMOT_LISTENERS: 'imap, imaps' }).enabledListeners, ['imap', 'imaps']);
    assert.throws(() => loadConfig({ MARMOT_LISTENERS: 'smtp,pop3' }), ConfigError);
  });

  test('a process started with a group runs just that group', async () => {
    const system = await startTestMailSystem({ MARMOT_LISTENERS: 'imap,imaps' });
    try {
      assert.deepEqual(Object.keys(system.ports).sort(), ['imap', 'imaps']);
    } finally {
      await system.stop();
    }
  });
});
