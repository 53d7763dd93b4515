import * as move from '../../engines/slurm/controller-move.js';
import type { SlurmDriver } from '../../engines/slurm/index.js';
import { EngineError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { pollUntil } from '../../util/poll.js';
import type { ClusterContext } from '../context.js';
import { type ManagerRef, waitNodesReady } from '../nodes.js';

/**
 * The steps that move slurmctld from one controller VM to another, in either direction: forward (a migration,
 * source to target) and back (a rollback, target to source).
 */
export type ControllerTools = ReturnType<SlurmDriver['controllerMove']>;

/**
 * Names `next` as the backup SlurmctldHost in the running controller's slurm.conf and pushes it to every slurmd
 * (`scontrol reconfigure`, configless), so a slurmd (and a job step started from now on) that cannot reach the
 * running controller turns to `next`. The slurmctld of `next` stops first: no slurmd may register there before
 * the state arrives.
 */
export async function nameBackup(
  ctx: ClusterContext,
  tools: ControllerTools,
  running: ManagerRef,
  next: ManagerRef,
  instances: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  const wait = { deadline: Date.now() + ctx.readyTimeoutMs, ...(signal ? { signal } : {}) };
  await move.stopController(tools.exec, next.endpoint, wait);
  const addr = ctx.identityOf(next.instance)?.fabricIp;
  if (!addr) throw new EngineError(`the controller ${next.instance.name} has no fabric address`, {});
  const conf = await move.readConf(tools.exec, running.endpoint);
  const hosts = move.controllerHosts(conf);
  const primary = hosts[0];
  if (!primary) throw new EngineError(`the controller config on ${running.instance.name} names no controller`, {});
  if (!hosts.some((h) => h.name === next.instance.name)) {
    await move.writeConf(
      tools.exec,
      running.endpoint,
      move.withControllerHosts(conf, [primary, { name: next.instance.name, addr }]),
    );
    await tools.exec(running.endpoint, ['scontrol', 'reconfigure']);
  }
  const line = `SlurmctldHost=${next.instance.name}(${addr})`;
  const nodes = instances.filter((i) => i.tags.role === 'worker');
  await pollUntil(
    async () => {
      const seen = await Promise.all(
        nodes.map((i) =>
          tools
            .nodeExec(ctx.endpoint(i))(['grep', '-qxF', line, '/var/lib/skypool/slurmd/conf-cache/slurm.conf'], {
              allowFailure: true,
            })
            .then((r) => r.code === 0)
            .catch(() => false),
        ),
      );
      return seen.every(Boolean) ? true : undefined;
    },
    {
      ...wait,
      intervalMs: 250,
      what: `every slurmd to learn the next controller ${next.instance.name} (scontrol reconfigure)`,
    },
  );
  ctx.progress.message(`every slurmd knows ${next.instance.name} as the next controller`);
}

/** Stops slurmctld on `from` (it saves its state), copies the state to `to` and starts slurmctld there. */
export async function moveController(
  ctx: ClusterContext,
  tools: ControllerTools,
  from: ManagerRef,
  to: ManagerRef,
  signal?: AbortSignal,
): Promise<void> {
  const wait = () => ({ deadline: Date.now() + ctx.readyTimeoutMs, ...(signal ? { signal } : {}) });
  await move.stopController(tools.exec, to.endpoint, wait());
  await tools.stopMoved(from.endpoint);
  await move.stopController(tools.exec, from.endpoint, wait());
  const state = await move.saveState(tools.exec, from.endpoint);
  ctx.progress.message(`slurmctld on ${from.instance.name} stopped and its state saved`);
  await move.restoreState(tools.exec, to.endpoint, state);
  await startController(ctx, tools, to, signal);
  ctx.progress.message(`slurmctld moved from ${from.instance.name} to ${to.instance.name} with its state`);
}

/** Starts slurmctld on `ref` with the state it holds (idempotent) and waits until it answers. */
export async function startController(
  ctx: ClusterContext,
  tools: ControllerTools,
  ref: ManagerRef,
  signal?: AbortSignal,
): Promise<void> {
  await tools.start(ref.endpoint);
  await pollUntil(
    async () => ((await move.controllerUp(tools.exec, ref.endpoint, ref.instance.name)) ? true : undefined),
    {
      deadline: Date.now() + ctx.readyTimeoutMs,
      ...(signal ? { signal } : {}),
      intervalMs: 200,
      what: `slurmctld on ${ref.instance.name} to answer with the moved state`,
      hint: `see /var/log/skypool/slurmctld.log on ${ref.instance.name}`,
    },
  );
}

/**
 * The moved controller takes over: the `workers` are Ready under it, its slurm.conf names only itself (a backup
 * named for the move goes), a reconfigure pushes that to every slurmd, and each worker's `controller-addr` (read
 * at its next boot) names it.
 */
export async function takeOver(
  ctx: ClusterContext,
  tools: ControllerTools,
  controller: ManagerRef,
  workers: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  await waitNodesReady(
    ctx,
    controller,
    workers.map((i) => i.name),
    signal,
  );
  const conf = await move.readConf(tools.exec, controller.endpoint);
  const hosts = move.controllerHosts(conf);
  const [primary] = hosts;
  if (!primary || primary.name !== controller.instance.name)
    throw new EngineError(
      `the config of controller ${controller.instance.name} names ${primary?.name ?? 'no'} controller`,
      {
        node: controller.instance.name,
      },
    );
  if (hosts.length > 1)
    await move.writeConf(tools.exec, controller.endpoint, move.withControllerHosts(conf, [primary]));
  await tools.exec(controller.endpoint, ['scontrol', 'reconfigure']);
  await Promise.all(workers.map((i) => move.pointNodeAt(tools.nodeExec(ctx.endpoint(i)), primary.addr)));
  ctx.progress.emit({ type: 'node', node: controller.instance.name, state: 'ready', detail: 'slurm controller' });
}
