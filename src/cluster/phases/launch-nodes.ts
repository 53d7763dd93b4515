import { EngineError, SkypoolError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { waitEngine } from '../boot-log.js';
import type { ClusterContext, PoolLaunch } from '../context.js';
import { type LaunchOptions, launchPool, waitAllRunning } from '../launch.js';

/**
 * Takes the first manager out of the planned launches (it creates the pool, with its own user-data); refuses a
 * spec that plans none when no manager answers.
 */
export function takeFirstManager(
  ctx: Pick<ClusterContext, 'spec'>,
  launches: PoolLaunch[],
): { name: string; pool: PoolLaunch['pool'] } {
  const k = launches.findIndex((l) => l.pool.role === 'manager' && l.names.length > 0);
  if (k < 0)
    throw new EngineError(
      'no manager of the pool answers and none is planned: add a manager pool (count ≥ 1) and apply again',
      { cluster: ctx.spec.name },
    );
  const launch = launches[k]!;
  const [name, ...rest] = launch.names;
  launches[k] = { pool: launch.pool, names: rest };
  return { name: name!, pool: launch.pool };
}

export const withPrefix = (fabricPrefix: string | undefined): Omit<LaunchOptions, 'first'> =>
  fabricPrefix ? { fabricPrefix } : {};

/** Launches every pool's joining nodes, one create call per pool, all pools at once. */
export async function launchJoining(
  ctx: ClusterContext,
  launches: readonly PoolLaunch[],
  managers: readonly Instance[],
  prefixOf: (launch: PoolLaunch) => string | undefined,
  signal?: AbortSignal,
): Promise<Instance[]> {
  const lists = await Promise.all(
    launches
      .filter((l) => l.names.length > 0)
      .map((l) => launchPool(ctx, l, { first: false, managers, ...withPrefix(prefixOf(l)) }, signal)),
  );
  return lists.flat();
}

/**
 * Launches every pool's joining nodes and waits until they run: each provider's wait starts as soon as that
 * provider's pools are launched (a fast cloud does not wait for a slow one's creates), one wait per provider.
 */
export async function launchRunning(
  ctx: ClusterContext,
  launches: readonly PoolLaunch[],
  managers: readonly Instance[],
  prefixOf: (launch: PoolLaunch) => string | undefined,
  signal?: AbortSignal,
): Promise<Instance[]> {
  const byProvider = new Map<string, PoolLaunch[]>();
  for (const l of launches.filter((l) => l.names.length > 0)) {
    const list = byProvider.get(l.pool.provider);
    if (list) list.push(l);
    else byProvider.set(l.pool.provider, [l]);
  }
  const lists = await Promise.all(
    [...byProvider.values()].map((pools) =>
      launchJoining(ctx, pools, managers, prefixOf, signal).then((launched) => waitAllRunning(ctx, launched, signal)),
    ),
  );
  return lists.flat();
}

/**
 * Waits until every launched node's engine joined the pool (a failed boot ends its wait at once). A node that
 * did not join, on the fabric, gets its cloud's fabric firewall checked: a missing rule is the likely cause, and
 * the error names it.
 */
export async function waitEngines(
  ctx: ClusterContext,
  launched: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  await Promise.all(
    launched.map((instance) =>
      waitEngine(ctx, instance, signal).catch((error: unknown) => withFabricFirewall(ctx, instance, error, signal)),
    ),
  );
}

/** Rethrows a node's join failure, naming the fabric firewall rule its cloud network lacks, if it lacks one. */
async function withFabricFirewall(
  ctx: ClusterContext,
  instance: Instance,
  error: unknown,
  signal?: AbortSignal,
): Promise<never> {
  if (signal?.aborted || (SkypoolError.isInstance(error) && error.code === 'CANCELLED')) throw error;
  if (!(await ctx.consoleIdentity())) throw error;
  const provider = await ctx.provider(instance.provider);
  const region = instance.region ?? ctx.spec.pools.find((p) => p.name === instance.tags.pool)?.region;
  const problem = await provider
    .fabricFirewallProblem?.(ctx.spec.name, { ...(region ? { region } : {}), ...(signal ? { signal } : {}) })
    .catch(() => undefined);
  if (!problem) throw error;
  throw new EngineError(
    `node ${instance.name} did not join the pool over the fabric: ${problem} (a new skypool apply puts it back).\n${(error as Error).message}`,
    { node: instance.name, provider: instance.provider, ...(region ? { region } : {}) },
    error,
  );
}
