import type { DrainResult } from '../../engines/types.js';
import { EngineError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { findManager, type ManagerRef } from '../nodes.js';
import { removeInstances } from '../remove.js';

/**
 * Removes the surplus VMs through a manager that stays (the one in use may be leaving); returns that manager
 * and the drains.
 */
export async function scaleDown(
  ctx: ClusterContext,
  manager: ManagerRef,
  keep: readonly Instance[],
  leaving: readonly Instance[],
  signal?: AbortSignal,
): Promise<{ manager: ManagerRef; drains: DrainResult[] }> {
  const names = new Set(leaving.map((i) => i.name));
  const stay = names.has(manager.instance.name)
    ? await findManager(ctx, keep, { exclude: names, ...(signal ? { signal } : {}) })
    : manager;
  if (!stay)
    throw new EngineError('every manager of the pool is being removed: keep at least one manager pool with count ≥ 1', {
      cluster: ctx.spec.name,
    });
  return { manager: stay, drains: await removeInstances(ctx, stay, leaving, signal) };
}
