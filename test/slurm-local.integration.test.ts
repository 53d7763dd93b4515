import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeName, DEFAULT_STATE_ROOT, netnsName } from '../providers/local/index.js';
import { vmDir } from '../providers/local/paths.js';
import { userDataFiles } from '../providers/local/user-data.js';
import { Cluster, type JobStatus, type ProgressEvent } from '../src/cluster/index.js';
import { requirements } from '../src/engines/slurm/index.js';
import { SpecError } from '../src/errors.js';
import { pollUntil } from '../src/util/poll.js';

/**
 * A real Slurm pool on the local provider: a controller VM (munged + slurmctld, configless) and three dynamic
 * nodes (munged + slurmd -Z) in network namespaces. Needs root on Linux with slurm-wlm and munge
 * (scripts/prelude.sh --local installs them). Run under `flock /tmp/skypool-ns.lock`.
 */
const onPath = (command: string): boolean =>
  ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => existsSync(join(dir, command)));
const missing = requirements.commands.filter((c) => !onPath(c));
const canRun = process.platform === 'linux' && process.getuid?.() === 0 && missing.length === 0;
const reason =
  process.platform !== 'linux' || process.getuid?.() !== 0
    ? 'needs root on Linux'
    : `missing ${missing.join(', ')}: install Debian's ${requirements.packages.join(' and ')} (run \`npm run prelude -- --local\` as root)`;

if (!canRun && process.env.CI === 'true') {
  // In CI the prelude installs the packages: a suite that cannot run is a failure with its reason.
  describe('slurm on the local provider', () => {
    it('can run here', () => {
      throw new Error(`slurm-local.integration cannot run: ${reason}`);
    });
  });
} else if (!canRun) {
  process.stderr.write(`slurm-local.integration: skipped: ${reason}\n`);
  describe.skip('slurm on the local provider', () => {
    it('needs slurm', () => undefined);
  });
} else {
  suite();
}

