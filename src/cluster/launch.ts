import { EngineError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import { poolSpecHash } from '../spec/hash.js';
import type { NodePoolSpec, Role } from '../spec/schema.js';
import type { ClusterContext, PoolLaunch } from './context.js';
import { fabricPrefixes, networkKey } from './fabric.js';
import { launchIdempotent } from './idempotency.js';

/** How a pool's new nodes boot: the first manager creates the pool, the others join it. */
export interface LaunchOptions {
  readonly first: boolean;
  /** Managers launched before (engines whose joiners need their addresses in the user-data: Slurm). */
  readonly managers?: readonly Instance[];
  /** The cloud network's fabric /16 (engines with `nodeIdentity: 'console'`). */
  readonly fabricPrefix?: string;
}

/**
 * Launches the new nodes of one pool in ONE create call with identical user-data (nothing in it names a node or
 * is secret: each node learns its name and address at boot and makes its own keys). Returns the instances the
 * provider made; their names are authoritative (EC2 names nodes after their instance ids).
 */
export async function launchPool(
  ctx: ClusterContext,
  launch: PoolLaunch,
  options: LaunchOptions,
  signal?: AbortSignal,
): Promise<Instance[]> {
  const { pool, names } = launch;
  const pki = await ctx.pki();
  const driver = await ctx.driver();
  const managers = (options.managers ?? []).filter((m) => m.privateIp);
  // A caller that did not plan the fabric (one node alone) gets the network's prefix as on an empty cluster.
  const fabricPrefix =
    options.fabricPrefix ??
    (driver.nodeIdentity === 'console' ? fabricPrefixes(ctx.spec, []).get(networkKey(pool)) : undefined);
  const userData = driver.renderUserData({
    role: pool.role,
    first: options.first,
    cluster: ctx.spec.name,
    pool: pool.name,
    caPem: pki.ca.certPem,
    ...(fabricPrefix ? { fabricPrefix } : {}),
    ...(managers.length > 0
      ? { managers: managers.map((m) => m.privateIp!), managerNames: managers.map((m) => m.name) }
      : {}),
    labels: { ...(pool.labels ?? {}), provider: pool.provider, pool: pool.name },
    deadlineSeconds: Math.ceil(ctx.readyTimeoutMs / 1000),
  });
  const provider = await ctx.provider(pool.provider);
  const specHash = poolSpecHash(ctx.spec, pool);
  for (const name of names) ctx.progress.emit({ type: 'node', node: name, pool: pool.name, state: 'launching' });
  ctx.joinTokensFresh = false;
  // The token comes from cluster, pool, ordinal and spec hash: a second process or a rerun gets the same VMs.
  const instances = await launchIdempotent(
    ctx.queue,
    provider,
    {
      cluster: ctx.spec.name,
      pool,
      tags: {
        cluster: ctx.spec.name,
        pool: pool.name,
        role: pool.role,
        specHash,
        ...(fabricPrefix ? { fabric: fabricPrefix } : {}),
      },
      network: await ctx.network(pool.provider, signal, pool.region),
      nodes: names.map((name) => ({ name })),
      userData,
      ...(signal ? { signal } : {}),
    },
    ctx.goneLaunchTokens,
  );
  if (instances.length === 0)
    throw new EngineError(`provider ${provider.name} launched nothing for pool ${pool.name}`, { pool: pool.name });
  // Ids can come back (the local provider names VMs by node name): a pin of a gone VM must not stand for a new one.
  if (fabricPrefix) await Promise.all(instances.map((i) => ctx.forgetIdentity(i)));
  return instances;
}

/** One node alone (the first manager, tests): see launchPool. */
export async function launchNode(
  ctx: ClusterContext,
  node: { readonly name: string; readonly pool: NodePoolSpec },
  role: Role,
  first: boolean,
  options: Omit<LaunchOptions, 'first'> = {},
  signal?: AbortSignal,
): Promise<Instance> {
  const pool = node.pool.role === role ? node.pool : { ...node.pool, role };
  const [instance] = await launchPool(ctx, { pool, names: [node.name] }, { ...options, first }, signal);
  return instance!;
}

/** Waits until every instance runs (with its addresses); one wait per provider and region, whatever the pools. */
export async function waitAllRunning(
  ctx: ClusterContext,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<Instance[]> {
  const groups = new Map<string, Instance[]>();
  for (const i of instances) {
    const key = `${i.provider}\n${i.region ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  const lists = await Promise.all(
    [...groups.values()].map(async (group) => {
      const provider = await ctx.provider(group[0]!.provider);
      const pools = [...new Set(group.map((i) => i.tags.pool))].join(',');
      const running = await ctx.queue.wait(provider.name, pools, signal, () =>
        provider.waitUntilRunning(
          group.map((i) => i.id),
          {
            deadline: Date.now() + ctx.readyTimeoutMs,
            cluster: ctx.spec.name,
            ...(group[0]!.region ? { region: group[0]!.region } : {}),
            ...(signal ? { signal } : {}),
          },
        ),
      );
      for (const i of running) ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'running' });
      return running.length === group.length ? running : group;
    }),
  );
  return lists.flat();
}

export async function waitRunning(ctx: ClusterContext, instance: Instance, signal?: AbortSignal): Promise<Instance> {
  const [running] = await waitAllRunning(ctx, [instance], signal);
  return running ?? instance;
}
