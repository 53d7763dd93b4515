import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CloudApiError } from '../../src/errors.js';
import { delay } from './exec.js';
import { hostCgroupMounts } from './mounts.js';
import { cgroupPrefix } from './paths.js';

/** Pids whose network namespace is `link` (`net:[inode]`): what `ip netns pids` reports, also for unnamed ones. */
export function pidsInNetns(link: string): Promise<number[]> {
  return pidsInNamespace('net', link);
}

/** Pids whose namespace of `kind` is `link` (e.g. `mnt:[4026532]`). */
export async function pidsInNamespace(kind: 'net' | 'mnt', link: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ns = await readlink(`/proc/${entry}/ns/${kind}`).catch(() => undefined);
    if (ns === link) pids.push(Number(entry));
  }
  return pids;
}

/** `starttime` of a live process (field 22 of /proc/<pid>/stat), or undefined once it is gone or a zombie. */
async function liveStart(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (!stat || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** How deep below a hierarchy root a VM's cgroup parent may sit (see vmCgroupDirs). */
const MAX_PARENT_DEPTH = 6;

/**
 * Cgroup directories of one VM in every host hierarchy: dockerd in the VM runs with
 * `--cgroup-parent skypool-<hostname>`, so its containers live under a `skypool-<node>` dir. runc resolves
 * that relative to its own cgroup, which is the hierarchy root only on some hosts (a supervisor may have put
 * the SDK in e.g. `memory:/some/job`), so the dir is searched for below the roots too. Deepest first, the
 * order rmdir needs.
 */
export async function vmCgroupDirs(node: string): Promise<string[]> {
  const prefix = cgroupPrefix(node);
  const dirs: Array<{ path: string; depth: number }> = [];
  const subdirs = async (path: string): Promise<string[]> =>
    (await readdir(path, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  const collect = async (path: string, depth: number): Promise<void> => {
    dirs.push({ path, depth });
    for (const name of await subdirs(path)) await collect(join(path, name), depth + 1);
  };
  const search = async (path: string, depth: number): Promise<void> => {
    for (const name of await subdirs(path)) {
      if (name === prefix || name.startsWith(`${prefix}.`)) await collect(join(path, name), depth);
      else if (depth < MAX_PARENT_DEPTH && !name.startsWith('skypool-')) await search(join(path, name), depth + 1);
    }
  };
  for (const mount of await hostCgroupMounts()) await search(mount.mountPoint, 0);
  return dirs.sort((a, b) => b.depth - a.depth).map((d) => d.path);
}

export async function pidsInCgroups(dirs: readonly string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of dirs) {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.trim()) pids.add(Number(line));
  }
  return [...pids];
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Pids that SIGTERM can never stop: the init of a pid namespace (a container's PID 1) without a SIGTERM handler,
 * for which the kernel drops the signal (e.g. busybox httpd as PID 1). Waiting the grace period for them is moot.
 */
async function ignoringSigterm(pids: readonly number[]): Promise<number[]> {
  const stuck: number[] = [];
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const nsPid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).pop();
    const caught = /^SigCgt:\s+([0-9a-f]+)$/m.exec(status)?.[1];
    if (nsPid === '1' && caught !== undefined && (BigInt(`0x${caught}`) & (1n << 14n)) === 0n) stuck.push(pid);
  }
  return stuck;
}

/**
 * SIGTERM everything `find` returns, poll until it is empty or the grace period ends, then SIGKILL what is
 * left and poll again. Throws when processes survive SIGKILL (e.g. stuck in uninterruptible sleep).
 */
export async function stopProcesses(find: () => Promise<number[]>, graceMs: number, what: string): Promise<void> {
  // Every process ever found, with its start time (a reused pid is another process): a process in exit has
  // already left its namespaces and cgroups while it still closes files, so `find` stops seeing it too early.
  const seen = new Map<number, string>();
  const look = async (): Promise<number[]> => {
    const found = (await find()).filter((p) => p !== process.pid);
    for (const pid of found) {
      const start = await liveStart(pid);
      if (start !== undefined && !seen.has(pid)) seen.set(pid, start);
    }
    return found;
  };
  const pids = await look();
  if (pids.length === 0) return;
  await stopFound(pids, look, graceMs, what);
  await untilExited(seen, what);
}

/** Waits (5 s at most) until every process in `seen` has exited, so a caller never returns while one still runs. */
async function untilExited(seen: ReadonlyMap<number, string>, what: string): Promise<void> {
  const running = async () => {
    const left: number[] = [];
    for (const [pid, start] of seen) if ((await liveStart(pid)) === start) left.push(pid);
    return left;
  };
  const deadline = Date.now() + 5_000;
  let left = await running();
  while (left.length > 0 && Date.now() < deadline) {
    await delay(25);
    left = await running();
  }
  if (left.length > 0) {
    throw new CloudApiError(`processes of ${what} are still exiting (${left.join(', ')}): retry in a moment`, {
      pids: left,
    });
  }
}

async function stopFound(found: number[], find: () => Promise<number[]>, graceMs: number, what: string): Promise<void> {
  let pids = found;
  signal(pids, 'SIGTERM');
  signal(await ignoringSigterm(pids), 'SIGKILL');
  for (const [sig, waitMs] of [
    ['SIGKILL', graceMs],
    [undefined, 5_000],
  ] as const) {
    const deadline = Date.now() + waitMs;
    while (pids.length > 0 && Date.now() < deadline) {
      await delay(25);
      pids = (await find()).filter((p) => p !== process.pid);
    }
    if (pids.length === 0) return;
    if (sig) signal(pids, sig);
  }
  throw new CloudApiError(
    `processes of ${what} survived SIGKILL (${pids.join(', ')}): check "ps -o pid,stat,cmd -p ${pids.join(',')}"`,
    { pids },
  );
}

/** Kills a process only if its command line still contains `marker` (the pid may have been reused). */
export async function killIfMatches(pid: number | undefined, marker: string): Promise<void> {
  if (!pid) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(marker)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
