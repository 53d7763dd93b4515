import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, type ProgressEvent } from '../src/cluster/index.js';
import { acquireClusterLock, clusterLockPath } from '../src/cluster/lock.js';
import { SkypoolError } from '../src/errors.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';

/** A pid that no longer runs: a child that already exited (and was reaped). */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined || child.status !== 0) throw new Error('could not run a child process');
  return child.pid;
};

const errorOf = async (promise: Promise<unknown>): Promise<SkypoolError> => {
  try {
    await promise;
  } catch (error) {
    if (SkypoolError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
};

describe('cluster lock (aws pools on cloudsim, no VMs)', () => {
  let sim: CloudSim;
  let work: string;
  const clusters: Cluster[] = [];

  const specOf = (name: string, extra: Partial<ClusterSpecInput> = {}): ClusterSpecInput =>
    ({
      name,
      engine: 'swarm',
      pools: [{ name: 'm', provider: 'aws', region: 'us-east-1', role: 'manager', count: 1, instanceType: 't3.micro' }],
      ...extra,
    }) as ClusterSpecInput;
  const open = (spec: ClusterSpecInput): Cluster => {
    const cluster = Cluster.fromSpec(spec, {
      stateDir: join(work, 'state'),
      providers: {
        aws: { region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws, pollIntervalMs: 20 },
      },
      readyTimeoutMs: 2_000,
    });
    clusters.push(cluster);
    return cluster;
  };
  const newName = () => `lock-${randomUUID().slice(0, 8)}`;
  const lockPath = (name: string) => clusterLockPath(join(work, 'state'), name);
  const clusterDir = (name: string) => join(work, 'state', 'clusters', name);

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50, rateLimits: { aws: { scale: 10 } } });
    work = await mkdtemp(join(tmpdir(), 'skypool-lock-'));
  });

  afterEach(() => sim.clearFaults());

  afterAll(async () => {
    try {
      sim?.clearFaults();
      // Every cluster made here is destroyed (its networks on the simulator, its state dir), then closed.
      for (const cluster of clusters) await cluster.destroy().catch(() => undefined);
      for (const cluster of clusters) await cluster.close();
    } finally {
      await sim?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    }
  });

  it('a second mutating call fails fast with LOCKED naming the holder, while plan() still works', async () => {
    const name = newName();
    const first = open(specOf(name));
    const second = open(specOf(name));
    const abort = new AbortController();
    let firstEvents = 0;
    // Once the first apply holds the lock, every EC2 call slows down: it stays inside its network phase.
    const inNetwork = new Promise<void>((resolve) =>
      first.onProgress((e: ProgressEvent) => {
        firstEvents += 1;
        if (e.type === 'phase-start' && e.phase === 'network') {
          sim.addFault({ cloud: 'aws', kind: 'latency', latencyMs: 400 });
          resolve();
        }
      }),
    );
    const applying = first.apply({ signal: abort.signal });
    const applied = applying.then(
      () => undefined,
      (error: unknown) => error,
    );
    await inNetwork;
    expect(firstEvents).toBeGreaterThan(0);

    const holder = JSON.parse(readFileSync(lockPath(name), 'utf8')) as Record<string, unknown>;
    expect(holder).toEqual({ pid: process.pid, hostname: hostname(), operation: 'apply', since: expect.any(String) });
    expect((await stat(lockPath(name))).mode & 0o777).toBe(0o600);
    expect((await stat(clusterDir(name))).mode & 0o777).toBe(0o700);

    const destroyError = await errorOf(second.destroy());
    expect(destroyError.code).toBe('LOCKED');
    expect(destroyError.exitCode).toBe(1);
    expect(destroyError.message).toContain(
      `process ${process.pid} on ${hostname()} (apply, since ${String(holder.since)})`,
    );
    expect(destroyError.message).toContain(`wait for it, or remove ${lockPath(name)} if that process is gone`);
    expect(destroyError.details).toMatchObject({
      cluster: name,
      path: lockPath(name),
      holder: { pid: process.pid, operation: 'apply' },
    });
    expect((await errorOf(second.apply())).code).toBe('LOCKED');
    expect((await errorOf(second.scale('m', 2))).code).toBe('LOCKED');
    expect((await errorOf(second.run({ name: 'web', image: 'skypool/httpd:1', replicas: 1 }))).code).toBe('LOCKED');
    expect(second.spec.pools[0]!.count).toBe(1);

    const plan = await second.plan();
    expect(plan.creates.flatMap((c) => c.names)).toEqual([`${name}-m-1`]);
    // The refused calls did not touch the holder's lock.
    expect(JSON.parse(readFileSync(lockPath(name), 'utf8'))).toEqual(holder);

    sim.clearFaults();
    abort.abort();
    const failure = await applied;
    expect(SkypoolError.isInstance(failure) && failure.code).toBe('CANCELLED');
    expect(existsSync(lockPath(name))).toBe(false);
    // The first apply stopped before the cluster existed (in its network phase): it wrote no PKI.
    expect(existsSync(join(clusterDir(name), 'pki'))).toBe(false);

    await second.destroy();
    expect(existsSync(clusterDir(name))).toBe(false);
  });

  it('takes over a stale lock (dead pid on this host) and says so', async () => {
    const name = newName();
    await mkdir(clusterDir(name), { recursive: true, mode: 0o700 });
    const pid = deadPid();
    await writeFile(
      lockPath(name),
      JSON.stringify({ pid, hostname: hostname(), operation: 'scale', since: '2026-01-01T00:00:00.000Z' }),
    );
    const cluster = open(specOf(name));
    const events: ProgressEvent[] = [];
    cluster.onProgress((e) => events.push(e));
    const result = await cluster.destroy();
    expect(result).toMatchObject({ cluster: name, terminated: [], stateRemoved: true });
    const warnings = events.filter((e) => e.type === 'message' && e.level === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({
        message: expect.stringContaining(
          `taking over the stale lock ${lockPath(name)} left by process ${pid} (scale, since 2026-01-01T00:00:00.000Z)`,
        ),
      }),
    ]);
    expect(existsSync(clusterDir(name))).toBe(false);
  });

  it('lets exactly one of many processes take over a stale lock, round after round', async () => {
    const stateDir = join(work, 'state');
    const racers: Array<{ child: ChildProcessWithoutNullStreams; next: () => Promise<string> }> = [];
    try {
      for (let k = 0; k < 6; k += 1) {
        const child = spawn(process.execPath, [join(process.cwd(), 'test/support/lock-racer.mjs')], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
        racers.push({
          child,
          next: async () => {
            const { value, done } = await lines.next();
            if (done) throw new Error(`lock racer ${child.pid} exited`);
            return value as string;
          },
        });
      }
      const tally: Array<{ round: number; held: number; locked: number; other: string[] }> = [];
      for (let round = 0; round < 20; round += 1) {
        const name = newName();
        await mkdir(clusterDir(name), { recursive: true, mode: 0o700 });
        await writeFile(
          lockPath(name),
          JSON.stringify({ pid: deadPid(), hostname: hostname(), operation: 'apply', since: `round ${round}` }),
        );
        for (const r of racers) r.child.stdin.write(`go ${stateDir} ${name}\n`);
        const answers = await Promise.all(racers.map((r) => r.next()));
        tally.push({
          round,
          held: answers.filter((a) => a === 'held').length,
          locked: answers.filter((a) => a === 'locked').length,
          other: answers.filter((a) => a !== 'held' && a !== 'locked'),
        });
        for (const r of racers) r.child.stdin.write('release\n');
        await Promise.all(racers.map((r) => r.next()));
        expect(existsSync(lockPath(name))).toBe(false);
        await rm(clusterDir(name), { recursive: true, force: true });
      }
      expect(tally.filter((t) => t.held !== 1 || t.other.length > 0)).toEqual([]);
    } finally {
      for (const r of racers) {
        r.child.stdin.end('exit\n');
        if (r.child.exitCode === null) r.child.kill();
      }
    }
  });

  it('treats a live pid, another host, and a fresh unreadable lock as held; an old unreadable one as stale', async () => {
    const stateDir = join(work, 'state');
    const name = newName();
    await mkdir(clusterDir(name), { recursive: true, mode: 0o700 });
    const holders = [
      { pid: process.ppid, hostname: hostname(), operation: 'destroy', since: 'x' },
      { pid: deadPid(), hostname: `not-${hostname()}`, operation: 'apply', since: 'y' },
    ];
    for (const holder of holders) {
      await writeFile(lockPath(name), JSON.stringify(holder));
      const error = await errorOf(acquireClusterLock(stateDir, name, 'apply', () => undefined));
      expect(error.code).toBe('LOCKED');
      expect(error.message).toContain(
        `process ${holder.pid} on ${holder.hostname} (${holder.operation}, since ${holder.since})`,
      );
    }
    await writeFile(lockPath(name), '');
    expect((await errorOf(acquireClusterLock(stateDir, name, 'apply', () => undefined))).message).toMatch(
      /locked by another process .*remove /,
    );
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath(name), old, old);
    const stale: unknown[] = [];
    const release = await acquireClusterLock(stateDir, name, 'apply', (holder) => stale.push(holder ?? 'unreadable'));
    expect(stale).toEqual(['unreadable']);
    expect(JSON.parse(readFileSync(lockPath(name), 'utf8'))).toMatchObject({ pid: process.pid, operation: 'apply' });
    await release();
    // The directory existed before the lock: it stays, the lock goes.
    expect(existsSync(lockPath(name))).toBe(false);
    expect(existsSync(clusterDir(name))).toBe(true);
    await rm(clusterDir(name), { recursive: true });
  });

  it('leaves no lock after a failed apply, and none at all for a spec refused up front', async () => {
    const name = newName();
    const cluster = open(specOf(name));
    sim.addFault({ cloud: 'aws', kind: 'capacity' });
    const error = await errorOf(cluster.apply());
    expect(error.code).toBe('CAPACITY_UNAVAILABLE');
    expect(existsSync(lockPath(name))).toBe(false);
    expect(existsSync(join(clusterDir(name), 'pki'))).toBe(true);

    const slurm = newName();
    const refused = open(specOf(slurm, { engine: 'k3s' } as Partial<ClusterSpecInput>));
    const specError = await errorOf(refused.apply());
    expect(specError.code).toBe('SPEC_INVALID');
    expect((await errorOf(refused.scale('m', 2))).code).toBe('SPEC_INVALID');
    expect(existsSync(clusterDir(slurm))).toBe(false);
  });

  it('scale() that fails leaves cluster.spec as it was, and releases the lock', async () => {
    const name = newName();
    const cluster = open(specOf(name));
    const before = cluster.spec;
    const noPool = await errorOf(cluster.scale('nope', 3));
    expect(noPool.code).toBe('SPEC_INVALID');
    expect(noPool.message).toMatch(/no pool named "nope"; pools are: m/);
    expect((await errorOf(cluster.scale('m', -1))).code).toBe('SPEC_INVALID');
    expect(existsSync(clusterDir(name))).toBe(false);

    sim.addFault({ cloud: 'aws', kind: 'capacity' });
    const events: ProgressEvent[] = [];
    cluster.onProgress((e) => events.push(e));
    const failed = await errorOf(cluster.scale('m', 3));
    expect(failed.code).toBe('CAPACITY_UNAVAILABLE');
    // The apply did run (it reached the launch) with the new count, then the old spec came back.
    expect(events.some((e) => e.type === 'phase-start' && e.phase === 'bootstrap-manager')).toBe(true);
    expect(cluster.spec).toBe(before);
    expect(cluster.spec.pools[0]!.count).toBe(1);
    expect(existsSync(lockPath(name))).toBe(false);
    expect((await cluster.plan()).creates.flatMap((c) => c.names)).toEqual([`${name}-m-1`]);
  });
});
