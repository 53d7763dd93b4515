import type { SlurmDriver } from '../../engines/slurm/index.js';
import type { JobStatus } from '../../engines/types.js';
import { jobEnded } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import { pollUntil } from '../../util/poll.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, nodesByName } from '../nodes.js';
import type { JobMove } from './types.js';

const live = (j: JobStatus) => j.state === 'running' || j.state === 'completing';

/**
 * Drains the leaving Slurm nodes, all at once: no new job lands there, running jobs may finish until the drain
 * deadline (`drainTimeoutMs`), and the ones still running then are requeued and start again on the nodes that
 * stay, at once (Slurm would hold a requeued job back by a begin time). Returns each job's move.
 */
export async function moveJobs(
  ctx: ClusterContext,
  driver: SlurmDriver,
  api: ManagerRef,
  leaving: readonly Instance[],
  signal?: AbortSignal,
): Promise<JobMove[]> {
  const names = new Set(leaving.map((i) => i.name));
  const started = performance.now();
  const before = (await driver.jobs.jobs(api.endpoint)).filter((j) => live(j) && j.nodes.some((n) => names.has(n)));
  const nodeFor = nodesByName(await driver.listNodes(api.endpoint));
  const workers = leaving.filter((i) => nodeFor(i.name)?.role === 'worker' && nodeFor(i.name)?.state === 'ready');
  await Promise.all(
    workers.map(async (instance) => {
      const node = nodeFor(instance.name)!;
      ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'draining' });
      const drain = await driver.drainNode(api.endpoint, node.id, {
        deadline: Date.now() + ctx.drainTimeoutMs,
        ...(signal ? { signal } : {}),
      });
      const requeued = drain.requeued ? `, ${drain.requeued} job(s) requeued` : '';
      ctx.progress.emit({
        type: 'node',
        node: instance.name,
        pool: instance.tags.pool,
        state: 'drained',
        detail: `${drain.movedTasks} job(s) there when the drain started, drained in ${drain.durationMs} ms${requeued}`,
      });
    }),
  );
  const after = new Map((await driver.jobs.jobs(api.endpoint)).map((j) => [j.id, j]));
  const requeued = before.filter((j) => {
    const now = after.get(j.id);
    return now !== undefined && !jobEnded(now.state) && !live(now);
  });
  if (requeued.length > 0) {
    await driver.releaseJobs(
      api.endpoint,
      requeued.map((j) => j.id),
    );
    // Each requeued job starts on a node that stays (or ends) before the controller moves on.
    await pollUntil(
      async () => {
        const jobs = await driver.jobs.jobs(api.endpoint);
        const waiting = requeued.filter((r) => {
          const now = jobs.find((j) => j.id === r.id);
          return now && !jobEnded(now.state) && !(live(now) && now.nodes.every((n) => !names.has(n)));
        });
        for (const j of jobs) after.set(j.id, j);
        return waiting.length === 0 ? true : undefined;
      },
      {
        deadline: Date.now() + ctx.readyTimeoutMs,
        intervalMs: 250,
        what: `the requeued job(s) ${requeued.map((j) => j.id).join(', ')} to start on the nodes that stay`,
        hint: 'check that the target nodes are idle and have what the jobs ask for (nodes, features)',
        ...(signal ? { signal } : {}),
      },
    );
  }
  const ms = Math.round(performance.now() - started);
  const moves = before.map((job): JobMove => {
    const now = after.get(job.id);
    const wasRequeued = requeued.some((r) => r.id === job.id);
    return {
      job: job.id,
      name: job.name,
      fromNodes: [...job.nodes].sort(),
      toNodes: wasRequeued && now && live(now) ? [...now.nodes].sort() : [],
      requeued: wasRequeued,
      state: now?.state ?? 'unknown',
      ...(now && jobEnded(now.state) && now.exitCode !== undefined ? { exitCode: now.exitCode } : {}),
      ms,
    };
  });
  for (const m of moves)
    ctx.progress.message(
      `job ${m.job} (${m.name}): ${m.requeued ? `requeued, now on ${m.toNodes.join(', ') || 'the queue'}` : `${m.state} on the source`}`,
    );
  return moves;
}
