import type { EngineEndpoint, EngineNode } from '../engines/types.js';
import { EngineError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import type { ClusterSpec } from '../spec/schema.js';
import { pollUntil } from '../util/poll.js';
import type { ClusterContext } from './context.js';

export interface ManagerRef {
  readonly instance: Instance;
  readonly endpoint: EngineEndpoint;
}

const FIND_MANAGER_MS = 15_000;

/**
 * A manager of the running pool that answers over mTLS, or undefined when none does within the wait (no pool
 * yet, or every manager VM lost its engine). Managers are asked in parallel; the first to answer wins.
 */
export async function findManager(
  ctx: ClusterContext,
  instances: readonly Instance[],
  options: { exclude?: ReadonlySet<string>; waitMs?: number; signal?: AbortSignal } = {},
): Promise<ManagerRef | undefined> {
  const candidates = instances.filter(
    (i) =>
      i.tags.role === 'manager' &&
      (i.state === 'running' || i.state === 'pending') &&
      (i.publicIp ?? i.privateIp) &&
      !options.exclude?.has(i.name),
  );
  if (candidates.length === 0) return undefined;
  if (!ctx.hasPki()) {
    throw new EngineError(
      `no PKI for cluster ${ctx.spec.name} in ${ctx.options.stateDir}: its engines only answer the client certificate made with the cluster; use that state directory (--state-dir / SKYPOOL_STATE_DIR)`,
      { cluster: ctx.spec.name },
    );
  }
  const driver = await ctx.driver();
  const deadline = Date.now() + (options.waitMs ?? Math.min(ctx.readyTimeoutMs, FIND_MANAGER_MS));
  try {
    return await Promise.any(
      candidates.map(async (instance) => {
        const endpoint = ctx.endpoint(instance);
        await driver.waitReady(endpoint, 'manager', {
          deadline,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return { instance, endpoint };
      }),
    );
  } catch {
    return undefined;
  }
}

/** The engine node that stands for an instance: by hostname, preferring a ready one over stale entries. */
export function nodeFor(nodes: readonly EngineNode[], name: string): EngineNode | undefined {
  const same = nodes.filter((n) => n.name === name);
  return same.find((n) => n.state === 'ready') ?? same[0];
}

/** `nodeFor` for many names: one pass over the nodes, then a map lookup per name (pools of thousands). */
export function nodesByName(nodes: readonly EngineNode[]): (name: string) => EngineNode | undefined {
  const byName = new Map<string, EngineNode>();
  for (const n of nodes) {
    const seen = byName.get(n.name);
    if (!seen || (seen.state !== 'ready' && n.state === 'ready')) byName.set(n.name, n);
  }
  return (name) => byName.get(name);
}

/** Labels every node carries: the pool's own plus where it comes from, for placement constraints. */
export function labelsFor(spec: ClusterSpec, instance: Instance): Record<string, string> {
  const pool = spec.pools.find((p) => p.name === instance.tags.pool);
  return { ...(pool?.labels ?? {}), provider: instance.provider, pool: instance.tags.pool };
}

/** Polls the engine's member list until every named node is ready; returns the node list. */
export async function waitNodesReady(
  ctx: ClusterContext,
  manager: ManagerRef,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<EngineNode[]> {
  const driver = await ctx.driver();
  const reported = new Set<string>();
  return pollUntil(
    async () => {
      const nodes = await driver.listNodes(manager.endpoint);
      const nodeFor = nodesByName(nodes);
      for (const name of names) {
        if (!reported.has(name) && nodeFor(name)?.state === 'ready') {
          reported.add(name);
          ctx.progress.emit({ type: 'node', node: name, state: 'ready' });
        }
      }
      return names.every((n) => nodeFor(n)?.state === 'ready') ? nodes : undefined;
    },
    {
      deadline: Date.now() + ctx.readyTimeoutMs,
      intervalMs: 150,
      what: `nodes ${names.join(', ')} to be Ready in the ${driver.engine === 'swarm' ? 'swarm' : `${driver.engine} pool`}`,
      hint: 'run `skypool status` to see which node is missing',
      ...(signal ? { signal } : {}),
    },
  );
}
