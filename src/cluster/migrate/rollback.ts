import type { EngineDriver } from '../../engines/types.js';
import { EngineError, MigrationNotReversibleError, SkypoolError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterSpec, NodePoolSpec } from '../../spec/schema.js';
import type { ClusterContext } from '../context.js';
import { recordFootprint } from '../footprint.js';
import { findManager, type ManagerRef, nodesByName } from '../nodes.js';
import type { PhaseTiming } from '../types.js';
import { moveControlPlane } from './control-plane.js';
import { cordon } from './cordon.js';
import { type MigrationIntent, writeIntent } from './intent.js';
import { moveServices } from './move-services.js';
import { retireSource } from './retire.js';
import type { MigrationPlan, ServiceMove } from './types.js';

/**
 * Whether `migrate --rollback` may return to the source, from the spec and the engine's record: only while a
 * migration of `from` is recorded and its source's retirement has not started. Pure.
 */
export function assertReversible(
  spec: ClusterSpec,
  from: string,
  recorded: MigrationIntent | undefined,
): asserts recorded is MigrationIntent {
  if (recorded?.stage === 'retire-source')
    throw new MigrationNotReversibleError(
      `the migration from ${recorded.from} to ${recorded.to} (started ${recorded.startedAt}) is retiring its source: its VMs are being terminated, so there is nothing to return to. Run \`skypool migrate --from ${recorded.from} --to ${recorded.to}\` to finish it, then migrate back`,
      { from: recorded.from, to: recorded.to, stage: recorded.stage },
    );
  if (recorded) return;
  const exists = spec.pools.some((p) => p.name === from || p.provider === from);
  if (!exists)
    throw new MigrationNotReversibleError(
      `cluster ${spec.name} has no pool named or on ${from} and no migration in progress: a migration from ${from} finished and retired its source. Migrate back instead (\`skypool migrate --from <pool|provider> --to ${from}\`)`,
      { from, stage: 'finished' },
    );
  throw new SkypoolError(
    'NOT_FOUND',
    `no migration from ${from} is in progress in cluster ${spec.name}: nothing to roll back`,
    {
      details: { from },
    },
  );
}

/**
 * The target VMs a rollback removes: every VM of a pool the migration created, and of a pool that existed and
 * grew, only the ones launched after the migration started.
 */
export function rollbackVictims(
  instances: readonly Instance[],
  recorded: MigrationIntent,
  existingPools: readonly NodePoolSpec[],
): Instance[] {
  const targets = new Set(recorded.targets.map((t) => t.name));
  const existed = new Set(existingPools.map((p) => p.name));
  const since = Date.parse(recorded.startedAt);
  return instances.filter(
    (i) =>
      targets.has(i.tags.pool) &&
      (!existed.has(i.tags.pool) || (i.launchedAt !== undefined && Date.parse(i.launchedAt) >= since)),
  );
}

export interface RollbackOutcome {
  readonly services: ServiceMove[];
  readonly managers: string[];
  readonly leader?: string;
  readonly terminated: string[];
}

/**
 * Returns an interrupted migration to its source while the source still exists: the source's nodes take work
 * again, its managers (promoted back if they were demoted) take the control plane back, the services move
 * back with the same start-first replacement, then the target VMs and the networks only they used are
 * removed and the engine's record is cleared. Each step is idempotent, so an interrupted rollback reruns.
 */
export async function rollBack(
  ctx: ClusterContext,
  driver: EngineDriver,
  input: {
    readonly plan: MigrationPlan;
    readonly recorded: MigrationIntent;
    readonly original: ClusterSpec;
    readonly instances: readonly Instance[];
    readonly phase: <T>(name: PhaseTiming['phase'], run: () => Promise<T>) => Promise<T>;
  },
  signal?: AbortSignal,
): Promise<RollbackOutcome> {
  const { recorded, original, instances, phase } = input;
  const sourceNames = new Set(recorded.sources);
  const sources = instances.filter((i) => sourceNames.has(i.tags.pool));
  const existing = original.pools.filter((p) => recorded.targets.some((t) => t.name === p.name));
  const leaving = rollbackVictims(instances, recorded, existing);
  const leavingNames = new Set(leaving.map((i) => i.name));
  const keep = instances.filter((i) => !leavingNames.has(i.name));
  const opts = signal ? { signal } : {};
  const any = await findManager(ctx, instances, opts);
  if (!any) throw new EngineError(`no manager of cluster ${original.name} answers: nothing can be rolled back`, {});

  // 1. The source takes work again; managers demoted by the migration become managers again.
  const sourceManagers = sources.filter((i) => i.tags.role === 'manager').map((i) => i.name);
  await phase('restore-source', async () => {
    const nodeFor = nodesByName(await driver.listNodes(any.endpoint));
    for (const instance of sources) {
      const node = nodeFor(instance.name);
      if (!node) continue;
      if (node.availability !== 'active') {
        await driver.setAvailability!(any.endpoint, node.id, 'active');
        ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'ready' });
      }
      if (instance.tags.role === 'manager' && node.role !== 'manager') {
        if (!driver.promoteNode)
          throw new EngineError(
            `engine ${driver.engine} cannot promote ${instance.name} back to manager: no rollback`,
            {
              node: instance.name,
            },
          );
        ctx.progress.message(`promoting ${instance.name} back to manager`);
        await driver.promoteNode(any.endpoint, node.id, { deadline: Date.now() + ctx.readyTimeoutMs, ...opts });
      }
    }
  });
  const api: ManagerRef | undefined = await findManager(ctx, keep, { exclude: leavingNames, ...opts });
  if (!api)
    throw new EngineError(
      `no source manager answers after it was restored: rerun \`skypool migrate --from ${recorded.from} --to ${recorded.to} --rollback\``,
      { cluster: original.name },
    );

  // 2. The control plane back to the source, then the services.
  const control = await phase('move-managers', () =>
    moveControlPlane(
      ctx,
      driver,
      api,
      leavingNames,
      sourceManagers,
      keep.map((i) => i.name),
      signal,
    ),
  );
  await phase('cordon', () => cordon(ctx, driver, api, leaving));
  const moved = await phase('move-services', () => moveServices(ctx, driver, api, leaving, signal));

  // 3. The target goes, with the networks no pool of the original spec uses.
  const where = (p: { provider: string; region?: string }) => `${p.provider} ${p.region ?? ''}`;
  const stays = new Set(original.pools.map(where));
  const networks = [...new Map(recorded.targets.map((t) => [where(t), t])).values()]
    .filter((t) => !stays.has(where(t)))
    .map((t) => ({ provider: t.provider, ...(t.region ? { region: t.region } : {}) }));
  const terminated = await phase('retire-target', () =>
    retireSource(ctx, driver, api, leaving, keep, networks, signal),
  );
  // Back where it was: the cluster runs on the original pools only.
  await recordFootprint(ctx.options.stateDir, original.name, original.pools, { replace: true });
  await writeIntent(driver, api.endpoint, undefined);
  return {
    services: moved.services,
    managers: control.managers,
    ...(control.leader ? { leader: control.leader } : {}),
    terminated,
  };
}
