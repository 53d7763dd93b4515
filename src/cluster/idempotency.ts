import { createHash } from 'node:crypto';
import { SkypoolError } from '../errors.js';
import { nodeIndex } from '../plan.js';
import type { Instance, LaunchRequest, Provider } from '../providers/types.js';
import type { ProvisioningQueue } from '../queue/provisioning-queue.js';

/** Tokens tried for one node before giving up: each is one earlier VM of that name whose token the cloud still holds. */
const MAX_GENERATIONS = 6;

export interface TokenInput {
  readonly cluster: string;
  readonly pool: string;
  /** The node's ordinal, `n` of `<cluster>-<pool>-<n>`. */
  readonly ordinal: number;
  readonly specHash: string;
  /** 0 for the first VM of this name and spec; counts up only when the cloud holds the token of a gone VM. */
  readonly generation?: number;
}

/**
 * The idempotency token of one node's launch: the same for every process that plans the same node of the same
 * spec, so the clouds' own idempotency (EC2 ClientToken, GCE requestId, both derived from it by the adapters)
 * answers a second launch with the first one's VM instead of a duplicate. 56 ASCII characters (EC2 allows 64).
 */
export function launchToken(input: TokenInput): string {
  const digest = createHash('sha256')
    .update([input.cluster, input.pool, input.ordinal, input.specHash, input.generation ?? 0].join('\n'))
    .digest('hex');
  return `skypool-${digest.slice(0, 48)}`;
}

const isConflict = (error: unknown): boolean => SkypoolError.isInstance(error) && error.code === 'IDEMPOTENCY_CONFLICT';

/**
 * Launches one node under its deterministic token. When the cloud refuses the token because it saw it with other
 * parameters, either another process launched this very node (its VM is listed: that VM is the answer, never a
 * second one) or the token belongs to an earlier VM of that name that is gone (scale-down then up, a replaced
 * stray): then the next generation's token, which every process derives alike, is tried.
 */
export async function launchIdempotent(
  queue: ProvisioningQueue,
  provider: Provider,
  request: Omit<LaunchRequest, 'idempotencyToken'>,
  /**
   * Tokens a new VM must not launch under: those of VMs this run terminated and of live VMs it listed. The cloud
   * would answer them with that VM.
   */
  gone: ReadonlySet<string> = new Set(),
): Promise<Instance[]> {
  const names = request.nodes.map((n) => n.name);
  const ordinal = Math.max(...names.map((name) => nodeIndex(request.cluster, request.pool.name, name)));
  let lastError: unknown;
  for (let generation = 0; generation < MAX_GENERATIONS; generation += 1) {
    const idempotencyToken = launchToken({
      cluster: request.cluster,
      pool: request.pool.name,
      ordinal,
      specHash: request.tags.specHash,
      generation,
    });
    if (gone.has(idempotencyToken)) continue;
    try {
      return await queue.launch(provider, {
        ...request,
        tags: { ...request.tags, launch: idempotencyToken },
        idempotencyToken,
      });
    } catch (error) {
      if (!isConflict(error)) throw error;
      lastError = error;
      const live = (
        await provider.listInstances(request.cluster, {
          ...(request.pool.region ? { regions: [request.pool.region] } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        })
      ).filter((i) => i.state !== 'terminated' && i.state !== 'stopping');
      // The other process's VMs carry this token; clouds that take our names (all but EC2) also match by name.
      const theirs = live.filter((i) => i.tags.launch === idempotencyToken);
      if (theirs.length >= names.length) return theirs.slice(0, names.length);
      const named = live.filter((i) => names.includes(i.name));
      if (named.length >= names.length) return names.map((name) => named.find((i) => i.name === name)!);
    }
  }
  throw lastError;
}
