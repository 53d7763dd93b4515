import * as move from '../../engines/slurm/controller-move.js';
import { SlurmDriver } from '../../engines/slurm/index.js';
import type { EngineDriver, EngineEndpoint } from '../../engines/types.js';
import { EngineError, SkypoolError } from '../../errors.js';
import { computePlan } from '../../plan.js';
import type { Instance } from '../../providers/types.js';
import { parseSpec } from '../../spec/load.js';
import type { ClusterSpec, NodePoolSpec } from '../../spec/schema.js';
import { converge } from '../apply.js';
import { waitEngine } from '../boot-log.js';
import type { ClusterContext } from '../context.js';
import { fabricPrefixes, networkKey, syncFabric } from '../fabric.js';
import { recordFootprint } from '../footprint.js';
import { awaitIdentity } from '../identity.js';
import { launchNode, waitRunning } from '../launch.js';
import type { ManagerRef } from '../nodes.js';
import { withPrefix } from '../phases/launch-nodes.js';
import { removeInstances } from '../remove.js';
import type { PhaseTiming } from '../types.js';
import { MIGRATION_RECORD, type MigrationIntent, parseIntent, readIntent, startIntent, writeIntent } from './intent.js';
import { migrationSpecs } from './plan.js';
import { retireSource } from './retire.js';
import { assertReversible } from './rollback.js';
import { moveController, nameBackup, startController, takeOver } from './slurm-controller.js';
import { moveJobs } from './slurm-jobs.js';
import { rollBackSlurm } from './slurm-rollback.js';
import { targetFailed } from './target-failed.js';
import type { JobMove, MigrateOptions, MigrationPlan, MigrationResult } from './types.js';

export const isSlurm = (driver: EngineDriver): driver is SlurmDriver => driver instanceof SlurmDriver;

const withPools = (spec: ClusterSpec, pools: ClusterSpec['pools']): ClusterSpec => parseSpec({ ...spec, pools });
const BOOT_DONE = '/var/lib/skypool/bootstrap.done';
const alive = (i: Instance) => i.state === 'running' || i.state === 'pending';

interface Observed {
  readonly plan: MigrationPlan;
  readonly instances: Instance[];
  readonly manager?: ManagerRef;
  readonly recorded?: MigrationIntent;
}

/**
 * Where a migration stopped while the controller moved (the source slurmctld stopped, the target's not started
 * yet), no controller answers: the record is read from the controller VMs' state directories directly (their
 * mailboxes answer without slurmctld), and the migration goes on from there. Otherwise: as observed.
 */
async function withRecord(ctx: ClusterContext, driver: SlurmDriver, observed: Observed): Promise<Observed> {
  if (observed.manager) return observed;
  const controllers = observed.instances.filter((i) => i.tags.role === 'manager' && alive(i));
  for (const instance of controllers) {
    const endpoint = ctx.endpoint(instance);
    const text = await driver.clusterRecord(endpoint, MIGRATION_RECORD).catch(() => undefined);
    if (!text) continue;
    const recorded = parseIntent(text);
    if (recorded.from !== observed.plan.from)
      throw new EngineError(
        `a migration from ${recorded.from} to ${recorded.to} (started ${recorded.startedAt}) is not finished: run \`skypool migrate --from ${recorded.from} --to ${recorded.to}\` to finish it first`,
        { from: recorded.from, to: recorded.to },
      );
    ctx.progress.message(`no slurm controller answers: finishing the migration recorded on ${instance.name}`, 'warn');
    return {
      ...observed,
      plan: { ...observed.plan, resumed: recorded.startedAt },
      manager: { instance, endpoint },
      recorded,
    };
  }
  throw new EngineError(`no manager of cluster ${ctx.spec.name} answers: run \`skypool up\` first, then migrate`, {
    cluster: ctx.spec.name,
  });
}

/**
 * Migrates a Slurm cluster: provision the target's nodes (apply's converge, joined to the running controller),
 * launch the target controller, name it as the backup controller everywhere, drain the source nodes (jobs finish
 * or are requeued onto the target at the drain deadline), move slurmctld with its saved state, then retire the
 * source. The intent lives beside the controller's state, so it moves with it; each step checks what is done,
 * so a rerun continues (see README: what a rerun cannot finish yet).
 */
