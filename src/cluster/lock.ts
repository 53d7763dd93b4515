import { createHash, randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
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

/**
 * Removes the stale lock whose content is `text`, atomically against every other process doing the same: the
 * one that links the lock to the tombstone named after that content (link fails when the name exists) is the
 * only one allowed to unlink it. A tombstone that holds other content means the lock was already replaced by a
 * live holder: that lock is left alone. True when this call removed the stale lock.
 */
async function claimStale(path: string, text: string): Promise<boolean> {
  const tombstone = `${path}.stale-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  try {
    await link(path, tombstone);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    throw error;
  }
  try {
    if ((await readFile(tombstone, 'utf8').catch(() => undefined)) !== text) return false;
    await unlink(path);
    return true;
  } finally {
    await unlink(tombstone).catch(() => undefined);
  }
}

function unwritable(path: string, error: unknown): PrerequisiteError {
  return new PrerequisiteError(
    `cannot create the cluster lock ${path} (${errnoOf(error) ?? (error as Error).message}): use a state directory you can write (--state-dir or SKYPOOL_STATE_DIR)`,
    { path },
  );
}

/**
 * Takes the cluster's exclusive lock (an atomic link to `<stateDir>/clusters/<name>/lock`), like Terraform's state
 * lock: a second mutating call fails fast with LockedError naming the holder. A lock left by a dead process on
 * this host is taken over (`onStale` is told); of many processes taking over one stale lock, exactly one wins. Returns the release function; it removes only our own lock, and
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
  // The lock appears with its content at once (link of a written file), so no reader ever sees it empty.
  const draft = `${path}.${process.pid}.${randomUUID()}`;
  try {
    await writeFile(draft, content, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    throw unwritable(path, error);
  }
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await link(draft, path);
        break;
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw unwritable(path, error);
      }
      const found = await inspect(path);
      if (found.kind === 'held' || attempt >= 3) {
        const holder = found.kind === 'gone' ? undefined : found.holder;
        throw new LockedError(cluster, path, holder);
      }
      if (found.kind === 'stale' && (await claimStale(path, found.text))) onStale(found.holder, path);
    }
  } finally {
    await unlink(draft).catch(() => undefined);
  }
  return async () => {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === content) await rm(path, { force: true });
    if (createdDir !== undefined) await rmdir(dir).catch(() => undefined);
  };
}
