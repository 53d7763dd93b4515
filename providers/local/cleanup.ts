import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import { CloudApiError } from '../../src/errors.js';
import { run } from './exec.js';
import { readMountInfo } from './mounts.js';
import { deleteBridge, releaseAddress, staleClaims } from './network.js';
import {
  CREATED_MOUNT_POINTS_FILE,
  clusterDir,
  DEFAULT_STATE_ROOT,
  HOST_STATE_DIR,
  hostVethName,
  ipClaimDir,
  isVmDirName,
  NETNS_PREFIX,
  netnsName,
  vmDir,
} from './paths.js';
import { PRIVATE_DIRS, PRIVATE_FILES, privatePath } from './private-paths.js';
import {
  killIfMatches,
  pidsInCgroups,
  pidsInNamespace,
  pidsInNetns,
  stopProcesses,
  vmCgroupDirs,
} from './processes.js';
import { netnsLink, readRecord, type VmRecord } from './state.js';
import { checkStateRoot } from './state-root.js';

export interface TeardownOptions {
  /** How long processes get between SIGTERM and SIGKILL; default 5 s. */
  readonly graceMs?: number;
}

/** The network namespace the VM's processes are in, found by name or, after a half-done teardown, by its anchor. */
async function vmNetLink(id: string, anchorPid: number | undefined): Promise<string | undefined> {
  const named = await netnsLink(id);
  if (named) return named;
  if (!anchorPid) return undefined;
  const cmdline = await readFile(`/proc/${anchorPid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline !== 'sleep\0infinity\0') return undefined;
  const own = await readlink('/proc/self/ns/net');
  const link = await readlink(`/proc/${anchorPid}/ns/net`).catch(() => undefined);
  return link && link !== own ? link : undefined;
}

/**
 * The VM's mount namespace (its anchor's), which every process started in the VM shares even after it left
 * the VM's network namespace (`unshare -n`, a container runtime's helpers); never the host's own.
 */
async function vmMountLink(anchorPid: number | undefined): Promise<string | undefined> {
  if (!anchorPid) return undefined;
  const cmdline = await readFile(`/proc/${anchorPid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline !== 'sleep\0infinity\0') return undefined;
  const own = await readlink('/proc/self/ns/mnt');
  const link = await readlink(`/proc/${anchorPid}/ns/mnt`).catch(() => undefined);
  return link && link !== own ? link : undefined;
}

/**
 * Container cgroups are named after the hostname dockerd saw: the VM's name, the hostname it was given, or
 * the one its boot script set (written to the VM's private /etc/hostname).
 */
async function cgroupDirsOf(dir: string, node: string, record: VmRecord | undefined): Promise<string[]> {
  const written = (await readFile(privatePath(dir, '/etc/hostname'), 'utf8').catch(() => '')).trim();
  const names = new Set([node, record?.hostname ?? node, written].filter((n) => n !== '' && !n.includes('/')));
  return (await Promise.all([...names].map((n) => vmCgroupDirs(n)))).flat();
}

/**
 * Removes one VM and everything it ran, whatever state it is in (running, half-created, half-torn-down):
 * processes in its netns and cgroups, the netns (and with it the veth), cgroup dirs, address claim, VM dir.
 * Safe to run twice.
 */
export async function teardownVm(
  stateRoot: string,
  cluster: string,
  node: string,
  options: TeardownOptions = {},
): Promise<void> {
  const dir = vmDir(stateRoot, cluster, node);
  const record = await readRecord(dir);
  await haltVm(dir, cluster, node, record, options);
  await releaseAddress(stateRoot, cluster, record?.ip);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  await removeCreatedMountPoints();
}

/**
 * Ends everything a VM runs, as a power-off does: processes in its netns, mount namespace and cgroups, the
 * netns (and with it the veth) and the cgroup dirs. Its VM dir (the "disk") and address claim stay. Safe to run
 * twice.
 */
export async function haltVm(
  dir: string,
  cluster: string,
  node: string,
  record: VmRecord | undefined,
  options: TeardownOptions = {},
): Promise<void> {
  const id = netnsName(cluster, node);
  // First the host-side user-data wrapper, so it cannot write user-data.exit into a directory being removed.
  await killIfMatches(record?.userDataPid, dir);
  const link = await vmNetLink(id, record?.anchorPid);
  const mnt = await vmMountLink(record?.anchorPid);
  const find = async (): Promise<number[]> => {
    const inNetns = link ? await pidsInNetns(link) : [];
    const inMnt = mnt ? await pidsInNamespace('mnt', mnt) : [];
    return [...new Set([...inNetns, ...inMnt, ...(await pidsInCgroups(await cgroupDirsOf(dir, node, record)))])];
  };
  const graceMs = options.graceMs ?? 5_000;
  // Containers first: a dockerd whose containerd dies under it waits its whole shutdown timeout.
  await stopProcesses(
    async () => pidsInCgroups(await cgroupDirsOf(dir, node, record)),
    graceMs,
    `the containers of local VM ${id}`,
  );
  await stopProcesses(find, graceMs, `local VM ${id}`);
  const del = await run('ip', ['netns', 'del', id], { allowFailure: true });
  if (del.code !== 0 && !/No such file|not exist/i.test(del.stderr)) {
    throw new CloudApiError(`could not delete network namespace ${id}: ${del.stderr.trim()}`, { netns: id });
  }
  // Normally gone with the namespace; still there if something else holds the namespace open.
  await run('ip', ['link', 'del', 'dev', hostVethName(cluster, node)], { allowFailure: true });
  for (const cg of await cgroupDirsOf(dir, node, record)) {
    await rmdir(cg).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT')
        throw new CloudApiError(`could not remove cgroup ${cg}: ${err.message}`, { cgroup: cg }, err);
    });
  }
  // The VM's own mounts died with its mount namespace; only a mount made from the host side could remain.
  const leftovers = async (): Promise<string[]> =>
    (await readMountInfo())
      .map((m) => m.mountPoint)
      .filter((m) => m === dir || m.startsWith(`${dir}/`) || m === `/run/netns/${id}`);
  for (const mountPoint of (await leftovers()).reverse())
    await run('umount', ['-l', mountPoint], { allowFailure: true });
  const stuck = await leftovers();
  if (stuck.length > 0)
    throw new CloudApiError(`mounts of local VM ${id} survived teardown: unmount ${stuck.join(', ')} and retry`, {
      mounts: stuck,
    });
}

