import type { Instance } from '../../providers/types.js';
import { pickAddresses } from '../addresses.js';
import type { ClusterContext, NodeToLaunch } from '../context.js';

/** Gives every planned node a free address of its provider's network (so its certificate can name it). */
export async function assignAddresses(
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
