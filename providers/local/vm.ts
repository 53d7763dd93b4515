import { readlink } from 'node:fs/promises';
import { CloudApiError, TimeoutError } from '../../src/errors.js';
import {
  type DetachedProcess,
  delay,
  type RunOptions,
  type RunResult,
  run,
  shQuote,
  spawnDetached,
  VM_ENV,
} from './exec.js';
import { cgroupSetupLines } from './mounts.js';
import { hostVethName, netnsName } from './paths.js';
import { PRIVATE_DIRS, PRIVATE_FILES, privatePath } from './private-paths.js';
import { netnsLink } from './state.js';

export interface NetnsInput {
  readonly cluster: string;
  readonly node: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly bridge: string;
  /** Other subnets on the same bridge, reached directly on eth0 (no router). */
  readonly onLinkRoutes?: readonly string[];
  /** Instead of the bridge: the veth's other end goes into this router namespace (see LocalLaunchRequest.uplink). */
  readonly uplink?: Uplink;
}

/**
 * A VM wired to a router namespace rather than a bridge, as a cloud VM's NIC is to its host's virtual switch:
 * the router end gets a /32 route to the VM (so every packet, even to a neighbour in the subnet, passes the
 * router's filters) and the VM a default route via `gateway`, an address the router answers for.
 */
export interface Uplink {
  readonly netns: string;
  readonly gateway: string;
}

const routeLines = (cidrs: readonly string[]): string =>
  cidrs.map((cidr) => `route replace ${cidr} dev eth0\n`).join('');

/** Network side of a VM: namespace, veth into the cluster bridge, address, lo up, and no default route. */
export async function createNetns({
  cluster,
  node,
  ip,
  prefixLength,
  bridge,
  onLinkRoutes = [],
  uplink,
}: NetnsInput): Promise<void> {
  const ns = netnsName(cluster, node);
  const veth = hostVethName(cluster, node);
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  if (uplink) {
    // A VM started again after a stop: the router end of its old veth outlives the old namespace for a moment
    // (namespaces are destroyed asynchronously) and would block the name.
    await run('ip', ['-n', uplink.netns, 'link', 'del', 'dev', veth], { allowFailure: true });
    await run('ip', ['link', 'set', 'dev', veth, 'netns', uplink.netns]);
    await run('ip', ['-n', uplink.netns, '-batch', '-'], {
      input: `link set dev ${veth} up\nroute replace ${ip}/32 dev ${veth}\n`,
    });
  } else {
    await run('ip', ['link', 'set', 'dev', veth, 'master', bridge, 'up']);
    // A VM gone from this address may have left its MAC in the host's neighbour table: the SDK's packets to
    // the new VM would go there until the entry expires (TCP backs off to ~30 s meanwhile).
    await run('ip', ['neigh', 'flush', 'to', ip, 'dev', bridge]);
  }
  const routes = uplink ? `route replace default via ${uplink.gateway} dev eth0\n` : routeLines(onLinkRoutes);
  await run('ip', ['-n', ns, '-batch', '-'], {
    input: `addr add ${ip}/${prefixLength} dev eth0\nlink set dev eth0 up\nlink set dev lo up\n${routes}`,
  });
}

/** Adds on-link routes to a running VM (a subnet attached to its bridge after it started). */
export async function addOnLinkRoutes(ns: string, cidrs: readonly string[]): Promise<void> {
  if (cidrs.length > 0) await run('ip', ['-n', ns, '-batch', '-'], { input: routeLines(cidrs) });
}

/**
 * Starts the process that holds the VM's UTS and mount namespaces. Detached on purpose: `skypool up` and
 * `skypool down` are separate processes, so the VM must outlive the one that created it.
 */
export async function startAnchor(ns: string, deadlineMs = 10_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  // `ip netns exec` can fail for a moment on a busy host (its mounts race others'): tried again, with the reason.
  for (let attempt = 1; ; attempt += 1) {
    const anchor = spawnDetached(
      'ip',
      ['netns', 'exec', ns, 'unshare', '--uts', '--mount', '--propagation', 'private', 'sleep', 'infinity'],
      { stderr: 'until-released' },
    );
    try {
      const pid = await anchorReady(ns, anchor, deadline, deadlineMs);
      if (pid !== undefined) return pid;
    } finally {
      anchor.release();
    }
    const why = `the anchor process of ${ns} exited (${anchor.exited()}) before the VM was ready${anchor.stderr() ? `: ${anchor.stderr()}` : ''}`;
    if (attempt >= 3 || Date.now() >= deadline) throw new CloudApiError(why, { netns: ns });
    await delay(100 * attempt);
  }
}

/** The anchor's pid once it is `sleep` inside the namespaces; undefined when it exited first. */
async function anchorReady(
  ns: string,
  anchor: DetachedProcess,
  deadline: number,
  deadlineMs: number,
): Promise<number | undefined> {
  const want = await netnsLink(ns);
  // `ip netns exec` and `unshare` exec in place, so the pid ends up as `sleep` once all namespaces are set.
  while (Date.now() < deadline) {
    if (anchor.exited() !== undefined) return undefined;
    const exe = await readlink(`/proc/${anchor.pid}/exe`).catch(() => '');
    const net = await readlink(`/proc/${anchor.pid}/ns/net`).catch(() => '');
    if (exe.endsWith('/sleep') && net === want) return anchor.pid;
    await delay(5);
  }
  throw new TimeoutError(`the anchor process of ${ns} was not ready within ${deadlineMs} ms`, { netns: ns });
}

/** Runs a command inside a VM (its network, UTS and mount namespaces) with a clean environment. */
export function execInAnchor(anchorPid: number, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run('nsenter', ['-t', String(anchorPid), '-m', '-u', '-n', '--wd=/', '--', ...argv], {
    env: VM_ENV,
    ...options,
  });
}

/**
 * Mounts inside the VM: hostname, cgroup hierarchies, private copies of the paths a VM owns, its own /tmp and
 * /dev/shm, and a private /run (dockerd would otherwise reuse the host's containerd socket, which cannot see
 * the VM's mounts).
 */
export async function setupVm(anchorPid: number, dir: string, hostname: string): Promise<void> {
  const binds = [...PRIVATE_DIRS, ...PRIVATE_FILES].map(
    (path) => `mount --bind ${shQuote(privatePath(dir, path))} ${path}`,
  );
  const script = [
    'set -e',
    `echo ${shQuote(hostname)} > /proc/sys/kernel/hostname`,
    // Copies of other VMs' /run/netns mounts would keep their namespaces (and veths) alive after `ip netns del`.
    'umount -l /run/netns 2>/dev/null || true',
    ...(await cgroupSetupLines()),
    ...binds,
    'mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp',
    'mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm',
    // Last: the VM dir may itself live under /run, and the bind sources above must still resolve.
    'mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run',
    'mkdir -p -m 1777 /run/lock',
    'ln -s /dev/shm /run/shm',
  ].join('\n');
  await execInAnchor(anchorPid, ['sh', '-c', script]);
}
