import { spawn } from 'node:child_process';
import { mkdir, readFile, readlink, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CloudApiError, EngineError, TimeoutError } from '../../src/errors.js';
import { delay, run, shQuote, VM_ENV, type RunOptions, type RunResult } from './exec.js';
import { cgroupSetupLines } from './mounts.js';
import { CREATED_MOUNT_POINTS_FILE, hostVethName, netnsName } from './paths.js';

/** What `<vm dir>/vm.json` holds: the whole state of a local VM, next to the VM itself. */
export interface VmRecord {
  readonly id: string;
  readonly name: string;
  readonly cluster: string;
  /** Ownership tags as a TAG_KEYS record, exactly as a cloud would store them. */
  readonly tags: Readonly<Record<string, string>>;
  readonly ip: string;
  readonly cidr: string;
  readonly bridge: string;
  readonly idempotencyToken: string;
  /** sha256 of the user-data: a request with another token but the same bytes is the same request. */
  readonly userDataSha256: string;
  readonly createdAt: string;
  /** Process that holds the VM's UTS and mount namespaces; absent while the VM is being created. */
  readonly anchorPid?: number;
  /** Host-side shell waiting for the user-data (it writes user-data.exit). */
  readonly userDataPid?: number;
}

/** Paths a cloud VM owns on its own disk; each local VM gets a private copy bind-mounted from its VM dir. */
export const PRIVATE_DIRS = ['/etc/docker', '/var/lib/docker', '/var/lib/containerd', '/etc/skypool', '/var/lib/skypool', '/var/log/skypool'] as const;
export const PRIVATE_FILES = ['/etc/hostname', '/etc/hosts'] as const;

export const recordPath = (dir: string): string => join(dir, 'vm.json');
/** Where the VM's private copy of a host path lives. */
export const privatePath = (dir: string, hostPath: string): string => join(dir, 'fs', hostPath);

export async function readRecord(dir: string): Promise<VmRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(dir), 'utf8')) as VmRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(dir: string, record: VmRecord): Promise<void> {
  const tmp = `${recordPath(dir)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, recordPath(dir));
}

/** `net:[inode]` of a named network namespace, or undefined when it does not exist. */
export async function netnsLink(id: string): Promise<string | undefined> {
  try {
    const st = await stat(`/run/netns/${id}`, { bigint: true });
    const parent = await stat('/run/netns', { bigint: true });
    // A leftover plain file (crash between umount and unlink) is on the parent's device, not an nsfs mount.
    return st.dev !== parent.dev ? `net:[${st.ino}]` : undefined;
  } catch {
    return undefined;
  }
}

/** The VM is alive when its anchor process still sits in the VM's named network namespace. */
export async function isAlive(record: VmRecord | undefined): Promise<boolean> {
  if (!record?.anchorPid) return false;
  const want = await netnsLink(record.id);
  const have = await readlink(`/proc/${record.anchorPid}/ns/net`).catch(() => undefined);
  return want !== undefined && have === want;
}

/**
 * Creates the host-side mount points the VMs bind over when the host lacks them (a cloud image has them, a
 * developer machine may not), and remembers which ones it made so teardown can remove exactly those.
 */
export async function ensureHostMountPoints(): Promise<void> {
  const created: string[] = [];
  for (const dir of PRIVATE_DIRS) {
    const first = await mkdir(dir, { recursive: true });
    if (first) created.push(first);
  }
  for (const file of PRIVATE_FILES) {
    try {
      await writeFile(file, '', { flag: 'wx' });
      created.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if (created.length === 0) return;
  const path = CREATED_MOUNT_POINTS_FILE;
  await mkdir(dirname(path), { recursive: true });
  const before = JSON.parse(await readFile(path, 'utf8').catch(() => '[]')) as string[];
  await writeFile(path, JSON.stringify([...new Set([...before, ...created])]));
}

export interface CreateVmInput {
  readonly stateRoot: string;
  readonly cluster: string;
  readonly node: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly bridge: string;
}

/** Network side of a VM: namespace, veth into the cluster bridge, address, lo up, and no default route. */
export async function createNetns({ cluster, node, ip, prefixLength, bridge }: CreateVmInput): Promise<void> {
  const ns = netnsName(cluster, node);
  const veth = hostVethName(cluster, node);
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['link', 'set', 'dev', veth, 'master', bridge, 'up']);
  await run('ip', ['-n', ns, '-batch', '-'], {
    input: `addr add ${ip}/${prefixLength} dev eth0\nlink set dev eth0 up\nlink set dev lo up\n`,
  });
}

/**
 * Starts the process that holds the VM's UTS and mount namespaces. Detached on purpose: `skypool up` and
 * `skypool down` are separate processes, so the VM must outlive the one that created it.
 */
export async function startAnchor(ns: string, deadlineMs = 10_000): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', ns, 'unshare', '--uts', '--mount', '--propagation', 'private', 'sleep', 'infinity'], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env: VM_ENV,
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => { exited = code; });
  child.on('error', () => { exited = -1; });
  child.unref();
  const pid = child.pid;
  if (!pid) throw new CloudApiError(`could not start the anchor process of ${ns}`, { netns: ns });
  const want = await netnsLink(ns);
  const deadline = Date.now() + deadlineMs;
  // `ip netns exec` and `unshare` exec in place, so the pid ends up as `sleep` once all namespaces are set.
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new CloudApiError(`the anchor process of ${ns} exited (${exited}) before the VM was ready`, { netns: ns });
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
    const net = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
    if (exe.endsWith('/sleep') && net === want) return pid;
    await delay(5);
  }
  throw new TimeoutError(`the anchor process of ${ns} was not ready within ${deadlineMs} ms`, { netns: ns });
}

/** Runs a command inside a VM (its network, UTS and mount namespaces) with a clean environment. */
export function execInAnchor(anchorPid: number, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run('nsenter', ['-t', String(anchorPid), '-m', '-u', '-n', '--wd=/', '--', ...argv], { env: VM_ENV, ...options });
}

/** Files of the VM dir that become the VM's private paths; /etc/hosts names the VM like a cloud image would. */
export async function writePrivateFiles(dir: string, node: string, ip: string): Promise<void> {
  for (const path of PRIVATE_DIRS) await mkdir(privatePath(dir, path), { recursive: true });
  await writeFile(privatePath(dir, '/etc/hostname'), `${node}\n`);
  await writeFile(privatePath(dir, '/etc/hosts'), `127.0.0.1\tlocalhost\n${ip}\t${node}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
}

