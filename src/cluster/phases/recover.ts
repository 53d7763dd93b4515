import type { EngineNode } from '../../engines/types.js';
import type { PlannedDelete } from '../../plan.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { nodesByName } from '../nodes.js';

/** VMs that cannot serve: their engine never joined, or their node is down. */
export function findStrays(instances: readonly Instance[], engineNodes: readonly EngineNode[]): Instance[] {
  const nodeFor = nodesByName(engineNodes);
  return instances.filter((i) => {
    const node = nodeFor(i.name);
    return !node || node.state === 'down';
  });
}

/** Deletes that need no drain: the engine does not count these VMs (a duplicate name, a node that never joined). */
export const isEarlyDelete = (d: PlannedDelete): boolean => d.reason === 'duplicate' || d.reason === 'stray';

/**
 * Terminates duplicates and strays before anything is created, so their names are free for the replacements.
 * Never drains: a duplicate's engine node (if any) carries the name of the VM that stays.
 */
export async function terminateEarly(
  ctx: ClusterContext,
  deletes: readonly PlannedDelete[],
  signal?: AbortSignal,
): Promise<void> {
  for (const d of deletes.filter(isEarlyDelete)) {
    const { instance } = d;
    ctx.progress.emit({
      type: 'node',
      node: instance.name,
      pool: instance.tags.pool,
      state: d.reason === 'stray' ? 'recreating' : 'terminating',
      ...(d.detail ? { detail: d.detail } : {}),
    });
    await ctx.queue.terminate(await ctx.provider(instance.provider), [instance.id], signal);
    if (instance.tags.launch) ctx.goneLaunchTokens.add(instance.tags.launch);
  }
}
