/**
 * `marmot expire [--dry-run]`: runs the expire job now (shared/expire), to its end, with progress on
 * stderr: purges expunged mail and deleted folders past their domain's retention, removed accounts,
 * unreferenced blobs, stale greylist entries and old quarantine; reconciles counters and quotas. With
 * --dry-run it only reports what it would purge. Continues a run the nightly timer or the Lambda left
 * unfinished; refuses while another runner works (exit 1).
 */
import type { Command } from 'commander';
import { loadConfig } from '../../shared/config/config.ts';
import { runExpireToEnd } from '../../shared/expire/expire-job.ts';
import { QUARANTINE_RETENTION_DAYS } from '../../shared/expire/expire-timer.ts';
import type { ExpireTotals } from '../../shared/expire/run-state.ts';
import type { CliContext } from '../context.ts';
import { OperationalError } from '../errors.ts';

const TOTAL_LABELS: Record<keyof ExpireTotals, string> = {
  accounts: 'accounts and shared owners maintained',
  mailboxes: 'mailboxes maintained',
  messagesPurged: 'expunged messages purged',
  mailboxesPurged: 'deleted folders purged',
  accountsOrphaned: 'removed accounts noted',
  accountsPurged: 'removed accounts purged',
  blobsDeleted: 'message blobs deleted',
  countersRepaired: 'counters and quotas repaired',
  changeLogTrimmed: 'change-log items trimmed',
  deliveryMarkersTrimmed: 'delivery markers trimmed',
  greylistDropped: 'greylist entries dropped',
  quarantineDropped: 'quarantine items dropped',
};

export function registerExpireCommand(program: Command, context: CliContext): void {
  program
    .command('expire')
    .description('run the expire job now: purge mail past retention, reconcile quotas, drop stale records')
    .option('--dry-run', 'only report what would be purged')
    .option('--json', 'print the totals as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const config = loadConfig(context.io.env);
      const stores = await context.stores();
      let lastPhase = '';
      const outcome = await runExpireToEnd(stores, {
        mode: 'now',
        dryRun: options.dryRun ?? false,
        defaultRetentionDays: config.retentionDays,
        quarantineRetentionDays: QUARANTINE_RETENTION_DAYS,
        deleteQuarantineBlobs: config.store.kind === 'local',
        onProgress: (progress) => {
          if (progress.phase !== lastPhase) context.say(`${progress.phase}...`);
          lastPhase = progress.phase;
          if (progress.phase === 'directory' && progress.totals.accounts % 100 === 0 && progress.totals.accounts > 0) {
            context.say(`  ${progress.totals.accounts} accounts, ${progress.totals.messagesPurged} messages purged`);
          }
        },
      });
      if (outcome.status === 'busy') {
        throw new OperationalError("another expire run is in progress (the server's nightly run or the Lambda)");
      }
      if (options.json) return context.json({ dryRun: options.dryRun ?? false, ...outcome });
      context.say(
        options.dryRun
          ? 'dry run: what a run would do now; nothing was changed'
          : `expire run ${outcome.runId} complete`,
      );
      for (const [key, label] of Object.entries(TOTAL_LABELS)) {
        const value = outcome.totals[key as keyof ExpireTotals];
        if (value > 0 || key === 'messagesPurged') context.out(`${label}: ${value}`);
      }
    });
}
