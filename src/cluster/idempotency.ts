import { SkypoolError } from '../errors.js';
import { nodeIndex } from '../plan.js';
import type { Instance, LaunchRequest, Provider } from '../providers/types.js';
import type { ProvisioningQueue } from '../queue/provisioning-queue.js';
import { launchToken, MAX_GENERATIONS } from './launch-token.js';

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
  /** Tokens of VMs known gone (terminated by this run): the cloud would answer them with the gone VM. */
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
