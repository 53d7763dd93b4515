import { chmod, mkdir, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { clusterStateDir } from '../bootstrap/cluster-pki.js';
import { LockedError, PrerequisiteError } from '../errors.js';

/** Who holds a cluster's lock file, as written in it. */
export interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly operation: string;
  readonly since: string;
}

/** A lock file that never got its content (a crash between create and write) is stale after this long. */
const UNREADABLE_GRACE_MS = 5_000;

export function clusterLockPath(stateDir: string, cluster: string): string {
  return join(clusterStateDir(stateDir, cluster), 'lock');
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errnoOf(error) !== 'ESRCH';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (
      typeof value.pid === 'number' &&
      typeof value.hostname === 'string' &&
      typeof value.operation === 'string' &&
      typeof value.since === 'string'
    ) {
      return { pid: value.pid, hostname: value.hostname, operation: value.operation, since: value.since };
    }
  } catch {
    // fall through
  }
  return undefined;
}

type Found =
  | { kind: 'gone' }
  | { kind: 'held'; holder?: LockHolder }
  | { kind: 'stale'; holder?: LockHolder; text: string };

async function inspect(path: string): Promise<Found> {
  let text: string;
  let ageMs: number;
  try {
    text = await readFile(path, 'utf8');
    ageMs = Date.now() - (await stat(path)).mtimeMs;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'gone' };
    throw error;
  }
  const holder = parseHolder(text);
  if (!holder) return ageMs > UNREADABLE_GRACE_MS ? { kind: 'stale', text } : { kind: 'held' };
  // A pid on another host cannot be checked from here: only its owner (or the user) may clear it.
  if (holder.hostname === hostname() && !processAlive(holder.pid)) return { kind: 'stale', holder, text };
  return { kind: 'held', holder };
}

function unwritable(path: string, error: unknown): PrerequisiteError {
  return new PrerequisiteError(
    `cannot create the cluster lock ${path} (${errnoOf(error) ?? (error as Error).message}): use a state directory you can write (--state-dir or SKYPOOL_STATE_DIR)`,
    { path },
  );
}

/**
 * Takes the cluster's exclusive lock (O_EXCL create of `<stateDir>/clusters/<name>/lock`), like Terraform's state
 * lock: a second mutating call fails fast with LockedError naming the holder. A lock left by a dead process on
 * this host is taken over (`onStale` is told). Returns the release function; it removes only our own lock, and
 * the cluster directory too when this call created it and nothing else was put in it.
 */
export async function acquireClusterLock(
  stateDir: string,
  cluster: string,
  operation: string,
  onStale: (holder: LockHolder | undefined, path: string) => void,
): Promise<() => Promise<void>> {
  const dir = clusterStateDir(stateDir, cluster);
  const path = clusterLockPath(stateDir, cluster);
  let createdDir: string | undefined;
  try {
    createdDir = await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (error) {
    throw unwritable(path, error);
  }
  const content = JSON.stringify({
    pid: process.pid,
    hostname: hostname(),
    operation,
    since: new Date().toISOString(),
  } satisfies LockHolder);
  for (let attempt = 0; ; attempt += 1) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw unwritable(path, error);
    }
    const found = await inspect(path);
    if (found.kind === 'held' || attempt >= 3) {
      const holder = found.kind === 'gone' ? undefined : found.holder;
      throw new LockedError(cluster, path, holder);
    }
    if (found.kind === 'stale') {
      // Remove it only if it still is the stale one: another process may have taken it over meanwhile.
      const now = await readFile(path, 'utf8').catch(() => undefined);
      if (now !== found.text) continue;
      onStale(found.holder, path);
      await rm(path, { force: true });
    }
  }
  return async () => {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === content) await rm(path, { force: true });
    if (createdDir !== undefined) await rmdir(dir).catch(() => undefined);
  };
}
