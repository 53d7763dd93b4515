import type { DrainResult } from '../engines/types.js';
import { EngineError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import { pickAddresses } from './addresses.js';
import { type ClusterContext, endpointOf, type NodeToLaunch } from './context.js';
import { findManager, labelsFor, type ManagerRef, nodeFor, waitNodesReady } from './nodes.js';
import { foreignCluster, observe } from './observe.js';
import { isEarlyDelete, terminateEarly } from './recover.js';
import { removeInstances } from './remove.js';
import type { ApplyResult, PhaseTiming } from './types.js';

/** Gives every planned node a free address of its provider's network (so its certificate can name it). */
async function assignAddresses(
  ctx: ClusterContext,
  instances: readonly Instance[],
  names: ReadonlyArray<{ name: string; pool: NodeToLaunch['pool'] }>,
  signal?: AbortSignal,
): Promise<NodeToLaunch[]> {
  const byProvider = new Map<string, Array<{ name: string; pool: NodeToLaunch['pool'] }>>();
  for (const n of names) byProvider.set(n.pool.provider, [...(byProvider.get(n.pool.provider) ?? []), n]);
  const out: NodeToLaunch[] = [];
  for (const [provider, wanted] of byProvider) {
    const network = await ctx.network(wanted[0]!.pool.provider, signal);
    const used = instances.filter((i) => i.provider === provider).flatMap((i) => (i.privateIp ? [i.privateIp] : []));
    const ips = pickAddresses(network, used, wanted.length);
    for (const [k, n] of wanted.entries()) out.push({ ...n, ip: ips[k]! });
  }
  return out;
}

/**
 * Converges providers and engine onto the spec. The providers' listings (ownership tags) and the engine's node
 * list are the only state, so after a crash a second apply picks up where the first stopped: VMs that never
 * joined are replaced, missing ones created, surplus ones drained and removed.
 */
export async function converge(ctx: ClusterContext, signal?: AbortSignal): Promise<ApplyResult> {
  const started = performance.now();
  const phases: PhaseTiming[] = [];
  const { progress } = ctx;

  const hadPki = ctx.hasPki();
  await progress.phase('prepare', phases, async () => {
    await ctx.checkPrerequisites();
    // An engine this release lacks is refused before any network exists; the PKI waits for the inventory.
    ctx.assertEngineSupported();
  });
  await progress.phase('network', phases, () =>
    Promise.all(ctx.providerNames.map((name) => ctx.network(name, signal))),
  );
  let instances = await progress.phase('inventory', phases, () => ctx.inventory(signal));
  // Never write a CA for a cluster this state directory did not make: the VMs answer only their own CA.
  if (!hadPki && instances.length > 0) throw foreignCluster(ctx, instances.length);
  await ctx.pki();
  const driver = await ctx.driver();

  const observed = await observe(ctx, instances, signal);
  const { plan } = observed;
  let manager: ManagerRef | undefined = observed.manager;
  const strays = plan.deletes.filter((d) => d.reason === 'stray').map((d) => d.instance);
  if (plan.deletes.some(isEarlyDelete)) {
    await progress.phase('recover', phases, () => terminateEarly(ctx, plan.deletes, signal));
    instances = instances.filter((i) => !plan.deletes.some((d) => isEarlyDelete(d) && d.instance === i));
  }
  const drained = plan.deletes.filter((d) => !isEarlyDelete(d));
  const planned = plan.creates.flatMap((c) => c.names.map((name) => ({ name, pool: c.pool })));
  const toCreate = await assignAddresses(ctx, instances, planned, signal);
  const newManagers = toCreate.filter((n) => n.pool.role === 'manager');
  const newWorkers = toCreate.filter((n) => n.pool.role === 'worker');
  const created: Instance[] = [];

  if (!manager) {
    const first = newManagers.shift();
    if (!first)
      throw new EngineError(
        'no manager of the pool answers and none is planned: add a manager pool (count ≥ 1) and apply again',
        { cluster: ctx.spec.name },
      );
    manager = await progress.phase('bootstrap-manager', phases, async () => {
      const instance = await ctx.waitRunning(await ctx.launch(first, 'manager', true, {}, signal), signal);
      created.push(instance);
      await ctx.waitEngine(instance, signal);
      return { instance, endpoint: endpointOf(instance) };
    });
  }
  const pool = manager;

  const joining = [...newManagers, ...newWorkers];
  if (joining.length > 0) {
    const tokens = await driver.joinTokens(pool.endpoint);
    const managerIps = [...instances, ...created]
      .filter((i) => i.tags.role === 'manager' && i.privateIp)
      .map((i) => i.privateIp!);
    const launched = await progress.phase('launch-nodes', phases, () =>
      Promise.all(
        joining.map(async (node) => {
          const token = node.pool.role === 'manager' ? tokens.manager : tokens.worker;
          const instance = await ctx.launch(node, node.pool.role, false, { token, managers: managerIps }, signal);
          return ctx.waitRunning(instance, signal);
        }),
      ),
    );
    created.push(...launched);
    await progress.phase('wait-engines', phases, () =>
      Promise.all(launched.map((instance) => ctx.waitEngine(instance, signal))),
    );
  }

  const images = ctx.spec.images ?? [];
  if (images.length > 0 && created.length > 0) {
    await progress.phase('images', phases, () =>
      Promise.all(
        created.map(async (instance) => {
          for (const image of images)
            await driver.loadImage(endpointOf(instance), image.tarball, signal ? { signal } : {});
          ctx.progress.emit({
            type: 'node',
            node: instance.name,
            pool: instance.tags.pool,
            state: 'image-loaded',
            detail: images.map((i) => i.name).join(', '),
          });
        }),
      ),
    );
  }

  const keep = [...plan.unchanged, ...created];
  let nodes = await progress.phase('wait-ready', phases, () =>
    waitNodesReady(
      ctx,
      pool,
      keep.map((i) => i.name),
      signal,
    ),
  );

  let drains: DrainResult[] = [];
  if (drained.length > 0) {
    const leaving = new Set(drained.map((d) => d.instance.name));
    // Talk to a manager that stays: the one in use may be among the leaving nodes.
    const stay = leaving.has(pool.instance.name)
      ? await findManager(ctx, keep, { exclude: leaving, ...(signal ? { signal } : {}) })
      : pool;
    if (!stay)
      throw new EngineError(
        'every manager of the pool is being removed: keep at least one manager pool with count ≥ 1',
        { cluster: ctx.spec.name },
      );
    drains = await progress.phase('scale-down', phases, () =>
      removeInstances(
        ctx,
        stay,
        drained.map((d) => d.instance),
        signal,
      ),
    );
    manager = stay;
    nodes = await driver.listNodes(stay.endpoint);
  }
  const api = manager;

  await progress.phase('labels', phases, async () => {
    for (const instance of keep) {
      const node = nodeFor(nodes, instance.name);
      if (!node) continue;
      if (await driver.setNodeLabels(api.endpoint, node.id, labelsFor(ctx.spec, instance))) {
        ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'labelled' });
      }
    }
    // Entries left by VMs that are gone (a crash between terminate and `node rm`).
    const live = new Set(keep.map((i) => i.name));
    for (const stale of nodes.filter(
      (n) => n.state !== 'ready' && (!live.has(n.name) || nodeFor(nodes, n.name) !== n),
    )) {
      try {
        // A lost manager still counts in the raft quorum until it is demoted.
        if (stale.role === 'manager')
          await driver.demoteNode(api.endpoint, stale.id, {
            deadline: Date.now() + 15_000,
            ...(signal ? { signal } : {}),
          });
        await driver.removeNode(api.endpoint, stale.id);
      } catch (error) {
        ctx.progress.message(
          `could not remove the stale engine node ${stale.name} (${stale.id}): ${(error as Error).message}`,
          'warn',
        );
      }
    }
  });

  if (joining.length > 0) await progress.phase('rotate-tokens', phases, () => driver.rotateJoinTokens(api.endpoint));

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