function suite(): void {
  const name = `sl${process.pid % 100000}${Math.random().toString(36).slice(2, 6)}`;
  const controller = `${name}-ctl-1`;
  const workers = [`${name}-nodes-1`, `${name}-nodes-2`, `${name}-nodes-3`];

  /** Every process in a VM's network namespace (munged, slurmctld/slurmd, job steps). */
  const pidsOf = (node: string): number[] =>
    execFileSync('ip', ['netns', 'pids', netnsName(name, node)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  const alive = (pid: number): boolean =>
    existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

  describe('slurm on the local provider', () => {
    let work: string;
    let cluster: Cluster;
    const events: ProgressEvent[] = [];
    const vmPids: number[] = [];

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'skypool-slurm-it-'));
      cluster = Cluster.fromSpec(
        {
          name,
          engine: 'slurm',
          pools: [
            { name: 'ctl', provider: 'local', role: 'manager', count: 1 },
            { name: 'nodes', provider: 'local', role: 'worker', count: 3, labels: { tier: 'batch' } },
          ],
        },
        { stateDir: join(work, 'state'), readyTimeoutMs: 60_000, drainTimeoutMs: 30_000 },
      );
      cluster.onProgress((e) => events.push(e));
    });

    afterAll(async () => {
      try {
        await cluster?.destroy();
      } finally {
        await cluster?.close();
        await rm(work, { recursive: true, force: true });
      }
    }, 60_000);

    it('applies 1 controller + 3 dynamic nodes: all register idle, with their labels as features', async () => {
      const result = await cluster.apply();
      process.stderr.write(
        `slurm pool ready in ${result.durationMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')})\n`,
      );
      expect(result.created.slice().sort()).toEqual([controller, ...workers].sort());
      const status = await cluster.status();
      const byName = new Map(status.nodes.map((n) => [n.name, n]));
      expect(byName.get(controller)?.engine?.role).toBe('manager');
      for (const w of workers) {
        expect(byName.get(w)?.engine).toMatchObject({ state: 'ready', engineState: 'idle' });
        expect(byName.get(w)?.engine?.labels).toMatchObject({ tier: 'batch', pool: 'nodes', provider: 'local' });
      }
      for (const node of [controller, ...workers]) vmPids.push(...pidsOf(node));
      // The munge key is a 0400 file the SDK wrote into each VM: the same on every node, never in the user-data.
      const keys = [controller, ...workers].map((node) => {
        const dir = vmDir(DEFAULT_STATE_ROOT, name, node);
        const file = join(dir, 'fs', 'etc', 'skypool', 'munge', 'munge.key');
        expect((statSync(file).mode & 0o777).toString(8)).toBe('400');
        const key = readFileSync(file).toString('base64');
        expect(readFileSync(userDataFiles(dir).script, 'utf8')).not.toContain(key);
        return key;
      });
      expect(new Set(keys).size).toBe(1);

      // A second apply with the same spec changes nothing.
      expect((await cluster.apply()).changed).toBe(false);
    }, 120_000);

    it('refuses a service on slurm, naming workload.kind', async () => {
      await expect(cluster.run({ name: 'web', image: 'x', replicas: 1 })).rejects.toBeInstanceOf(SpecError);
      await expect(cluster.run({ name: 'web', image: 'x', replicas: 1 })).rejects.toThrow(/workload\.kind/);
    });

    it('runs a 3-node batch job: srun -N3 hostname answers from all three nodes', async () => {
      const t0 = performance.now();
      const job = await cluster.run({
        kind: 'job',
        name: 'hostnames',
        nodes: 3,
        tasks: 3,
        timeLimitMinutes: 2,
        script: '#!/bin/sh\nsrun -N3 hostname | sort\n',
      });
      process.stderr.write(`slurm: srun -N3 hostname job ended in ${Math.round(performance.now() - t0)} ms\n`);
      expect(job.state).toBe('completed');
      expect(job.exitCode).toBe(0);
      expect(job.nodes.slice().sort()).toEqual(workers);
      expect(job.output?.trim().split('\n')).toEqual(workers);
      expect(new Set(job.output?.trim().split('\n')).size).toBe(3);
      const status = await cluster.status();
      expect(status.jobs?.some((j) => j.id === job.id && j.state === 'completed')).toBe(true);
    }, 120_000);

    it('scales to 2 nodes: the leaving node is drained, the job running on it finishes first', async () => {
      const queued = (await cluster.run({
        kind: 'job',
        name: 'sleeper',
        nodes: 3,
        timeLimitMinutes: 2,
        wait: false,
        script: '#!/bin/sh\nsrun sleep 2\necho slept\n',
      })) as JobStatus;
      // Wait until it runs on both nodes, so the drain has a job to wait for.
      await pollUntil(
        async () => {
          const job = (await cluster.status()).jobs?.find((j) => j.id === queued.id);
          return job?.state === 'running' ? job : undefined;
        },
        { deadline: Date.now() + 30_000, intervalMs: 100, what: `job ${queued.id} to run` },
      );
      const result = await cluster.scale('nodes', 2);
      expect(result.deleted).toEqual([workers[2]]);
      expect(result.drains).toHaveLength(1);
      expect(result.drains[0]).toMatchObject({ node: workers[2], movedTasks: 1 });
      expect(result.drains[0]!.requeued ?? 0).toBe(0);
      expect(events.some((e) => e.type === 'node' && e.node === workers[2] && e.state === 'drained')).toBe(true);
      const status = await cluster.status();
      const survived = status.jobs?.find((j) => j.id === queued.id);
      expect(survived).toMatchObject({ state: 'completed', exitCode: 0 });
      expect(survived?.nodes.slice().sort()).toEqual(workers);
      expect(status.nodes.map((n) => n.name).sort()).toEqual([controller, workers[0], workers[1]].sort());
      expect(readdirSync('/run/netns')).not.toContain(netnsName(name, workers[2]!));
    }, 120_000);

    it('scales back to 3 and, with a short drain deadline, requeues a job that would not finish', async () => {
      const up = await cluster.scale('nodes', 3);
      expect(up.created).toEqual([workers[2]]);
      for (const node of [workers[2]!]) vmPids.push(...pidsOf(node));
      // Same cluster, another handle with a 2 s drain deadline (the lock serialises the two).
      const impatient = Cluster.fromSpec(cluster.spec, {
        stateDir: join(work, 'state'),
        readyTimeoutMs: 60_000,
        drainTimeoutMs: 2_000,
      });
      try {
        const long = (await impatient.run({
          kind: 'job',
          name: 'long',
          nodes: 3,
          timeLimitMinutes: 5,
          wait: false,
          script: '#!/bin/sh\nsrun sleep 120\n',
        })) as JobStatus;
        await pollUntil(
          async () => {
            const job = (await impatient.status()).jobs?.find((j) => j.id === long.id);
            return job?.state === 'running' ? job : undefined;
          },
          { deadline: Date.now() + 30_000, intervalMs: 100, what: `job ${long.id} to run` },
        );
        const down = await impatient.scale('nodes', 2);
        expect(down.drains[0]).toMatchObject({ node: workers[2], movedTasks: 1, requeued: 1 });
        // Requeued: back in the queue (it needs 3 nodes, 2 are left, so it waits there).
        const job = (await impatient.status()).jobs?.find((j) => j.id === long.id);
        expect(['pending', 'requeued']).toContain(job?.state);
      } finally {
        await impatient.close();
      }
    }, 120_000);

    it('destroy leaves nothing behind', async () => {
      const result = await cluster.destroy();
      expect(result.terminated.slice().sort()).toEqual([controller, workers[0], workers[1]].sort());
      expect(readdirSync('/run/netns').filter((n) => n.includes(name))).toEqual([]);
      expect(existsSync(`/sys/class/net/${bridgeName(name)}`)).toBe(false);
      expect(vmPids.filter(alive)).toEqual([]);
      expect(
        readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((l) => l.includes(name)),
      ).toEqual([]);
      expect(existsSync(join(work, 'state', 'clusters', name))).toBe(false);
      expect(existsSync(join(DEFAULT_STATE_ROOT, name))).toBe(false);
    }, 60_000);
  });
}
