import type { NetworkRef } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';

/** Creates (or finds) the cluster's network on every provider the spec uses. */
export function ensureNetworks(ctx: ClusterContext, signal?: AbortSignal): Promise<NetworkRef[]> {
  return Promise.all(ctx.providerNames.map((name) => ctx.network(name, signal)));
}
