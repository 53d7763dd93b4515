import type { DrainResult } from '../engines/types.js';
import type { Instance } from '../providers/types.js';
import type { ClusterContext } from './context.js';
import { type ManagerRef, nodeFor } from './nodes.js';

/**
 * Takes nodes out of the pool without losing replicas: drain (tasks move elsewhere), demote a manager while it
 * still runs (the raft quorum survives), terminate the VM, then remove the node entry. One node at a time, so
 * the remaining nodes always hold every replica.
 */
export async function removeInstances(
  ctx: ClusterContext,
  manager: ManagerRef,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<DrainResult[]> {
  const driver = await ctx.driver();
  const drains: DrainResult[] = [];
  const opts = (ms: number) => ({ deadline: Date.now() + ms, ...(signal ? { signal } : {}) });
  for (const instance of instances) {
    const emit = (state: 'draining' | 'drained' | 'terminating' | 'terminated' | 'removed', detail?: string): void =>
      ctx.progress.emit({
        type: 'node',
        node: instance.name,
        pool: instance.tags.pool,
        state,
        ...(detail ? { detail } : {}),
      });
    const nodes = await driver.listNodes(manager.endpoint);
    const node = nodeFor(nodes, instance.name);
    if (node && node.state === 'ready') {
      emit('draining');
      const drain = await driver.drainNode(manager.endpoint, node.id, opts(ctx.drainTimeoutMs));
      drains.push(drain);
      const requeued = drain.requeued ? `, ${drain.requeued} job(s) requeued` : '';
      emit('drained', `${drain.movedTasks} task(s) moved in ${drain.durationMs} ms${requeued}`);
      if (node.role === 'manager' && driver.demoteNode)
        await driver.demoteNode(manager.endpoint, node.id, opts(ctx.readyTimeoutMs));
    } else if (node?.role === 'manager' && driver.demoteNode) {
      await driver.demoteNode(manager.endpoint, node.id, opts(ctx.readyTimeoutMs));
    }
    emit('terminating');
    await ctx.queue.terminate(await ctx.provider(instance.provider), [instance.id], signal);
    emit('terminated');
    for (const entry of (await driver.listNodes(manager.endpoint)).filter((n) => n.name === instance.name)) {
      await driver.removeNode(manager.endpoint, entry.id);
    }
    emit('removed');
  }
  return drains;
}
