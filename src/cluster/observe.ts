import type { EngineNode } from '../engines/types.js';
import { EngineError } from '../errors.js';
import { computePlan, type Plan } from '../plan.js';
import type { Instance } from '../providers/types.js';
import type { ClusterContext } from './context.js';
import { findManager, type ManagerRef, nodeFor } from './nodes.js';

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
  const manager =
    instances.length > 0 ? await findManager(ctx, instances, { ...(signal ? { signal } : {}) }) : undefined;
  if (!manager) {
    // Replacing every VM is right only when the pool never formed; a manager that booted fine but does not
    // answer now (overloaded, network) must not cost the user the whole cluster.
    const managers = instances.filter((i) => i.tags.role === 'manager');
    const failed = await Promise.all(managers.map((i) => ctx.bootFailed(i)));
    const silent = managers.filter((_, k) => !failed[k]);
    if (silent.length > 0) {
      throw new EngineError(
        `no manager of cluster ${ctx.spec.name} answers on its engine API (${silent.map((i) => `${i.name} ${i.publicIp ?? i.privateIp ?? ''}`.trim()).join(', ')}): ` +
          `check those VMs, and that ${ctx.options.stateDir} is the state directory the cluster was made with (its engines answer only that CA), then run apply again`,
        { cluster: ctx.spec.name, managers: silent.map((i) => i.name) },
      );
    }
  }
  const engineNodes = manager ? await (await ctx.driver()).listNodes(manager.endpoint) : [];
  // A VM whose engine never joined (or whose node is down) cannot serve; it is replaced by a fresh one.
  const strays = instances.flatMap((instance) => {
    const node = nodeFor(engineNodes, instance.name);
    if (node && node.state !== 'down') return [];
    return [{ instance, detail: node ? 'its engine node is down' : 'its engine never joined the pool' }];
  });
  return { manager, engineNodes, plan: computePlan(ctx.spec, instances, strays) };
}

/**
 * The cluster runs, but this state directory holds no CA for it: it was made from another one. Nothing is
 * written here, and destroying is not the fix: the cluster is most likely healthy.
 */
export function foreignCluster(ctx: ClusterContext, vms: number): EngineError {
  return new EngineError(
    `cluster ${ctx.spec.name} has ${vms} VM(s) but no PKI in ${ctx.options.stateDir}: it was made from another state directory, ` +
      'and its engines answer only that CA (nothing was written here). Run skypool with that state directory (--state-dir / SKYPOOL_STATE_DIR)',
    { cluster: ctx.spec.name, stateDir: ctx.options.stateDir },
  );
}
