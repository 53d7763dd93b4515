// A child process for the stale-lock race in cluster-lock.test.ts: on each `go <stateDir> <cluster>` line it
// tries to take the cluster's lock and answers `held` or `locked`; on `release` it lets go and answers `released`.
import { createInterface } from 'node:readline';
import { acquireClusterLock } from '../../dist/src/cluster/lock.js';

let release;
for await (const line of createInterface({ input: process.stdin })) {
  const [command, stateDir, cluster] = line.split(' ');
  if (command === 'go') {
    try {
      release = await acquireClusterLock(stateDir, cluster, 'apply', () => undefined);
      process.stdout.write('held\n');
    } catch (error) {
      process.stdout.write(`${error?.code === 'LOCKED' ? 'locked' : `error ${error?.message}`}\n`);
    }
  } else if (command === 'release') {
    await release?.();
    release = undefined;
    process.stdout.write('released\n');
  } else if (command === 'exit') {
    break;
  }
}
