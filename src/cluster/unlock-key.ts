import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterStateDir } from '../bootstrap/cluster-pki.js';
import type { ClusterContext } from './context.js';
import { findManager } from './nodes.js';

/** Where the swarm's autolock key lives: next to the cluster's CA, readable by its owner only. */
export const unlockKeyPath = (stateDir: string, cluster: string): string =>
  join(clusterStateDir(stateDir, cluster), 'swarm-unlock-key');

/**
 * Keeps the engine's autolock key in the cluster's state dir (0600), so a restarted manager can be unlocked
 * (the driver reads it in waitReady). The engine holds the current key; this copy follows it after each apply.
 */
export async function saveUnlockKey(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  const driver = await ctx.driver();
  if (!driver.unlockKey) return;
  const manager = await findManager(ctx, await ctx.inventory(signal), signal ? { signal } : {});
  if (!manager) return;
  const key = await driver.unlockKey(manager.endpoint);
  if (!key) return;
  const path = unlockKeyPath(ctx.options.stateDir, ctx.spec.name);
  if ((await readFile(path, 'utf8').catch(() => '')).trim() === key) return;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${key}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