export async function migrateSlurm(
  ctx: ClusterContext,
  driver: SlurmDriver,
  options: MigrateOptions,
  seen: Observed,
  phases: PhaseTiming[],
  started: number,
): Promise<MigrationResult> {
  const { signal } = options;
  const phase = <T>(name: PhaseTiming['phase'], run: () => Promise<T>): Promise<T> =>
    ctx.progress.phase(name, phases, run);
  if (driver.nodeIdentity !== 'console')
    throw new EngineError(
      'slurm pools migrate over the fabric only (pools on clouds): a cluster of local VMs has no controller to move to',
      { cluster: ctx.spec.name },
    );
  const tools = driver.controllerMove();
  const observed = await withRecord(ctx, driver, seen);
  const { plan } = observed;
  const manager = observed.manager!;
  const original = ctx.spec;
  if (options.rollback) {
    const recorded = observed.recorded ?? (await readIntent(driver, manager.endpoint));
    assertReversible(original, options.from, recorded);
    const sources = original.pools.filter((p) => recorded.sources.includes(p.name));
    ctx.spec = withPools(original, migrationSpecs(original, sources, recorded.targets, observed.instances).during);
    try {
      const back = await rollBackSlurm(
        ctx,
        driver,
        { recorded, original, instances: observed.instances, phase },
        signal,
      );
      return {
        cluster: original.name,
        plan,
        phases,
        dryRun: false,
        rolledBack: true,
        created: [],
        terminated: back.terminated,
        services: [],
        jobs: back.jobs,
        managers: [back.controller],
        leader: back.controller,
        durationMs: Math.round(performance.now() - started),
        provisionMs: 0,
      };
    } finally {
      ctx.spec = original;
    }
  }
  const sourceNames = new Set(plan.mappings.map((m) => m.source.pool));
  const targetNames = new Set(plan.mappings.map((m) => m.target.pool));
  const targets = [...new Map(plan.pools.filter((p) => targetNames.has(p.name)).map((p) => [p.name, p])).values()];
  const intent = await startIntent(driver, manager.endpoint, plan, observed.recorded);
  const sources = original.pools.filter((p) => sourceNames.has(p.name));
  const specs = migrationSpecs(original, sources, targets, observed.instances);
  const liveOf = (instances: readonly Instance[], pool: string) =>
    instances.filter((i) => i.tags.pool === pool && alive(i)).length;
  const controllerPool = targets.find((t) => t.role === 'manager');
  const oldController = observed.instances.find((i) => i.tags.role === 'manager' && sourceNames.has(i.tags.pool));
  if (controllerPool && !oldController && !observed.instances.some((i) => i.tags.pool === controllerPool.name))
    throw new EngineError('no controller VM on the source or the target', { cluster: original.name });

  // 1. The target's nodes join the running controller (apply's converge); the target controller comes after,
  //    so no new node takes it for its controller. Skipped when every target node runs already (a rerun).
  const provisionStarted = performance.now();
  const created: string[] = [];
  const duringPools = (instances: readonly Instance[]): NodePoolSpec[] =>
    specs.during.map((p) =>
      p.role === 'manager' && targetNames.has(p.name)
        ? { ...p, count: Math.min(p.count, liveOf(instances, p.name)) }
        : p,
    );
  let newController: Instance | undefined;
  try {
    await phase('provision-target', async () => {
      const needed = targets.some((t) => t.role === 'worker' && liveOf(observed.instances, t.name) < t.count);
      if (needed) {
        ctx.spec = withPools(original, duringPools(observed.instances));
        created.push(...(await converge(ctx, signal)).created);
      }
      if (controllerPool) {
        ctx.spec = withPools(original, specs.during);
        newController = await launchController(ctx, driver, controllerPool, signal);
        if (!created.includes(newController.name) && !observed.instances.some((i) => i.name === newController!.name))
          created.push(newController.name);
      }
    });
  } catch (error) {
    ctx.spec = original;
    throw await abandonTarget(ctx, plan, observed, error);
  }
  const provisionMs = Math.round(performance.now() - provisionStarted);
  ctx.spec = withPools(original, specs.during);

  const listed = await ctx.inventory(signal);
  const instances = listed.filter(alive);
  // A stopped source VM is terminated with the others; only running ones drain.
  const leaving = listed.filter((i) => sourceNames.has(i.tags.pool) && i.state !== 'terminated');
  const keep = instances.filter((i) => !sourceNames.has(i.tags.pool));
  const oldRef = oldController ? { instance: oldController, endpoint: ctx.endpoint(oldController) } : undefined;
  const newRef = newController ? { instance: newController, endpoint: ctx.endpoint(newController) } : undefined;
  // Moved already when the target controller holds the migration record (it came with the state).
  const moved = newRef ? (await driver.clusterRecord(newRef.endpoint, MIGRATION_RECORD)) !== undefined : true;
  // The source controller is down when a migration stopped halfway through the move: the drain was done then.
  const oldUp = !moved && oldRef ? await move.controllerUp(tools.exec, oldRef.endpoint, oldRef.instance.name) : false;
  const api = oldUp && oldRef ? oldRef : (newRef ?? manager);

  // 2. Every slurmd learns the target controller (a backup SlurmctldHost, pushed by reconfigure), then the
  //    source nodes drain.
  let jobs: JobMove[] = [];
  if (oldUp && oldRef && newRef) {
    await phase('cordon', () => nameBackup(ctx, tools, oldRef, newRef, instances, signal));
  }
  // A run killed after the state reached the target but before slurmctld started there: start it, then drain.
  if (moved && newRef) await startController(ctx, tools, newRef, signal);
  if (oldUp || moved || !newRef) jobs = await phase('move-jobs', () => moveJobs(ctx, driver, api, leaving, signal));

  // 3. slurmctld moves with its state; every slurmd is pointed at it.
  let controller = api;
  if (newRef) {
    controller = newRef;
    await phase('move-controller', async () => {
      if (!moved && oldRef) await moveController(ctx, tools, oldRef, newRef, signal);
      await takeOver(
        ctx,
        tools,
        newRef,
        keep.filter((i) => i.tags.role === 'worker'),
        signal,
      );
    });
  }

  // 4. The source's VMs, engine entries, fabric peers and networks. Recorded first: from here on a rollback has
  //    nothing to return to.
  if (intent.stage !== 'retire-source')
    await writeIntent(driver, controller.endpoint, { ...intent, stage: 'retire-source' });
  const terminated = await phase('retire-source', () =>
    retireSource(ctx, driver, controller, leaving, keep, plan.networksDeleted, signal),
  );
  ctx.spec = withPools(original, specs.after);
  await recordFootprint(ctx.options.stateDir, original.name, specs.after, { replace: true });
  await writeIntent(driver, controller.endpoint, undefined);
  return {
    cluster: original.name,
    plan,
    phases,
    dryRun: false,
    created,
    terminated,
    services: [],
    jobs,
    managers: [controller.instance.name],
    leader: controller.instance.name,
    durationMs: Math.round(performance.now() - started),
    provisionMs,
  };
}

