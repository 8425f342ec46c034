/** Entry point of `marmot` (npm run marmot, npx marmot): runs one command with the process's streams. */
import { runMarmot } from './program.ts';

process.exitCode = await runMarmot(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
