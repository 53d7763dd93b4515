import type { EngineNode } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { nodeFor } from '../nodes.js';

/** VMs that cannot serve: their engine never joined, or their node is down. */
export function findStrays(instances: readonly Instance[], engineNodes: readonly EngineNode[]): Instance[] {
  return instances.filter((i) => {
    const node = nodeFor(engineNodes, i.name);
    return !node || node.state === 'down';
  });
}

/** Terminates the strays (the plan then creates fresh VMs in their place). */
export async function terminateStrays(
  ctx: ClusterContext,
  strays: readonly Instance[],
  engineNodes: readonly EngineNode[],
  signal?: AbortSignal,
): Promise<void> {
  for (const stray of strays) {
    const detail = nodeFor(engineNodes, stray.name) ? 'its engine node is down' : 'its engine never joined the pool';
    ctx.progress.emit({ type: 'node', node: stray.name, pool: stray.tags.pool, state: 'recreating', detail });
    await ctx.queue.terminate(await ctx.provider(stray.provider), [stray.id], signal);
  }
}
