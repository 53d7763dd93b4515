import { EngineError } from '../../errors.js';
import { isIpv4 } from '../../util/ipv4.js';
import { pollUntil } from '../../util/poll.js';
import type { DockerClients } from '../swarm/api.js';
import type { EngineEndpoint, NodeExec, WaitOptions } from '../types.js';
import { parsePing } from './parse.js';

/**
 * Moving the Slurm controller (slurmctld) to another VM, with Slurm's own high-availability parts: the target
 * controller is first named as a backup `SlurmctldHost` in the running controller's slurm.conf, and a
 * `scontrol reconfigure` pushes that config to every configless slurmd (and so to every job step started after
 * it). Then the source controller saves its state and stops, its StateSaveLocation is copied to the target, and
 * slurmctld starts there with that state (as a container on the node's mailbox dockerd: the SDK cannot start a
 * daemon on the host); slurmds that cannot reach the old controller turn to the one named after it, and a last
 * reconfigure from the new controller leaves only it in every node's config.
 */

export const CONTROLLER_CONF = '/etc/skypool/slurm/slurm.conf';
export const STATE_DIR = '/var/lib/skypool/slurmctld';
/** Written by templates/slurm/key-volume.sh: where a node's slurmd finds its controller after a reboot. */
export const CONTROLLER_ADDR_FILE = '/var/lib/skypool/controller-addr';
/** The moved controller's container (same image as the command container). */
export const MOVED_CONTROLLER = 'skypool-slurmctld';
const COMMAND_IMAGE = 'skypool/slurm-commands:1';
/** The copied state travels in the environment of one exec (base64): Linux caps one variable at 128 KiB. */
const MAX_STATE_BYTES = 96 * 1024;
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Runs a command on a node with the controller's config (the same `exec` the driver uses). */
export type ControllerExec = (
  endpoint: EngineEndpoint,
  argv: readonly string[],
  options?: { input?: string; allowFailure?: boolean },
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** The `SlurmctldHost=name(addr)` lines of a slurm.conf, in order (primary first). */
export function controllerHosts(conf: string): Array<{ name: string; addr: string }> {
  return [...conf.matchAll(/^SlurmctldHost=([^()\s]+)\(([^)\s]+)\)\s*$/gm)].map((m) => ({ name: m[1]!, addr: m[2]! }));
}

/**
 * The slurm.conf with exactly `hosts` as its SlurmctldHost lines (in that order) where the first one was:
 * the rest of the file is kept as it is.
 */
export function withControllerHosts(conf: string, hosts: ReadonlyArray<{ name: string; addr: string }>): string {
  for (const h of hosts)
    if (!NAME.test(h.name) || !isIpv4(h.addr))
      throw new EngineError(`not a controller host: ${h.name}(${h.addr})`, { node: h.name });
  const lines = conf.split('\n');
  const first = lines.findIndex((l) => l.startsWith('SlurmctldHost='));
  if (first < 0) throw new EngineError('the controller config names no SlurmctldHost', {});
  const rest = lines.filter((l, k) => k < first || !l.startsWith('SlurmctldHost='));
  rest.splice(first, 0, ...hosts.map((h) => `SlurmctldHost=${h.name}(${h.addr})`));
  return rest.join('\n');
}

export async function readConf(exec: ControllerExec, endpoint: EngineEndpoint): Promise<string> {
  return (await exec(endpoint, ['cat', CONTROLLER_CONF])).stdout;
}

/** Writes the controller's slurm.conf atomically (the command container mounts its directory read-write). */
export async function writeConf(exec: ControllerExec, endpoint: EngineEndpoint, conf: string): Promise<void> {
  await exec(endpoint, ['sh', '-c', 'cat >"$1.new" && mv -f "$1.new" "$1"', 'sh', CONTROLLER_CONF], { input: conf });
}

/** Whether the slurmctld of `host` answers, as the node `endpoint` sees it (`scontrol ping` with its config). */
export async function controllerUp(exec: ControllerExec, endpoint: EngineEndpoint, host: string): Promise<boolean> {
  const ping = await exec(endpoint, ['scontrol', 'ping'], { allowFailure: true }).catch(() => undefined);
  return parsePing(ping?.stdout ?? '').some((c) => c.name === host && c.up);
}

/**
 * Stops a node's slurmctld, which saves its state first (`scontrol shutdown slurmctld`: the slurmds keep
 * running), and waits until it no longer answers.
 */
