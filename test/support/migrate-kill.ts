import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ClusterOptions } from '../../src/cluster/types.js';
import type { ClusterSpec } from '../../src/spec/schema.js';
import { pollUntil, within } from '../../src/util/poll.js';

/**
 * Runs `migrate --from <from> --to <to>` in a child process (test/support/migrate-child.mjs, from dist/) and
 * SIGKILLs it once a line of its progress matches `at` and then `until` (polled) holds; returns the line it was
 * killed after. Throws with the child's output when it was never killed, or finished the migration first.
 */
export async function migrateKilled(input: {
  readonly spec: ClusterSpec;
  readonly options: ClusterOptions;
  readonly from: string;
  readonly to: string;
  readonly at: RegExp;
  readonly until?: () => Promise<boolean>;
}): Promise<string> {
  const { options, at, until } = input;
  const child = spawn(process.execPath, [
    join(process.cwd(), 'test/support/migrate-child.mjs'),
    // The Azure settings hold a function (not JSON): the specs these tests migrate use aws and gcp only.
    JSON.stringify({
      spec: input.spec,
      options: { ...options, providers: { aws: options.providers?.aws, gcp: options.providers?.gcp } },
      from: input.from,
      to: input.to,
    }),
  ]);
  let out = '';
  let err = '';
  let killedAt: string | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (killedAt || !at.test(out)) return;
    killedAt = out.split('\n').find((line) => at.test(line));
    const kill = () => child.kill('SIGKILL');
    if (!until) return kill();
    pollUntil(async () => ((await until()) ? true : undefined), {
      ...within(60_000),
      intervalMs: 50,
      what: 'the kill point',
    }).then(kill, kill);
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await exited;
  const migrated = /^migrated$/m.test(out);
  if (!killedAt || migrated)
    throw new Error(
      `the migration was ${migrated ? 'finished before the kill' : `never killed at ${at}`}:\n${`${out}\n${err}`.slice(-2000)}`,
    );
  return killedAt;
}
