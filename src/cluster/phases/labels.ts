import type { EngineDriver, EngineNode } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { labelsFor, type ManagerRef, nodesByName } from '../nodes.js';

/** Engine entries left by VMs that are gone (a crash between terminate and `node rm`), or duplicates of a name. */
export function staleNodes(nodes: readonly EngineNode[], keep: readonly Instance[]): EngineNode[] {
  const live = new Set(keep.map((i) => i.name));
  const nodeFor = nodesByName(nodes);
  return nodes.filter((n) => n.state !== 'ready' && (!live.has(n.name) || nodeFor(n.name) !== n));
}

/** Puts each node's labels on it (pool labels, provider, pool) and removes stale engine entries. */
export async function applyLabels(
  ctx: ClusterContext,
  driver: EngineDriver,
  manager: ManagerRef,
  keep: readonly Instance[],
  nodes: readonly EngineNode[],
  signal?: AbortSignal,
): Promise<void> {
  const nodeFor = nodesByName(nodes);
  for (const instance of keep) {
    const node = nodeFor(instance.name);
    if (!node) continue;
    if (await driver.setNodeLabels(manager.endpoint, node.id, labelsFor(ctx.spec, instance))) {
      ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'labelled' });
    }
  }
  for (const stale of staleNodes(nodes, keep)) {
    try {
      // A lost manager still counts in the raft quorum until it is demoted.
      if (stale.role === 'manager' && driver.demoteNode)
        await driver.demoteNode(manager.endpoint, stale.id, {
          deadline: Date.now() + 15_000,
          ...(signal ? { signal } : {}),
        });
      await driver.removeNode(manager.endpoint, stale.id);
    } catch (error) {
      ctx.progress.message(
        `could not remove the stale engine node ${stale.name} (${stale.id}): ${(error as Error).message}`,
        'warn',
      );
    }
  }
}
