/**
 * The `marmot` program: the operator's command line. Builds the commander tree from the command
 * groups, runs one command, and turns its outcome into an exit code (see errors.ts).
 *
 * Trusts its arguments and stdin no more than any other input: everything goes through the same
 * validation as the rest of the system (shared/address, shared/directory).
 */
import { Command } from 'commander';
import { commandGroups } from './command-groups.ts';
import { CliContext, type CliIo } from './context.ts';
import { EXIT_OK, exitCodeFor, messageFor } from './errors.ts';

const EXIT_STATUS_HELP = `
Exit status:
  0  success
  1  operational error (not found, already exists, not empty, store unavailable)
  2  usage or validation error (bad command, option, address, domain, network or password)

Environment:
  MARMOT_DATA_DIR  the local data directory (default ./.data); works while the server runs
  MARMOT_STORE=aws with MARMOT_TABLE, MARMOT_BUCKET, AWS_REGION: the deployed DynamoDB and S3 stores,
    and MARMOT_KEY_ID: the KMS key that seals the legacy password verifiers`;

export async function runMarmot(argv: string[], io: CliIo): Promise<number> {
  const context = new CliContext(io);
  const program = new Command('marmot')
    .description('Marmot Mail operator command line')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`marmot: ${text.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError()
    .addHelpText('after', EXIT_STATUS_HELP);
  for (const register of commandGroups) register(program, context);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    const message = messageFor(error);
    if (message !== undefined) io.stderr.write(`${message}\n`);
    return exitCodeFor(error);
  } finally {
    await context.close();
  }
}
