import { resolve } from 'node:path';
import { acquireClusterLock } from '../../src/cluster/lock.js';
import { LockedError } from '../../src/errors.js';

/**
 * Where the suites that start a realistic-network cloudsim take turns (the host has one 198.18.0.0/15): inside the
 * project, so no temp dir outlives the run.
 */
const LOCK_DIR = resolve('node_modules/.cache/skypool-test-locks');

/**
 * Waits for this process's turn on the host's single realistic network: only one cloudsim with
 * `network: 'realistic'` can route 198.18.0.0/15 at a time, and jest runs suites in parallel workers. Polls the
 * lock (a dead holder's lock is taken over) until `timeoutMs`, then fails naming the holder. Returns the release.
 */
export async function takeRealisticNetworkTurn(timeoutMs = 240_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await acquireClusterLock(LOCK_DIR, 'realistic-network', 'cloudsim test', () => undefined);
    } catch (error) {
      if (!(error instanceof LockedError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
