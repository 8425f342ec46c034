/** The `marmot` CLI run in the test's own process (no subprocess start-up), with its output captured. */
import { Readable, Writable } from 'node:stream';
import { runMarmot } from '../../cli/program.ts';

export interface MarmotOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export async function marmotInProcess(dataDir: string, args: string[]): Promise<MarmotOutcome> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runMarmot(args, {
    stdin: Readable.from([]),
    stdout: sink((text) => {
      stdout += text;
    }),
    stderr: sink((text) => {
      stderr += text;
    }),
    env: { MARMOT_DATA_DIR: dataDir },
  });
  return { code, stdout, stderr };
}
