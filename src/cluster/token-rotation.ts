import type { ClusterContext } from './context.js';
import { findManager } from './nodes.js';

/**
 * Join tokens travel in user-data (GCE metadata, EC2 user-data), so they must be worthless once the nodes that
 * needed them joined. Rotation is part of a successful converge, but an apply can end anywhere (an error, Ctrl-C,
 * a kill -9 after the engines answered), and a rerun that plans "no changes" would never rotate. So after every
 * apply, whatever its outcome, and from the engine's own record: when the last rotation is older than the
 * newest VM launch, the tokens a VM may have been given are still valid, and are rotated now.
 */
export async function rotateIfStale(ctx: ClusterContext, signal?: AbortSignal): Promise<boolean> {
  // No CA here: this state directory did not make the cluster (or made nothing yet), so it writes none now.
  if (!ctx.hasPki() || ctx.joinTokensFresh) return false;
  const driver = await ctx.driver();
  if (!driver.lastTokenRotation || !driver.rotateJoinTokens) return false;
  const instances = await ctx.inventory(signal);
  const launches = instances.map((i) => Date.parse(i.launchedAt ?? '')).filter((t) => !Number.isNaN(t));
  if (launches.length === 0) return false;
  const manager = await findManager(ctx, instances, signal ? { signal } : {});
  if (!manager) return false;
  const last = await driver.lastTokenRotation(manager.endpoint);
  if (last && last.getTime() >= Math.max(...launches)) return false;
  await driver.rotateJoinTokens(manager.endpoint);
  ctx.progress.message('rotated the join tokens: the VMs launched since the last rotation got the old ones');
  return true;
}

/**
 * Runs an apply, then rotates stale tokens in every outcome. A failed rotation after a failed apply is a warning
 * (the apply's error is the one to see; the next apply rotates); after a successful apply it fails the call.
 */
export async function withTokenRotation<T>(ctx: ClusterContext, body: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (error) {
    // The caller's signal may be what ended the apply: the rotation must still run.
    await rotateIfStale(ctx).catch((rotation: unknown) =>
      ctx.progress.message(`could not rotate the join tokens: ${(rotation as Error).message}`, 'warn'),
    );
    throw error;
  }
  await rotateIfStale(ctx);
  return result;
}
