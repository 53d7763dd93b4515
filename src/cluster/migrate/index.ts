import type { EngineDriver } from '../../engines/types.js';
import { EngineError, SkypoolError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { parseSpec } from '../../spec/load.js';
import type { ClusterSpec, ProviderName } from '../../spec/schema.js';
import { converge } from '../apply.js';
import type { ClusterContext } from '../context.js';
import { recordFootprint } from '../footprint.js';
import { findManager, type ManagerRef } from '../nodes.js';
import { removeInstances } from '../remove.js';
import { withTokenRotation } from '../token-rotation.js';
import type { PhaseTiming } from '../types.js';
import { moveControlPlane } from './control-plane.js';
import { cordon } from './cordon.js';
import { MIGRATION_RECORD, type MigrationIntent, readIntent, startIntent, writeIntent } from './intent.js';
import { moveServices } from './move-services.js';
import { migrationSpecs, planMigration } from './plan.js';
import { retireSource } from './retire.js';
import { assertReversible, rollBack } from './rollback.js';
import { isSlurm, migrateSlurm } from './slurm.js';
import { targetFailed } from './target-failed.js';
import type { MigrateOptions, MigrationPlan, MigrationResult } from './types.js';

export { planMigration } from './plan.js';
export type * from './types.js';

/** The region a provider's pools use when they name none: its settings' region. */
function regionOf(ctx: ClusterContext) {
  return (provider: ProviderName): string | undefined => {
    const settings = ctx.options.providers?.[provider] as { region?: unknown } | undefined;
    return typeof settings?.region === 'string' ? settings.region : undefined;
  };
}

const withPools = (spec: ClusterSpec, pools: ClusterSpec['pools']): ClusterSpec => parseSpec({ ...spec, pools });

/** The engine capabilities a migration drives; an engine without them is refused before anything changes. */
function assertMigratable(driver: EngineDriver): void {
  const missing = (
    [
      ['services', driver.services?.rescheduleService],
      ['availability', driver.setAvailability],
      ['cluster records', driver.clusterRecord],
      ['demotion', driver.demoteNode],
    ] as const
  )
    .filter(([, has]) => !has)
    .map(([what]) => what);
  if (missing.length > 0)
    throw new EngineError(
      `engine ${driver.engine} cannot migrate yet (it lacks ${missing.join(', ')}): only swarm pools migrate in this release`,
      { engine: driver.engine },
    );
}

interface Observed {
  readonly plan: MigrationPlan;
  readonly instances: Instance[];
  readonly manager?: ManagerRef;
  readonly recorded?: MigrationIntent;
}

/**
 * Lists the cluster (sources and targets: the target's provider may not be in the spec yet), finds a manager,
 * reads the migration the engine recorded, and plans. Read-only.
 */
async function observe(ctx: ClusterContext, options: MigrateOptions): Promise<Observed> {
  const { signal } = options;
  const original = ctx.spec;
  const first = planMigration({
    spec: original,
    from: options.from,
    to: options.to,
    instances: [],
    regionOf: regionOf(ctx),
  });
  const listed = (extra: readonly ClusterSpec['pools'][number][]) =>
    withPools(original, [
      ...original.pools,
      ...extra.filter((t) => !original.pools.some((p) => p.name === t.name)).map((t) => ({ ...t, count: 0 })),
    ]);
  // The targets may live on a provider the spec does not name yet: list it too.
  ctx.spec = listed(first.pools);
  try {
    let instances = await ctx.inventory(signal);
    const { manager, recorded } = await recordedIntent(ctx, instances, signal);
    if (recorded && recorded.from !== options.from)
      throw new EngineError(
        `a migration from ${recorded.from} to ${recorded.to} (started ${recorded.startedAt}) is not finished: run \`skypool migrate --from ${recorded.from} --to ${recorded.to}\` to finish it first`,
        { from: recorded.from, to: recorded.to },
      );
    if (recorded) {
      ctx.spec = listed(recorded.targets);
      instances = await ctx.inventory(signal);
    }
    const plan = planMigration({
      spec: original,
      from: options.from,
      to: options.to,
      instances,
      regionOf: regionOf(ctx),
      ...(recorded ? { recorded } : {}),
    });
    return { plan, instances, ...(manager ? { manager } : {}), ...(recorded ? { recorded } : {}) };
  } finally {
    ctx.spec = original;
  }
}

/** How long a rerun waits for a Slurm controller to answer when a controller VM holds the migration record. */
const STOPPED_CONTROLLER_WAIT_MS = 3_000;
/** How long reading the record from the controller VMs may take before the rerun waits for a controller as usual. */
const RECORD_READ_MS = 3_000;

/**
 * Whether a Slurm controller VM holds a migration record, read from its state directory through its mailbox (no
 * slurmctld needed). A migration stopped while the controller moved left no slurmctld running, and migrateSlurm
 * goes on from that record: a controller that does not answer at once is then not waited for the usual 15 s.
 */
async function recordOnControllerVms(ctx: ClusterContext, instances: readonly Instance[]): Promise<boolean> {
  const driver = await ctx.driver();
  if (!isSlurm(driver)) return false;
  const controllers = instances.filter((i) => i.tags.role === 'manager' && i.state === 'running');
  const reads = controllers.map(async (i) => {
    if ((await driver.clusterRecord(ctx.endpoint(i), MIGRATION_RECORD)) === undefined) throw new Error('no record');
    return true;
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), RECORD_READ_MS);
  });
  try {
    return await Promise.race([Promise.any(reads).catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A manager and the migration the engine recorded. A manager demoted a moment ago (an interrupted migration
 * was moving the control plane) may still answer as one and then fail the read: the next manager is asked.
 */
async function recordedIntent(
  ctx: ClusterContext,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<{ manager?: ManagerRef; recorded?: MigrationIntent }> {
  const tried = new Set<string>();
  const waitMs = (await recordOnControllerVms(ctx, instances)) ? STOPPED_CONTROLLER_WAIT_MS : undefined;
  for (;;) {
    const manager =
      instances.length > 0
        ? await findManager(ctx, instances, {
            exclude: tried,
            ...(waitMs !== undefined ? { waitMs } : {}),
            ...(signal ? { signal } : {}),
          })
        : undefined;
    if (!manager) return {};
    try {
      const recorded = await readIntent(await ctx.driver(), manager.endpoint);
      return { manager, ...(recorded ? { recorded } : {}) };
    } catch (error) {
      if (!SkypoolError.isInstance(error) || error.code !== 'ENGINE_ERROR' || error.details.record) throw error;
      tried.add(manager.instance.name);
      ctx.progress.message(`${(error as Error).message}; asking another manager`, 'warn');
    }
  }
}

/**
 * The migration the engine recorded and has not finished, planned from where it stands (what `skypool plan`
 * shows), or undefined when none is. Read-only.
 */
export async function migrationInProgress(
  ctx: ClusterContext,
  manager: ManagerRef,
  signal?: AbortSignal,
): Promise<MigrationPlan | undefined> {
  const recorded = await readIntent(await ctx.driver(), manager.endpoint);
  if (!recorded) return undefined;
  const original = ctx.spec;
  ctx.spec = withPools(original, [
    ...original.pools,
    ...recorded.targets.filter((t) => !original.pools.some((p) => p.name === t.name)).map((t) => ({ ...t, count: 0 })),
  ]);
  try {
    const instances = await ctx.inventory(signal);
    return planMigration({
      spec: original,
      from: recorded.from,
      to: recorded.to,
      instances,
      regionOf: regionOf(ctx),
      recorded,
    });
  } finally {
    ctx.spec = original;
  }
}

/**
 * Moves every workload and the control plane of the `from` pools to `to`, in order: plan, provision the target
 * (the apply path), cordon the source, move the services, move the managers, retire the source (the destroy path
 * for its VMs and networks). Records its intent in the engine first, so a rerun after a crash finishes it from
 * the engine's state and the clouds' tags. On success `ctx.spec` is the spec after the migration.
 */
export async function migrate(ctx: ClusterContext, options: MigrateOptions): Promise<MigrationResult> {
  const started = performance.now();
  const phases: PhaseTiming[] = [];
  const { signal } = options;
  const phase = <T>(name: PhaseTiming['phase'], run: () => Promise<T>): Promise<T> =>
    ctx.progress.phase(name, phases, run);
  const original = ctx.spec;
  if (options.rollback && !original.pools.some((p) => p.name === options.from || p.provider === options.from))
    assertReversible(original, options.from, undefined);
  const observed = await phase('migrate-plan', () => observe(ctx, options));
  // With no manager answering, a Slurm controller's record is read from its state (the Slurm path checks it).
  if (options.rollback && observed.manager) assertReversible(original, options.from, observed.recorded);
  const { plan } = observed;
  const base = { cluster: original.name, plan, phases };
  if (options.dryRun)
    return {
      ...base,
      dryRun: true,
      created: [],
      terminated: [],
      services: [],
      managers: [],
      phases,
      durationMs: Math.round(performance.now() - started),
      provisionMs: 0,
    };

  // Before any target VM exists: read-only commands with the spec from before this migration find them there.
  await recordFootprint(ctx.options.stateDir, original.name, plan.pools);
  const sourceNames = new Set(plan.mappings.map((m) => m.source.pool));
  const targetNames = new Set(plan.mappings.map((m) => m.target.pool));
  const manager = observed.manager;
  const engine = await ctx.driver();
  // Slurm's own path: a migration stopped while the controller moved has no controller answering yet.
  if (isSlurm(engine)) {
    await ctx.checkPrerequisites();
    return migrateSlurm(ctx, engine, options, observed, phases, started);
  }
  if (!manager)
    throw new EngineError(`no manager of cluster ${original.name} answers: run \`skypool up\` first, then migrate`, {
      cluster: original.name,
    });
  await ctx.checkPrerequisites();
  const driver = engine;
  assertMigratable(driver);
  if (options.rollback && observed.recorded) {
    const recorded = observed.recorded;
    const during = migrationSpecs(
      original,
      original.pools.filter((p) => recorded.sources.includes(p.name)),
      recorded.targets,
      observed.instances,
    ).during;
    ctx.spec = withPools(original, during);
    try {
      const back = await rollBack(ctx, driver, { recorded, original, instances: observed.instances, phase }, signal);
      return {
        ...base,
        dryRun: false,
        rolledBack: true,
        created: [],
        terminated: back.terminated,
        services: back.services,
        managers: back.managers,
        ...(back.leader ? { leader: back.leader } : {}),
        durationMs: Math.round(performance.now() - started),
        provisionMs: 0,
      };
    } finally {
      ctx.spec = original;
    }
  }
  const targets = [...new Map(plan.pools.filter((p) => targetNames.has(p.name)).map((p) => [p.name, p])).values()];
  const intent = await startIntent(driver, manager.endpoint, plan, observed.recorded);
  const sources = original.pools.filter((p) => sourceNames.has(p.name));
  const specs = migrationSpecs(original, sources, targets, observed.instances);
  ctx.spec = withPools(original, specs.during);

  // 1. The target, through apply's own converge; any failure here leaves the source as it was.
  const provisionStarted = performance.now();
  let created: readonly string[] = [];
  try {
    created = (await phase('provision-target', () => withTokenRotation(ctx, () => converge(ctx, signal)))).created;
  } catch (error) {
    const failure = await abandonTarget(ctx, plan, manager, observed.recorded === undefined, error);
    ctx.spec = original;
    throw failure;
  }
  const provisionMs = Math.round(performance.now() - provisionStarted);

  const instances = await ctx.inventory(signal);
  const leaving = instances.filter((i) => sourceNames.has(i.tags.pool));
  const leavingNames = new Set(leaving.map((i) => i.name));
  const keep = instances.filter((i) => !leavingNames.has(i.name));
  const api = await findManager(ctx, keep, { exclude: leavingNames, ...(signal ? { signal } : {}) });
  if (!api)
    throw new EngineError(
      `no manager outside the source answers after the target came up: rerun \`skypool migrate --from ${plan.from} --to ${plan.to}\``,
      { cluster: original.name },
    );

  // 2. Cordon, move the services, then the control plane.
  await phase('cordon', () => cordon(ctx, driver, api, leaving));
  const moved = await phase('move-services', () => moveServices(ctx, driver, api, leaving, signal));
  const targetManagers = keep
    .filter((i) => i.tags.role === 'manager' && targetNames.has(i.tags.pool))
    .map((i) => i.name);
  const control = await phase('move-managers', () =>
    moveControlPlane(
      ctx,
      driver,
      api,
      leavingNames,
      targetManagers,
      keep.map((i) => i.name),
      signal,
    ),
  );

  // 3. Retire the source: VMs, engine entries, fabric peers, networks. Recorded first: from here on a rollback
  // has nothing to return to.
  if (intent.stage !== 'retire-source') await writeIntent(driver, api.endpoint, { ...intent, stage: 'retire-source' });
  const terminated = await phase('retire-source', () =>
    retireSource(ctx, driver, api, leaving, keep, plan.networksDeleted, signal),
  );
  ctx.spec = withPools(original, specs.after);
  await recordFootprint(ctx.options.stateDir, original.name, specs.after, { replace: true });
  await writeIntent(driver, api.endpoint, undefined);
  return {
    ...base,
    dryRun: false,
    created,
    terminated,
    services: moved.services,
    managers: control.managers,
    ...(control.leader ? { leader: control.leader } : {}),
    durationMs: Math.round(performance.now() - started),
    provisionMs,
  };
}

/**
 * After a failed provisioning of a fresh migration: removes the target VMs that came up (drained and demoted
 * through the source's manager, as a scale-down would) and the engine's record, so nothing keeps costing and a
 * later migrate starts clean. A resumed migration keeps both: its rerun continues where it stopped.
 */
async function abandonTarget(
  ctx: ClusterContext,
  plan: MigrationPlan,
  manager: ManagerRef,
  fresh: boolean,
  error: unknown,
): Promise<SkypoolError> {
  let cleaned = '';
  if (fresh && !(SkypoolError.isInstance(error) && error.code === 'CANCELLED')) {
    const newPools = new Set(plan.mappings.filter((m) => !m.targetExists).map((m) => m.target.pool));
    try {
      const created = (await ctx.inventory()).filter((i) => newPools.has(i.tags.pool));
      if (created.length > 0) await removeInstances(ctx, manager, created);
      await writeIntent(await ctx.driver(), manager.endpoint, undefined);
      cleaned = created.length > 0 ? ` (the ${created.length} target VM(s) that came up were removed)` : '';
    } catch (cleanup) {
      cleaned = ` (removing the target VMs that came up failed too: ${(cleanup as Error).message}; rerun migrate to finish it)`;
    }
  }
  return targetFailed(plan, error, cleaned);
}