/** The target controller VM: launched alone (its own fresh slurmctld), on the fabric, its munge key delivered. */
async function launchController(
  ctx: ClusterContext,
  driver: SlurmDriver,
  pool: NodePoolSpec,
  signal?: AbortSignal,
): Promise<Instance> {
  let instances = (await ctx.inventory(signal)).filter(alive);
  let controller = instances.find((i) => i.tags.pool === pool.name);
  const existed = controller !== undefined;
  if (!controller) {
    const create = computePlan(ctx.spec, instances).creates.find((c) => c.pool.name === pool.name);
    const name = create?.names[0];
    if (!name) throw new EngineError(`no name planned for the target controller of pool ${pool.name}`, {});
    const prefix = fabricPrefixes(ctx.spec, instances).get(networkKey(pool));
    const launched = await launchNode(ctx, { name, pool }, 'manager', true, withPrefix(prefix), signal);
    controller = await waitRunning(ctx, launched, signal);
    instances = [...instances.filter((i) => i.name !== controller!.name), controller];
  }
  await awaitIdentity(ctx, controller, signal);
  await syncFabric(ctx, driver, instances, instances, signal);
  // One that booted already may have had its own slurmctld stopped by the run before (it waits for the state).
  if (!existed || !(await booted(driver, ctx.endpoint(controller)))) await waitEngine(ctx, controller, signal);
  return controller;
}

async function booted(driver: SlurmDriver, endpoint: EngineEndpoint): Promise<boolean> {
  const tools = driver.controllerMove();
  const r = await tools.exec(endpoint, ['test', '-s', BOOT_DONE], { allowFailure: true }).catch(() => undefined);
  return r?.code === 0;
}

/** The target could not come up: its new VMs go (the source was not touched) and the error names the cause. */
async function abandonTarget(
  ctx: ClusterContext,
  plan: MigrationPlan,
  observed: Observed,
  error: unknown,
): Promise<SkypoolError> {
  let cleaned = '';
  if (!observed.recorded && !(SkypoolError.isInstance(error) && error.code === 'CANCELLED')) {
    const newPools = new Set(plan.mappings.filter((m) => !m.targetExists).map((m) => m.target.pool));
    try {
      const created = (await ctx.inventory()).filter((i) => newPools.has(i.tags.pool));
      const workers = created.filter((i) => i.tags.role === 'worker');
      if (workers.length > 0 && observed.manager) await removeInstances(ctx, observed.manager, workers);
      const controllers = created.filter((i) => i.tags.role !== 'worker');
      for (const c of controllers) await ctx.queue.terminate(await ctx.provider(c.provider), [c.id]);
      if (observed.manager) await writeIntent(await ctx.driver(), observed.manager.endpoint, undefined);
      cleaned = created.length > 0 ? ` (the ${created.length} target VM(s) that came up were removed)` : '';
    } catch (cleanup) {
      cleaned = ` (removing the target VMs that came up failed too: ${(cleanup as Error).message}; rerun migrate to finish it)`;
    }
  }
  return targetFailed(plan, error, cleaned, 'job');
}