/**
 * Mounts inside the VM: hostname, cgroup hierarchies, private copies of the paths a VM owns, and a private
 * /run (dockerd would otherwise reuse the host's containerd socket, which cannot see the VM's mounts).
 */
export async function setupVm(anchorPid: number, dir: string, node: string): Promise<void> {
  const binds = [...PRIVATE_DIRS, ...PRIVATE_FILES].map(
    (path) => `mount --bind ${shQuote(privatePath(dir, path))} ${path}`,
  );
  const script = [
    'set -e',
    `echo ${shQuote(node)} > /proc/sys/kernel/hostname`,
    // Copies of other VMs' /run/netns mounts would keep their namespaces (and veths) alive after `ip netns del`.
    'umount -l /run/netns 2>/dev/null || true',
    ...(await cgroupSetupLines()),
    ...binds,
    'mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp',
    // Last: the VM dir may itself live under /run, and the bind sources above must still resolve.
    'mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run',
    'mkdir -p -m 1777 /run/lock',
    'ln -s /dev/shm /run/shm',
  ].join('\n');
  await execInAnchor(anchorPid, ['sh', '-c', script]);
}

/** The interpreter line of a user-data script; only scripts (`#!...`) run on the local provider. */
export function interpreterOf(userData: string): string[] {
  const first = userData.split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) {
    throw new EngineError(
      'the local provider runs user-data that is a script starting with "#!" (like cloud-init does); ' +
        `got "${first.slice(0, 40)}": render the engine's bootstrap as a shell script`,
      { firstLine: first.slice(0, 40) },
    );
  }
  const line = first.slice(2).trim();
  const space = line.search(/\s/);
  // Linux passes everything after the interpreter as one argument.
  return space < 0 ? [line] : [line.slice(0, space), line.slice(space + 1).trim()];
}

export const userDataFiles = (dir: string) => ({
  script: join(dir, 'user-data'),
  log: join(dir, 'user-data.log'),
  exit: join(dir, 'user-data.exit'),
});

/**
 * Runs the user-data inside the VM in the background, like cloud-init on first boot. The host-side wrapper
 * hands the script over as fd 3 because the VM's private /run may hide the VM dir; it records the exit code.
 */
export async function startUserData(anchorPid: number, dir: string, userData: string): Promise<number> {
  const files = userDataFiles(dir);
  const interpreter = interpreterOf(userData);
  await writeFile(files.script, userData, { mode: 0o700 });
  const wrapper =
    'pid=$1 script=$2 log=$3 exitfile=$4; shift 4; ' +
    'nsenter -t "$pid" -m -u -n --wd=/ -- "$@" /dev/fd/3 3<"$script" </dev/null >"$log" 2>&1; ' +
    'echo $? >"$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"';
  const child = spawn('sh', ['-c', wrapper, 'skypool-user-data', String(anchorPid), files.script, files.log, files.exit, ...interpreter], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
    env: VM_ENV,
  });
  child.on('error', () => undefined);
  child.unref();
  if (!child.pid) throw new CloudApiError('could not start the user-data of the VM', { dir });
  return child.pid;
}

export interface UserDataResult {
  /** True once the script has exited. */
  readonly done: boolean;
  readonly exitCode?: number;
  /** The last 64 KiB of the script's output. */
  readonly log: string;
}

export async function readUserDataFiles(dir: string): Promise<UserDataResult> {
  const files = userDataFiles(dir);
  const raw = await readFile(files.exit, 'utf8').catch(() => undefined);
  const log = await readFile(files.log).then((b) => b.subarray(Math.max(0, b.length - 65_536)).toString('utf8')).catch(() => '');
  const exitCode = raw === undefined ? undefined : Number(raw.trim());
  return exitCode === undefined || Number.isNaN(exitCode) ? { done: false, log } : { done: true, exitCode, log };
}

