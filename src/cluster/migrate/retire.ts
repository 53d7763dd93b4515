import type { EngineDriver } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ProviderName } from '../../spec/schema.js';
import type { ClusterContext } from '../context.js';
import { syncFabric } from '../fabric.js';
import type { ManagerRef } from '../nodes.js';

/**
 * Terminates the drained source VMs (one call per provider), removes their engine entries, takes their peers
 * out of every wg0 that stays, and deletes the cloud networks no pool uses any more: the destroy path, for
 * the source only.
 */
export async function retireSource(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  leaving: readonly Instance[],
  keep: readonly Instance[],
  networks: ReadonlyArray<{ readonly provider: ProviderName; readonly region?: string }>,
  signal?: AbortSignal,
): Promise<string[]> {
  const byProvider = new Map<ProviderName, Instance[]>();
  for (const i of leaving) byProvider.set(i.provider, [...(byProvider.get(i.provider) ?? []), i]);
  await Promise.all(
    [...byProvider].map(async ([name, mine]) => {
      for (const i of mine) ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminating' });
      await ctx.queue.terminate(
        await ctx.provider(name),
        mine.map((i) => i.id),
        signal,
      );
      for (const i of mine) ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminated' });
    }),
  );
  const names = new Set(leaving.map((i) => i.name));
  for (const entry of (await driver.listNodes(api.endpoint)).filter((n) => names.has(n.name))) {
    await driver.removeNode(api.endpoint, entry.id);
    ctx.progress.emit({ type: 'node', node: entry.name, state: 'removed' });
  }
  // The fabric of the nodes that stay and the source's networks are independent: both at once.
  await Promise.all([
    (async () => {
      if (!(await ctx.consoleIdentity())) return;
      await syncFabric(ctx, driver, keep, keep, signal);
      await Promise.all(leaving.map((i) => ctx.forgetIdentity(i)));
    })(),
    ...networks.map(async (network) => {
      const provider = await ctx.provider(network.provider);
      await ctx.queue.network(network.provider, 'network', signal, () =>
        provider.deleteNetwork(ctx.spec.name, {
          ...(network.region ? { region: network.region } : {}),
          ...(signal ? { signal } : {}),
        }),
      );
      ctx.forgetNetworks(network.provider);
    }),
  ]);
  return leaving.map((i) => i.name).sort();
}
