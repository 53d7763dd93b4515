import type { DrainResult } from '../engines/types.js';
import type { Instance } from '../providers/types.js';
import { waitEngine } from './boot-log.js';
import type { ClusterContext, PoolLaunch } from './context.js';
import { fabricPrefixes, networkKey, pushJoins, syncFabric } from './fabric.js';
import { recordFootprint } from './footprint.js';
import { awaitIdentity } from './identity.js';
import { launchNode, waitRunning } from './launch.js';
import type { ManagerRef } from './nodes.js';
import { observe } from './observe.js';
import { loadImages } from './phases/images.js';
import { takeInventory } from './phases/inventory.js';
import { applyLabels } from './phases/labels.js';
import { launchRunning, takeFirstManager, waitEngines, withPrefix } from './phases/launch-nodes.js';
import { ensureNetworks } from './phases/network.js';
import { assertSpecFitsEngine, prepare } from './phases/prepare.js';
import { isEarlyDelete, terminateEarly } from './phases/recover.js';
import { rotateJoinTokens } from './phases/rotate-tokens.js';
import { scaleDown } from './phases/scale-down.js';
import { waitReady } from './phases/wait-ready.js';
import { refuseIfRunningElsewhere } from './survey.js';
import type { ApplyResult, PhaseTiming } from './types.js';

/**
 * Converges providers and engine onto the spec, as a sequence of named phases (src/cluster/phases/*). The
 * providers' listings (ownership tags) and the engine's node list are the only state, so after a crash a second
 * apply picks up where the first stopped: VMs that never joined are replaced, missing ones created, surplus ones
 * drained and removed. Engine-specific steps are capabilities of the driver, never names of engines here.
 */
