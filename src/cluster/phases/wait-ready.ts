import type { EngineNode } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, waitNodesReady } from '../nodes.js';

/** Waits until every VM that stays is a ready member of the pool; returns the engine's node list. */
export function waitReady(
  ctx: ClusterContext,
  manager: ManagerRef,
  keep: readonly Instance[],
  signal?: AbortSignal,
): Promise<EngineNode[]> {
  return waitNodesReady(
    ctx,
    manager,
    keep.map((i) => i.name),
    signal,
  );
}
