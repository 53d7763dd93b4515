import { issueNodeCertificate } from '../bootstrap/cluster-pki.js';
import { EngineError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import { poolSpecHash } from '../spec/hash.js';
import type { Role } from '../spec/schema.js';
import type { ClusterContext, NodeToLaunch } from './context.js';
import { launchIdempotent } from './idempotency.js';

/** What a joining node is told: the engine's join secret and where the managers are. */
export interface JoinInfo {
  readonly token?: string;
  readonly managers?: readonly string[];
  readonly managerNames?: readonly string[];
}

/** Launches one node with its own user-data (its certificate carries its IP) and returns the instance. */
export async function launchNode(
  ctx: ClusterContext,
  node: NodeToLaunch,
  role: Role,
  first: boolean,
  join: JoinInfo,
  signal?: AbortSignal,
): Promise<Instance> {
  const pki = await ctx.pki();
  const driver = await ctx.driver();
  const server = await issueNodeCertificate(pki, node.name, node.ip);
  const userData = driver.renderUserData({
    role,
    first,
    nodeName: node.name,
    nodeIp: node.ip,
    server,
    caPem: pki.ca.certPem,
    ...(join.token ? { joinToken: join.token } : {}),
    ...(join.managers ? { managers: join.managers } : {}),
    ...(join.managerNames ? { managerNames: join.managerNames } : {}),
    labels: { ...(node.pool.labels ?? {}), provider: node.pool.provider, pool: node.pool.name },
    deadlineSeconds: Math.ceil(ctx.readyTimeoutMs / 1000),
  });
  const provider = await ctx.provider(node.pool.provider);
  const specHash = poolSpecHash(ctx.spec, node.pool);
  ctx.progress.emit({ type: 'node', node: node.name, pool: node.pool.name, state: 'launching' });
  // The token comes from cluster, pool, ordinal and spec hash: a second process or a rerun gets the same VM.
  const [instance] = await launchIdempotent(ctx.queue, provider, {
    cluster: ctx.spec.name,
    pool: node.pool,
    tags: { cluster: ctx.spec.name, pool: node.pool.name, role, specHash },
    network: await ctx.network(node.pool.provider, signal, node.pool.region),
    nodes: [{ name: node.name, privateIp: node.ip }],
    userData,
    ...(signal ? { signal } : {}),
  });
  if (!instance)
    throw new EngineError(`provider ${provider.name} launched nothing for ${node.name}`, { node: node.name });
  return instance;
}

export async function waitRunning(ctx: ClusterContext, instance: Instance, signal?: AbortSignal): Promise<Instance> {
  const provider = await ctx.provider(instance.provider);
  const [running] = await ctx.queue.wait(provider.name, instance.tags.pool, signal, () =>
    provider.waitUntilRunning([instance.id], {
      deadline: Date.now() + ctx.readyTimeoutMs,
      ...(signal ? { signal } : {}),
    }),
  );
  ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'running' });
  return running ?? instance;
}
