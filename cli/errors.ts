/**
 * How the CLI ends: exit codes and the one place that turns an error into a message and a code.
 *
 *   0  success
 *   1  operational error: the request was well-formed but could not be done (not found, already exists,
 *      domain not empty, store unreachable, anything unexpected)
 *   2  usage or validation error: fix the command line or its input (unknown command or option, missing
 *      argument, malformed address, domain, network, password or setting, bad configuration)
 */
import { CommanderError } from 'commander';
import { AclError } from '../shared/acl/errors.ts';
import { InvalidAddressError } from '../shared/address/address.ts';
import { ConfigError } from '../shared/config/config.ts';
import { DirectoryInputError, DirectoryStateError } from '../shared/directory/errors.ts';
import { DkimInputError, DkimStateError } from '../shared/dkim/errors.ts';
import { MailboxError } from '../shared/mailbox/errors.ts';
import {
  InvalidQueueIdError,
  QueueEntryBusyError,
  QueueEntryNotFoundError,
} from '../shared/outbound-queue/outbound-queue.ts';
import { InvalidQuotaError, QuotaRootNotFoundError } from '../shared/quota/quota-roots.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line asks for something impossible (conflicting options, no terminal for a prompt, ...). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A well-formed request that cannot be done now (another expire run holds the lease, ...). */
export class OperationalError extends Error {
  override name = 'OperationalError';
}

/** Domain errors whose message says it all (not found, exists, no permission, ...). */
function isExpectedFailure(error: unknown): error is Error {
  return (
    error instanceof DirectoryStateError ||
    error instanceof DkimStateError ||
    error instanceof QueueEntryNotFoundError ||
    error instanceof QueueEntryBusyError ||
    error instanceof MailboxError ||
    error instanceof AclError ||
    error instanceof QuotaRootNotFoundError ||
    error instanceof OperationalError
  );
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === EXIT_OK ? EXIT_OK : EXIT_USAGE;
  if (
    error instanceof UsageError ||
    error instanceof InvalidAddressError ||
    error instanceof DirectoryInputError ||
    error instanceof DkimInputError ||
    error instanceof InvalidQueueIdError ||
    error instanceof ConfigError ||
    error instanceof InvalidQuotaError ||
    (error instanceof AclError && error.isInputError) ||
    (error instanceof MailboxError && (error.code === 'invalid-mailbox-name' || error.code === 'invalid-flag'))
  ) {
    return EXIT_USAGE;
  }
  return EXIT_FAILURE;
}

/** The line for stderr, or undefined when commander has already said it. */
export function messageFor(error: unknown): string | undefined {
  if (error instanceof CommanderError) return undefined;
  if (isExpectedFailure(error) || exitCodeFor(error) === EXIT_USAGE) {
    return `marmot: ${(error as Error).message}`;
  }
  if (error instanceof Error) return `marmot: unexpected ${error.name}: ${error.message}`;
  return `marmot: unexpected failure: ${String(error)}`;
}