/**
 * Removes the host mount points ensureHostMountPoints made, but only once no skypool VM at all is left on the
 * host: removing a directory another VM has a mount on would silently detach that mount.
 */
export async function removeCreatedMountPoints(): Promise<void> {
  const file = CREATED_MOUNT_POINTS_FILE;
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const names = await readdir('/run/netns').catch(() => [] as string[]);
  if (names.some((n) => n.startsWith(NETNS_PREFIX))) return;
  const created = createdMountPoints(text);
  // Deepest first so a created parent is empty by the time its turn comes.
  for (const path of [...created].sort((a, b) => b.length - a.length)) {
    await rm(path, { recursive: false, force: true }).catch(() => rmdir(path).catch(() => undefined));
  }
  await rm(file, { force: true });
  await rmdir(HOST_STATE_DIR).catch(() => undefined); // only when empty: the default state root lives in it
}

/**
 * The paths the file lists that ensureHostMountPoints could have made (a private path or one of its parents);
 * anything else in the file is ignored rather than removed as root.
 */
function createdMountPoints(text: string): string[] {
  let listed: unknown;
  try {
    listed = JSON.parse(text);
  } catch {
    return [];
  }
  const ours: readonly string[] = [...PRIVATE_DIRS, ...PRIVATE_FILES];
  const allowed = (p: unknown): p is string =>
    typeof p === 'string' && p.startsWith('/') && ours.some((o) => o === p || o.startsWith(`${p}/`)) && p !== '/';
  return Array.isArray(listed) ? listed.filter(allowed) : [];
}

/** Node names with a VM dir under the cluster, created or half-created. */
export async function vmNames(stateRoot: string, cluster: string): Promise<string[]> {
  const entries = await readdir(clusterDir(stateRoot, cluster), { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && isVmDirName(e.name)).map((e) => e.name);
}

/** Address claims of nodes that no longer have a VM dir (crash between claim and dir removal). */
export async function removeStaleClaims(stateRoot: string, cluster: string): Promise<void> {
  const live = new Set(await vmNames(stateRoot, cluster));
  for (const ip of await staleClaims(stateRoot, cluster, live)) await releaseAddress(stateRoot, cluster, ip);
}

/** Removes the cluster's state directory once it holds no VM. */
export async function removeClusterDir(stateRoot: string, cluster: string): Promise<void> {
  if ((await vmNames(stateRoot, cluster)).length > 0) return;
  await removeStaleClaims(stateRoot, cluster);
  await rmdir(ipClaimDir(stateRoot, cluster)).catch(() => undefined);
  await rmdir(clusterDir(stateRoot, cluster)).catch(() => undefined);
}

/**
 * VMs of the cluster that have a network namespace but no VM dir (the dir was removed by hand, or the VM was
 * made with another state root). `skypool-<cluster>-<node>` is ambiguous when cluster names contain '-', so a
 * namespace counts only when the host-side veth named after this exact cluster/node pair exists too.
 */
export async function orphanNodes(stateRoot: string, cluster: string): Promise<string[]> {
  const prefix = `${NETNS_PREFIX}${cluster}-`;
  const withDir = new Set(await vmNames(stateRoot, cluster));
  const names = await readdir('/run/netns').catch(() => [] as string[]);
  return names
    .filter((n) => n.startsWith(prefix))
    .map((n) => n.slice(prefix.length))
    .filter(
      (node) => isVmDirName(node) && !withDir.has(node) && existsSync(`/sys/class/net/${hostVethName(cluster, node)}`),
    );
}

/** Everything of one local cluster: its VMs (in parallel), then its bridge and state directory. */
export async function cleanupLocalCluster(
  cluster: string,
  stateRoot: string = DEFAULT_STATE_ROOT,
  options: TeardownOptions = {},
): Promise<void> {
  await checkStateRoot(stateRoot);
  const nodes = [...(await vmNames(stateRoot, cluster)), ...(await orphanNodes(stateRoot, cluster))];
  const results = await Promise.allSettled(nodes.map((node) => teardownVm(stateRoot, cluster, node, options)));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw failed[0]!.reason;
  await deleteBridge(cluster);
  await removeClusterDir(stateRoot, cluster);
}
