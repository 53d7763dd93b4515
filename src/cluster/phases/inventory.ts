import { EngineError, SpecError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { poolSpecHash } from '../../spec/hash.js';
import { type ClusterSpec, ENGINES } from '../../spec/schema.js';
import { bootFailed } from '../boot-log.js';
import type { ClusterContext } from '../context.js';
import { findManager, type ManagerRef } from '../nodes.js';

/** The cluster's live VMs; refuses VMs without the cluster's CA here (no engine would answer, all would look stray). */
export async function takeInventory(ctx: ClusterContext, hadPki: boolean, signal?: AbortSignal): Promise<Instance[]> {
  const instances = await ctx.inventory(signal);
  assertSameEngine(ctx.spec, instances);
  if (!hadPki && instances.length > 0) throw foreignCluster(ctx, instances.length);
  return instances;
}

/**
 * The cluster runs, but this state directory holds no CA for it: it was made from another one. Nothing is
 * written here, and destroying is not the fix: the cluster is most likely healthy.
 */
export function foreignCluster(ctx: Pick<ClusterContext, 'spec' | 'options'>, vms: number): EngineError {
  return new EngineError(
    `cluster ${ctx.spec.name} has ${vms} VM(s) but no PKI in ${ctx.options.stateDir}: it was made from another state directory, ` +
      'and its engines answer only that CA (nothing was written here). Run skypool with that state directory (--state-dir / SKYPOOL_STATE_DIR)',
    { cluster: ctx.spec.name, stateDir: ctx.options.stateDir },
  );
}

/**
 * Refuses to change `engine` on a live cluster: its VMs carry a spec hash made with another engine (the hash
 * covers the engine), so a converge would otherwise try to replace every VM of a pool that still runs jobs.
 */
export function assertSameEngine(spec: ClusterSpec, instances: readonly Instance[]): void {
  for (const instance of instances) {
    const pool = spec.pools.find((p) => p.name === instance.tags.pool);
    if (!pool || instance.tags.specHash === poolSpecHash(spec, pool)) continue;
    const other = ENGINES.find(
      (e) => e !== spec.engine && instance.tags.specHash === poolSpecHash({ ...spec, engine: e }, pool),
    );
    if (other) {
      throw new SpecError([
        {
          path: 'engine',
          message: `cluster ${spec.name} runs engine ${other} (VM ${instance.name}); changing the engine of a live cluster is refused: keep engine: ${other}, or destroy the cluster and apply again`,
        },
      ]);
    }
  }
}

/**
 * A manager of the pool that answers, or undefined when the pool never formed (no manager, or only managers
 * whose boot failed). A manager that booted fine but does not answer now is an error: replacing it could cost
 * the user the whole cluster.
 */
export async function locateManager(
  ctx: ClusterContext,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<ManagerRef | undefined> {
  const manager =
    instances.length > 0 ? await findManager(ctx, instances, { ...(signal ? { signal } : {}) }) : undefined;
  if (manager) return manager;
  await assertNoSilentManager(ctx, instances);
  return undefined;
}

/**
 * Throws when a manager VM booted fine yet none answered: the pool formed once and is unreachable now, so it
 * must not be taken for a pool that never formed (whose VMs are all replaced).
 */
export async function assertNoSilentManager(ctx: ClusterContext, instances: readonly Instance[]): Promise<void> {
  const managers = instances.filter((i) => i.tags.role === 'manager');
  const failed = await Promise.all(managers.map((i) => bootFailed(ctx, i)));
  const silent = managers.filter((_, k) => !failed[k]);
  if (silent.length > 0) {
    throw new EngineError(
      `no manager of cluster ${ctx.spec.name} answers on its engine API (${silent.map((i) => `${i.name} ${i.publicIp ?? i.privateIp ?? ''}`.trim()).join(', ')}): ` +
        `check those VMs, and that ${ctx.options.stateDir} is the state directory the cluster was made with (its engines answer only that CA), then run apply again`,
      { cluster: ctx.spec.name, managers: silent.map((i) => i.name) },
    );
  }
}
