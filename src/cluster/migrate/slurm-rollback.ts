import * as move from '../../engines/slurm/controller-move.js';
import type { SlurmDriver } from '../../engines/slurm/index.js';
import { MigrationNotReversibleError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';
import { awaitIdentity } from '../identity.js';
import { type ManagerRef, nodesByName, waitNodesReady } from '../nodes.js';
import { cordon } from './cordon.js';
import { MIGRATION_RECORD } from './intent.js';
import { type RollbackInput, retireTarget, rollbackSides } from './rollback.js';
import { moveController, nameBackup, startController, takeOver } from './slurm-controller.js';
import { moveJobs } from './slurm-jobs.js';
import type { JobMove } from './types.js';

const worker = (i: Instance) => i.tags.role === 'worker';

export interface SlurmRollbackOutcome {
  readonly jobs: JobMove[];
  readonly controller: string;
  readonly terminated: string[];
}

/**
 * Returns an interrupted Slurm migration to its source while the source still exists, the forward steps in the
 * opposite direction: slurmctld goes back to the source controller VM with the newest state (from the target
 * when the state moved there: the source is named backup first, then the state is copied back), the source
 * nodes are resumed, the target nodes drain (their jobs finish or are requeued onto the source at the drain
 * deadline), then the target VMs and the networks only they used go and the record is cleared. The controller
 * comes first: while no slurmctld answers (a migration stopped halfway through the move), nothing can be resumed.
 * Each step checks what is done, so an interrupted rollback reruns.
 */
export async function rollBackSlurm(
  ctx: ClusterContext,
  driver: SlurmDriver,
  input: RollbackInput,
  signal?: AbortSignal,
): Promise<SlurmRollbackOutcome> {
  const { recorded, original, phase } = input;
  const tools = driver.controllerMove();
  const instances = input.instances.filter((i) => i.state === 'running' || i.state === 'pending');
  const { sources, leaving, keep } = rollbackSides(instances, recorded, original);
  const ref = (instance: Instance): ManagerRef => ({ instance, endpoint: ctx.endpoint(instance) });
  const sourceVm = sources.find((i) => i.tags.role === 'manager');
  if (!sourceVm)
    throw new MigrationNotReversibleError(
      `the source controller VM of the migration from ${recorded.from} to ${recorded.to} is gone: there is no controller to return to. Run \`skypool migrate --from ${recorded.from} --to ${recorded.to}\` to finish it, then migrate back`,
      { from: recorded.from, to: recorded.to },
    );
  const source = ref(sourceVm);
  const targetVm = leaving.find((i) => i.tags.role === 'manager');
  const target = targetVm ? ref(targetVm) : undefined;

  // 1. slurmctld back on the source. The target holds the newest state when the record moved there and the
  //    source's slurmctld is down (a rollback that copied it back clears the target's record).
  await phase('move-controller', async () => {
    const sourceUp = await move.controllerUp(tools.exec, source.endpoint, source.instance.name);
    const onTarget =
      !sourceUp &&
      target !== undefined &&
      (await driver.clusterRecord(target.endpoint, MIGRATION_RECORD).catch(() => undefined)) !== undefined;
    if (onTarget) {
      if (await move.controllerUp(tools.exec, target.endpoint, target.instance.name)) {
        await awaitIdentity(ctx, source.instance, signal);
        await nameBackup(ctx, tools, target, source, instances, signal);
      }
      await moveController(ctx, tools, target, source, signal);
      await driver.setClusterRecord(target.endpoint, MIGRATION_RECORD, undefined);
    } else if (!sourceUp) {
      // Stopped with its state saved, the move not done: it starts again with that state.
      await startController(ctx, tools, source, signal);
    }
    await takeOver(ctx, tools, source, keep.filter(worker), signal);
  });

  // 2. The source nodes take jobs again; the target nodes take none, and their jobs move to the source.
  await phase('restore-source', async () => {
    const nodeFor = nodesByName(await driver.listNodes(source.endpoint));
    for (const instance of sources.filter(worker)) {
      const node = nodeFor(instance.name);
      if (!node || !(await driver.setAvailability(source.endpoint, node.id, 'active'))) continue;
      ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'ready' });
    }
  });
  const targetWorkers = leaving.filter(worker);
  await phase('cordon', () => cordon(ctx, driver, source, targetWorkers));
  const jobs = await phase('move-jobs', async () => {
    // A slurmctld started with a copied state takes each node for not responding until its slurmd answers: the
    // drain only sees the target nodes' jobs once they do.
    await waitNodesReady(
      ctx,
      source,
      targetWorkers.map((i) => i.name),
      signal,
    );
    return moveJobs(ctx, driver, source, targetWorkers, signal);
  });

  // 3. The target goes.
  const terminated = await retireTarget(ctx, driver, source, { recorded, original, leaving, keep, phase }, signal);
  return { jobs, controller: source.instance.name, terminated };
}
