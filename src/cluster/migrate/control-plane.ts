import type { EngineDriver, EngineNode } from '../../engines/types.js';
import { EngineError } from '../../errors.js';
import { pollUntil } from '../../util/poll.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, waitNodesReady } from '../nodes.js';

const managersOf = (nodes: readonly EngineNode[]) => nodes.filter((n) => n.role === 'manager');

/** Raft's majority of `n` managers. */
export const quorum = (n: number): number => Math.floor(n / 2) + 1;

/**
 * The next source manager to demote, or undefined when none is left; refuses one whose demotion would leave
 * fewer reachable managers than the smaller control plane needs. The leader goes first: demoting it hands
 * leadership to another manager, and the target's managers are the only ones that stay reachable.
 */
export function nextToDemote(nodes: readonly EngineNode[], leaving: ReadonlySet<string>): EngineNode | undefined {
  const managers = managersOf(nodes);
  const candidates = managers.filter((n) => leaving.has(n.name));
  const next = candidates.find((n) => n.leader) ?? candidates[0];
  if (!next) return undefined;
  const after = managers.filter((n) => n !== next);
  const reachable = after.filter((n) => n.managerReachable !== false && n.state === 'ready').length;
  if (after.length === 0 || reachable < quorum(after.length))
    throw new EngineError(
      `refusing to demote manager ${next.name}: ${reachable} of the ${after.length} managers left would be reachable, and the control plane needs ${quorum(Math.max(after.length, 1))}; bring the target's managers up first`,
      { node: next.name, reachable, managers: after.length },
    );
  return next;
}

/**
 * Moves the control plane off the source: waits until every target manager is in the quorum (Raft reaches
 * it), then demotes the source managers one at a time, leader first, each time waiting until it left Raft and
 * a manager that stays leads. Never below quorum: each step is checked against the reachable managers.
 */
export async function moveManagers(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  leaving: ReadonlySet<string>,
  targetManagers: readonly string[],
  signal?: AbortSignal,
): Promise<{ managers: string[]; leader?: string }> {
  const wait = (what: string, hint?: string) => ({
    deadline: Date.now() + ctx.readyTimeoutMs,
    intervalMs: 200,
    what,
    ...(hint ? { hint } : {}),
    ...(signal ? { signal } : {}),
  });
  const list = () => driver.listNodes(api.endpoint);
  await pollUntil(
    async () => {
      const nodes = await list();
      const ok = targetManagers.every((name) =>
        nodes.some((n) => n.name === name && n.role === 'manager' && n.state === 'ready' && n.managerReachable),
      );
      return ok ? true : undefined;
    },
    wait(
      `the target managers ${targetManagers.join(', ')} to be reachable members of the quorum`,
      'a manager that joined but is unreachable usually cannot reach the others over the fabric (udp/51820)',
    ),
  );
  for (;;) {
    const next = nextToDemote(await list(), leaving);
    if (!next) break;
    ctx.progress.message(`demoting manager ${next.name}${next.leader ? ' (the leader: leadership moves)' : ''}`);
    // A leader demoting itself may drop the call while leadership moves: what counts is that it left Raft.
    await driver.demoteNode!(api.endpoint, next.id, {
      deadline: Date.now() + ctx.readyTimeoutMs,
      ...(signal ? { signal } : {}),
    }).catch((error: unknown) =>
      ctx.progress.message(`demoting ${next.name}: ${(error as Error).message}; checking the engine`, 'warn'),
    );
    await pollUntil(
      async () => {
        const nodes = await list().catch(() => undefined);
        const node = nodes?.find((n) => n.id === next.id);
        const leader = nodes?.find((n) => n.leader);
        return nodes && node?.role === 'worker' && leader && !leaving.has(leader.name) ? true : undefined;
      },
      wait(`manager ${next.name} to leave Raft and a staying manager to lead`),
    );
    ctx.progress.emit({ type: 'node', node: next.name, state: 'demoted' });
  }
  const nodes = await list();
  const leader = nodes.find((n) => n.leader)?.name;
  return {
    managers: managersOf(nodes)
      .map((n) => n.name)
      .sort(),
    ...(leader ? { leader } : {}),
  };
}

/**
 * `moveManagers`, then waits until every node that stays is Ready again: a new leader knows every node as
 * `unknown` until it reports to its dispatcher again. Migrate and rollback move the control plane alike.
 */
export async function moveControlPlane(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  leaving: ReadonlySet<string>,
  targetManagers: readonly string[],
  staying: readonly string[],
  signal?: AbortSignal,
): Promise<{ managers: string[]; leader?: string }> {
  const moved = await moveManagers(ctx, driver, api, leaving, targetManagers, signal);
  await waitNodesReady(ctx, api, staying, signal);
  return moved;
}
