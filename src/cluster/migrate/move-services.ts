import type { DrainResult, EngineDriver, WorkloadStatus } from '../../engines/types.js';
import { TimeoutError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { pollUntil } from '../../util/poll.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, nodesByName } from '../nodes.js';
import type { ServiceMove } from './types.js';

const running = (s: WorkloadStatus) => s.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running');

/** Every replica runs, none on a leaving node, and each published one has its host port. */
function settled(status: WorkloadStatus, leaving: ReadonlySet<string>): boolean {
  const live = running(status);
  return (
    live.length === status.desiredReplicas &&
    live.every((t) => t.node !== undefined && !leaving.has(t.node)) &&
    (status.publishMode !== 'host' || live.every((t) => t.hostPort !== undefined))
  );
}

/** Where the service's tasks are, for an error: `running on a ×3, b ×2; starting on c; update paused (why)`. */
function whereTasksAre(status: WorkloadStatus): string {
  const counts = new Map<string, number>();
  for (const t of status.tasks) {
    const key = `${t.state}${t.desiredState === t.state ? '' : `→${t.desiredState}`} on ${t.node ?? '(no node)'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const tasks = [...counts].map(([key, n]) => (n > 1 ? `${key} ×${n}` : key)).join(', ');
  const update = status.update
    ? `; update ${status.update.state}${status.update.message ? ` (${status.update.message})` : ''}`
    : '';
  return `${status.desiredReplicas} wanted: ${tasks || 'no tasks'}${update}`;
}

/** Swarm pauses a rolling update when a new task fails early; forcing it again is what an operator would do. */
const PAUSED = new Set(['paused', 'rollback_paused']);
const FORCES_AFTER_PAUSE = 3;

/**
 * Moves each service's tasks off the leaving (cordoned) nodes: a rolling replacement where every new task runs
 * before its old one stops, so the service never has fewer running replicas than it asked for. Then drains the
 * leaving nodes, which moves whatever else runs there (services skypool did not start) and leaves the engine
 * saying so, and waits until every service is at its desired replicas on the nodes that stay.
 */
export async function moveServices(
  ctx: ClusterContext,
  driver: EngineDriver,
  api: ManagerRef,
  leaving: readonly Instance[],
  signal?: AbortSignal,
): Promise<{ services: ServiceMove[]; drains: DrainResult[] }> {
  const engine = driver.services!;
  const names = new Set(leaving.map((i) => i.name));
  const wait = () => ({ deadline: Date.now() + ctx.drainTimeoutMs, ...(signal ? { signal } : {}) });
  const services = await Promise.all(
    (await engine.services(api.endpoint)).map(async (status): Promise<ServiceMove> => {
      const started = performance.now();
      const onSource = running(status).filter((t) => t.node && names.has(t.node));
      if (onSource.length > 0) await engine.rescheduleService!(api.endpoint, status.name);
      let last = status;
      let forcedAgain = 0;
      const done = await pollUntil(
        async () => {
          const [now] = await engine.services(api.endpoint, status.name);
          if (!now) return undefined;
          last = now;
          if (settled(now, names)) return now;
          if (now.update && PAUSED.has(now.update.state) && forcedAgain < FORCES_AFTER_PAUSE) {
            forcedAgain += 1;
            ctx.progress.message(
              `service ${status.name}: the engine paused its update (${now.update.message ?? 'a task failed'}); forcing it again`,
            );
            await engine.rescheduleService!(api.endpoint, status.name);
          }
          return undefined;
        },
        {
          ...wait(),
          intervalMs: 100,
          what: `every replica of service ${status.name} to run on the nodes that stay`,
          hint: 'check that the target nodes have room, the image and the labels its constraints ask for',
        },
      ).catch((error: unknown) => {
        if (!(error instanceof TimeoutError)) throw error;
        throw new TimeoutError(`${error.message} (last seen: ${whereTasksAre(last)})`, {
          service: status.name,
          leaving: [...names],
        });
      });
      const ms = Math.round(performance.now() - started);
      ctx.progress.message(
        `service ${status.name}: ${onSource.length} task(s) moved off the source in ${ms} ms, ${done.desiredReplicas} running`,
      );
      return {
        service: status.name,
        replicas: done.desiredReplicas,
        movedTasks: onSource.length,
        fromNodes: [...new Set(onSource.map((t) => t.node!))].sort(),
        toNodes: [...new Set(running(done).map((t) => t.node!))].sort(),
        ms,
      };
    }),
  );
  // The nodes drain together: each waits only for what is left on it (old tasks stopping).
  const nodeFor = nodesByName(await driver.listNodes(api.endpoint));
  const drains = await Promise.all(
    leaving
      .filter((instance) => nodeFor(instance.name)?.state === 'ready')
      .map(async (instance): Promise<DrainResult> => {
        ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'draining' });
        const drain = await driver.drainNode(api.endpoint, nodeFor(instance.name)!.id, wait());
        ctx.progress.emit({
          type: 'node',
          node: instance.name,
          pool: instance.tags.pool,
          state: 'drained',
          detail: `${drain.movedTasks} task(s) left in ${drain.durationMs} ms`,
        });
        return drain;
      }),
  );
  return { services, drains };
}
