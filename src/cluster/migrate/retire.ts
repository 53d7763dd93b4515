import type { EngineDriver } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ProviderName } from '../../spec/schema.js';
import type { ClusterContext } from '../context.js';
import { syncFabric } from '../fabric.js';
import type { ManagerRef } from '../nodes.js';

/**
 * Terminates the drained source VMs (one call per provider), removes their engine entries, takes their peers
 * out of every wg0 that stays, and deletes the cloud networks no pool uses any more once their VMs are gone:
 * the destroy path, for the source only.
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
  const names = new Set(leaving.map((i) => i.name));
  // The VMs (then the networks they were in), the engine's entries and the fabric of the nodes that stay are
  // independent once the source is drained and demoted: all three at once. A rerun after a crash anywhere here
  // finds the same leaving VMs by their tags and finishes each part.
  await Promise.all([
    (async () => {
      await Promise.all(
        [...byProvider].map(async ([name, mine]) => {
          for (const i of mine)
            ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminating' });
          await ctx.queue.terminate(
            await ctx.provider(name),
            mine.map((i) => i.id),
            signal,
          );
          for (const i of mine)
            ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminated' });
        }),
      );
      await Promise.all(
        networks.map(async (network) => {
          const provider = await ctx.provider(network.provider);
          await ctx.queue.read(network.provider, 'network', signal, () =>
            provider.deleteNetwork(ctx.spec.name, {
              ...(network.region ? { region: network.region } : {}),
              ...(signal ? { signal } : {}),
            }),
          );
          ctx.forgetNetworks(network.provider);
        }),
      );
    })(),
    (async () => {
      for (const entry of (await driver.listNodes(api.endpoint)).filter((n) => names.has(n.name))) {
        await driver.removeNode(api.endpoint, entry.id);
        ctx.progress.emit({ type: 'node', node: entry.name, state: 'removed' });
      }
    })(),
    (async () => {
      if (!(await ctx.consoleIdentity())) return;
      await syncFabric(ctx, driver, keep, keep, signal);
      await Promise.all(leaving.map((i) => ctx.forgetIdentity(i)));
    })(),
  ]);
  return leaving.map((i) => i.name).sort();
}