export async function stopController(
  exec: ControllerExec,
  endpoint: EngineEndpoint,
  options: WaitOptions,
): Promise<void> {
  // Its final save rewrites job_state and node_state after the shutdown request (the node's own clock).
  const since = Number((await exec(endpoint, ['date', '+%s'])).stdout.trim());
  const answered = await controllerUp(exec, endpoint, endpoint.name);
  if (answered) await exec(endpoint, ['scontrol', 'shutdown', 'slurmctld'], { allowFailure: true });
  await pollUntil(async () => ((await controllerUp(exec, endpoint, endpoint.name)) ? undefined : true), {
    ...options,
    intervalMs: 200,
    what: `slurmctld on ${endpoint.name} to save its state and stop`,
  });
  if (!answered) return;
  await pollUntil(
    async () => {
      const r = await exec(endpoint, ['stat', '-c', '%Y', `${STATE_DIR}/job_state`, `${STATE_DIR}/node_state`], {
        allowFailure: true,
      });
      const times = r.stdout.trim().split('\n').map(Number);
      return r.code === 0 && times.length === 2 && times.every((t) => t >= since) ? true : undefined;
    },
    { ...options, intervalMs: 200, what: `slurmctld on ${endpoint.name} to write its state` },
  );
}

/** The controller's StateSaveLocation as a gzipped tarball in base64 (taken once slurmctld stopped). */
export async function saveState(exec: ControllerExec, endpoint: EngineEndpoint): Promise<string> {
  const { stdout } = await exec(endpoint, ['sh', '-c', 'tar -C "$1" -czf - . | base64 -w0', 'sh', STATE_DIR]);
  const state = stdout.trim();
  if (state.length === 0) throw new EngineError(`no controller state on ${endpoint.name}`, { node: endpoint.name });
  if (state.length > MAX_STATE_BYTES)
    throw new EngineError(
      `the controller state on ${endpoint.name} is ${state.length} bytes in base64, more than the ${MAX_STATE_BYTES} a move carries in this release`,
      { node: endpoint.name },
    );
  return state;
}

/** Replaces the target's StateSaveLocation with the saved one (its own slurmctld stopped first). */
export async function restoreState(exec: ControllerExec, endpoint: EngineEndpoint, state: string): Promise<void> {
  await exec(
    endpoint,
    [
      'sh',
      '-c',
      'set -e; mkdir -p "$1"; find "$1" -mindepth 1 -delete; base64 -d | tar -C "$1" -xzf -; test -s "$1/job_state"',
      'sh',
      STATE_DIR,
    ],
    { input: state },
  );
}

/**
 * Starts slurmctld on the target with the state it was given, as a container of the node's mailbox dockerd (the
 * command container's image: the node's /usr, config, munge socket and state), restarted with the daemon.
 */
export async function startMovedController(clients: DockerClients, endpoint: EngineEndpoint): Promise<void> {
  const docker = clients.get(endpoint, 30_000);
  const existing = docker.getContainer(MOVED_CONTROLLER);
  const info = await existing.inspect().catch(() => undefined);
  if (info?.State?.Running) return;
  if (info) await existing.remove({ force: true });
  const container = await docker.createContainer({
    name: MOVED_CONTROLLER,
    Image: COMMAND_IMAGE,
    Cmd: ['/usr/sbin/slurmctld', '-D', '-f', CONTROLLER_CONF, '-L', '/var/log/skypool/slurmctld.log'],
    HostConfig: {
      NetworkMode: 'host',
      UTSMode: 'host',
      RestartPolicy: { Name: 'unless-stopped' },
      Binds: [
        '/usr:/usr:ro',
        // Debian's slurmctld is an alternatives link.
        '/etc/alternatives:/etc/alternatives:ro',
        '/etc/passwd:/etc/passwd:ro',
        '/etc/group:/etc/group:ro',
        '/etc/skypool/slurm:/etc/skypool/slurm:ro',
        '/run/munge:/run/munge',
        '/var/lib/skypool:/var/lib/skypool',
        '/var/log/skypool:/var/log/skypool',
      ],
    },
  });
  await container.start();
}

/**
 * Stops a controller that an earlier migration moved here (its container): `docker stop` sends SIGTERM, slurmctld
 * saves its state and exits, and the stop keeps it stopped (`scontrol shutdown` would leave a clean exit that the
 * restart policy brings back up). A no-op where slurmctld runs from the boot script.
 */
export async function stopMovedController(clients: DockerClients, endpoint: EngineEndpoint): Promise<void> {
  const container = clients.get(endpoint, 60_000).getContainer(MOVED_CONTROLLER);
  const info = await container.inspect().catch(() => undefined);
  if (info?.State?.Running) await container.stop({ t: 30 });
}

/** Tells a node's slurmd where its controller is after a reboot (the file its boot script reads). */
export async function pointNodeAt(exec: NodeExec, addr: string): Promise<void> {
  if (!isIpv4(addr)) throw new EngineError(`not a controller address: ${addr}`, {});
  await exec(['sh', '-c', 'printf "%s\\n" "$1" >"$2.new" && mv -f "$2.new" "$2"', 'sh', addr, CONTROLLER_ADDR_FILE]);
}
