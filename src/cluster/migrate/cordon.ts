import type { EngineDriver, EngineNode } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, nodesByName } from '../nodes.js';

/**
 * Stops the engine from scheduling anything new on the source nodes (Swarm: availability pause); what runs
 * there keeps running until it is moved. Nodes already drained stay drained.
 */
export async function cordon(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  leaving: readonly Instance[],
): Promise<void> {
  const nodeFor = nodesByName(await driver.listNodes(api.endpoint));
  for (const instance of leaving) {
    const node: EngineNode | undefined = nodeFor(instance.name);
    if (node?.availability !== 'active') continue;
    await driver.setAvailability!(api.endpoint, node.id, 'pause');
    ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'cordoned' });
  }
}
