import type { EngineDriver } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import { waitEngine } from '../boot-log.js';
import type { ClusterContext, NodeToLaunch } from '../context.js';
import { type JoinInfo, launchNode, waitRunning } from '../launch.js';
import type { ManagerRef } from '../nodes.js';

/** What joining nodes are told: the managers' addresses and names, and the join secret of their role. */
export async function joinInfo(
  driver: EngineDriver,
  manager: ManagerRef,
  instances: readonly Instance[],
): Promise<(role: NodeToLaunch['pool']['role']) => JoinInfo> {
  const tokens = driver.joinTokens ? await driver.joinTokens(manager.endpoint) : undefined;
  const managers = instances.filter((i) => i.tags.role === 'manager' && i.privateIp);
  const base = { managers: managers.map((i) => i.privateIp!), managerNames: managers.map((i) => i.name) };
  return (role) => {
    const token = tokens ? (role === 'manager' ? tokens.manager : tokens.worker) : undefined;
    return token ? { ...base, token } : base;
  };
}

/** Launches the joining nodes in parallel and waits until each VM runs. */
export function launchJoining(
  ctx: ClusterContext,
  joining: readonly NodeToLaunch[],
  info: (role: NodeToLaunch['pool']['role']) => JoinInfo,
  signal?: AbortSignal,
): Promise<Instance[]> {
  return Promise.all(
    joining.map(async (node) => {
      const instance = await launchNode(ctx, node, node.pool.role, false, info(node.pool.role), signal);
      return waitRunning(ctx, instance, signal);
    }),
  );
}

/** Waits until every launched node's engine joined the pool (a failed boot ends its wait at once). */
export async function waitEngines(
  ctx: ClusterContext,
  launched: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  await Promise.all(launched.map((instance) => waitEngine(ctx, instance, signal)));
}
