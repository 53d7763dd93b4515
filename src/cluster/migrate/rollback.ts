import type { EngineDriver } from '../../engines/types.js';
import { EngineError, MigrationNotReversibleError, SkypoolError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterSpec, NodePoolSpec, ProviderName } from '../../spec/schema.js';
import type { ClusterContext } from '../context.js';
import { recordFootprint } from '../footprint.js';
import { findManager, type ManagerRef, nodesByName } from '../nodes.js';
import type { PhaseTiming } from '../types.js';
import { moveControlPlane } from './control-plane.js';
import { cordon } from './cordon.js';
import { type MigrationIntent, writeIntent } from './intent.js';
import { moveServices } from './move-services.js';
import { retireSource } from './retire.js';
import type { ServiceMove } from './types.js';

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

/** What a rollback starts from: the engine's record, the spec from before the migration, the VMs listed. */
export interface RollbackInput {
  readonly recorded: MigrationIntent;
  readonly original: ClusterSpec;
  readonly instances: readonly Instance[];
  readonly phase: <T>(name: PhaseTiming['phase'], run: () => Promise<T>) => Promise<T>;
}

/** A rollback's sides: the source VMs, the target VMs that go (see rollbackVictims), and every VM that stays. */
export function rollbackSides(
  instances: readonly Instance[],
  recorded: MigrationIntent,
  original: ClusterSpec,
): { sources: Instance[]; leaving: Instance[]; leavingNames: Set<string>; keep: Instance[] } {
  const sourceNames = new Set(recorded.sources);
  const existing = original.pools.filter((p) => recorded.targets.some((t) => t.name === p.name));
  const leaving = rollbackVictims(instances, recorded, existing);
  const leavingNames = new Set(leaving.map((i) => i.name));
  return {
    sources: instances.filter((i) => sourceNames.has(i.tags.pool)),
    leaving,
    leavingNames,
    keep: instances.filter((i) => !leavingNames.has(i.name)),
  };
}

/** The cloud networks a rollback deletes: the targets' (provider, region) that no pool of the original spec uses. */
export function rollbackNetworks(
  original: ClusterSpec,
  recorded: MigrationIntent,
): Array<{ provider: ProviderName; region?: string }> {
  const where = (p: { provider: string; region?: string }) => `${p.provider} ${p.region ?? ''}`;
  const stays = new Set(original.pools.map(where));
  return [...new Map(recorded.targets.map((t) => [where(t), t])).values()]
    .filter((t) => !stays.has(where(t)))
    .map((t) => ({ provider: t.provider, ...(t.region ? { region: t.region } : {}) }));
}

/**
 * The end of every engine's rollback, once the work is back on the source: the `retire-target` phase (the target
 * VMs, their engine entries and fabric peers, the networks only they used), then the footprint of the original
 * pools alone and no migration record. Returns the VMs terminated.
 */
export async function retireTarget(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  input: Omit<RollbackInput, 'instances'> & {
    readonly leaving: readonly Instance[];
    readonly keep: readonly Instance[];
  },
  signal?: AbortSignal,
): Promise<string[]> {
  const { recorded, original, leaving, keep, phase } = input;
  const networks = rollbackNetworks(original, recorded);
  const terminated = await phase('retire-target', () =>
    retireSource(ctx, driver, api, leaving, keep, networks, signal),
  );
  // Back where it was: the cluster runs on the original pools only.
  await recordFootprint(ctx.options.stateDir, original.name, original.pools, { replace: true });
  await writeIntent(driver, api.endpoint, undefined);
  return terminated;
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
  input: RollbackInput,
  signal?: AbortSignal,
): Promise<RollbackOutcome> {
  const { recorded, original, instances, phase } = input;
  const { sources, leaving, leavingNames, keep } = rollbackSides(instances, recorded, original);
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

  // 3. The target goes.
  const terminated = await retireTarget(ctx, driver, api, { ...input, leaving, keep }, signal);
  return {
    services: moved.services,
    managers: control.managers,
    ...(control.leader ? { leader: control.leader } : {}),
    terminated,
  };
}