export async function converge(ctx: ClusterContext, signal?: AbortSignal): Promise<ApplyResult> {
  const started = performance.now();
  const phases: PhaseTiming[] = [];
  const { progress } = ctx;
  const phase = <T>(name: PhaseTiming['phase'], run: () => Promise<T>): Promise<T> => progress.phase(name, phases, run);

  const hadPki = ctx.hasPki();
  // Another process may have launched since this one last rotated (and crashed before rotating): unknown again.
  ctx.joinTokensFresh = false;
  await phase('prepare', () => prepare(ctx));
  // Before any network or VM: a spec from before a migration must not start a second pool beside the cluster.
  await refuseIfRunningElsewhere(ctx, signal);
  await phase('network', () => ensureNetworks(ctx, signal));
  let instances = await phase('inventory', () => takeInventory(ctx, hadPki, signal));
  // Where the cluster runs, for read-only commands and destroy with a spec that no longer names it.
  await recordFootprint(ctx.options.stateDir, ctx.spec.name, ctx.spec.pools);
  // Only now, with no VM that answers another CA: never write a CA for a cluster this state directory did not make.
  await ctx.pki();
  const driver = await ctx.driver();
  assertSpecFitsEngine(ctx, driver);

  const observed = await observe(ctx, instances, signal);
  const { plan } = observed;
  let manager: ManagerRef | undefined = observed.manager;
  const strays = plan.deletes.filter((d) => d.reason === 'stray').map((d) => d.instance);
  if (plan.deletes.some(isEarlyDelete)) {
    await phase('recover', () => terminateEarly(ctx, plan.deletes, signal));
    instances = instances.filter((i) => !plan.deletes.some((d) => isEarlyDelete(d) && d.instance === i));
  }
  const drained = plan.deletes.filter((d) => !isEarlyDelete(d)).map((d) => d.instance);
  const launches: PoolLaunch[] = plan.creates
    .filter((c) => c.names.length > 0)
    .map((c) => ({ pool: c.pool, names: [...c.names] }));
  const fabric = driver.nodeIdentity === 'console';
  const prefixes = fabric ? fabricPrefixes(ctx.spec, instances) : undefined;
  const prefixOf = (launch: PoolLaunch) => prefixes?.get(networkKey(launch.pool));
  const created: Instance[] = [];

  // Nodes of engines with console identities boot while the first manager creates the pool: they make their
  // keys and wait for the join volume. Others (Slurm) need a live controller when they boot.
  let joiners: Promise<Instance[]> | undefined;
  const launchJoiners = (managers: readonly Instance[]) => launchRunning(ctx, launches, managers, prefixOf, signal);
  if (!manager) {
    const first = takeFirstManager(ctx, launches);
    manager = await phase('bootstrap-manager', async () => {
      const launched = await launchNode(
        ctx,
        first,
        'manager',
        true,
        withPrefix(prefixes?.get(networkKey(first.pool))),
        signal,
      );
      const instance = await waitRunning(ctx, launched, signal);
      if (fabric) {
        joiners = launchJoiners([instance]);
        joiners.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
        await awaitIdentity(ctx, instance, signal);
      }
      await waitEngine(ctx, instance, signal);
      return { instance, endpoint: ctx.endpoint(instance) };
    });
    created.push(manager.instance);
  }
  const pool = manager;
  const members = () => [...instances, ...created];
  joiners ??= launchJoiners(members().filter((i) => i.tags.role === 'manager'));
  const joined = await phase('launch-nodes', () => joiners!);
  created.push(...joined);
  if (joined.length > 0) {
    await phase('wait-engines', async () => {
      if (fabric) {
        await Promise.all(joined.map((instance) => awaitIdentity(ctx, instance, signal)));
        await syncFabric(ctx, driver, members(), members(), signal);
        const managers = members().filter((i) => i.tags.role === 'manager');
        await pushJoins(ctx, driver, pool.endpoint, managers, joined, signal);
      }
      await waitEngines(ctx, joined, signal);
    });
  } else if (fabric) {
    // Endpoints follow the clouds' addresses: a node's public address changes when it is stopped and started.
    // WireGuard roaming already carried the news to its peers; this writes it down where they look after a reboot.
    const running = members().filter((i) => i.state === 'running');
    await phase('fabric', () => syncFabric(ctx, driver, running, running, signal));
  }

  if ((ctx.spec.images ?? []).length > 0 && created.length > 0)
    await phase('images', () => loadImages(ctx, driver, created, signal));

  const stopped = plan.unchanged.filter((i) => i.state === 'stopped');
  for (const instance of stopped) {
    progress.emit({
      type: 'node',
      node: instance.name,
      pool: instance.tags.pool,
      state: 'stopped',
      detail: 'left as it is: start it on its cloud and it rejoins',
    });
  }
  const keep = [...plan.unchanged.filter((i) => i.state !== 'stopped'), ...created];
  let nodes = await phase('wait-ready', () => waitReady(ctx, pool, keep, signal));

  let drains: DrainResult[] = [];
  if (drained.length > 0) {
    const result = await phase('scale-down', () => scaleDown(ctx, pool, keep, drained, signal));
    drains = result.drains;
    manager = result.manager;
    nodes = await driver.listNodes(manager.endpoint);
    if (fabric) {
      // The removed nodes' peers leave every wg0 that stays.
      await phase('fabric', async () => {
        await syncFabric(ctx, driver, keep, keep, signal);
        await Promise.all(drained.map((i) => ctx.forgetIdentity(i)));
      });
    }
  }
  const api = manager;

  await phase('labels', () => applyLabels(ctx, driver, api, keep, nodes, signal));
  if (joined.length > 0 && driver.rotateJoinTokens)
    await phase('rotate-tokens', async () => {
      await rotateJoinTokens(driver, api);
      ctx.joinTokensFresh = true;
    });

  const recreated = strays.filter((s) => created.some((c) => c.name === s.name)).map((s) => s.name);
  return {
    cluster: ctx.spec.name,
    changed: created.length > 0 || plan.deletes.length > 0,
    created: created.map((i) => i.name),
    deleted: plan.deletes
      .filter((d) => !strays.includes(d.instance) || !recreated.includes(d.instance.name))
      .map((d) => d.instance.name),
    recreated,
    unchanged: plan.unchanged.map((i) => i.name),
    drains,
    phases,
    durationMs: Math.round(performance.now() - started),
  };
}
