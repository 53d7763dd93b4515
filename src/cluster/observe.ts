import type { EngineNode } from '../engines/types.js';
import { computePlan, type Plan } from '../plan.js';
import type { Instance } from '../providers/types.js';
import type { ClusterContext } from './context.js';
import { type ManagerRef, nodesByName } from './nodes.js';
import { locateManager } from './phases/inventory.js';
import { findStrays } from './phases/recover.js';

export interface Observation {
  /** A manager of the running pool that answers, if any. */
  readonly manager: ManagerRef | undefined;
  /** The engine's node list as that manager reports it (empty without one). */
  readonly engineNodes: readonly EngineNode[];
  /** What apply does next: strays and duplicates first, then creates, then drained deletes. */
  readonly plan: Plan;
}

/**
 * What apply would do, from the providers' listings and the engine's node list: the one function both
 * `Cluster.plan()` and `apply` use, so a plan never says "no changes" where apply would replace VMs. Read-only.
 */
export async function observe(
  ctx: ClusterContext,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<Observation> {
  return observeWith(ctx, instances, await locateManager(ctx, instances, signal));
}

/**
 * `observe` with the manager already found (or none: the pool never formed, and every VM is a stray). `strays:
 * false` leaves strays out, for a plan made without the engine's word (its managers did not answer).
 */
export async function observeWith(
  ctx: ClusterContext,
  instances: readonly Instance[],
  manager: ManagerRef | undefined,
  options: { strays?: boolean } = {},
): Promise<Observation> {
  const engineNodes = manager ? await (await ctx.driver()).listNodes(manager.endpoint) : [];
  // A VM whose engine never joined (or whose node is down) cannot serve; it is replaced by a fresh one. A stopped
  // VM's node is down too, but it is somebody's decision and keeps its disk: it stays, and so does its name.
  const nodeFor = nodesByName(engineNodes);
  const running = instances.filter((i) => i.state !== 'stopped');
  const strays =
    options.strays === false
      ? []
      : findStrays(running, engineNodes).map((instance) => ({
          instance,
          detail: nodeFor(instance.name) ? 'its engine node is down' : 'its engine never joined the pool',
        }));
  return { manager, engineNodes, plan: computePlan(ctx.spec, instances, strays) };
}
