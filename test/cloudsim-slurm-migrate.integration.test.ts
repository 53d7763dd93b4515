import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, type MigrationResult } from '../src/cluster/index.js';
import type { JobStatus } from '../src/engines/types.js';
import { pollUntil } from '../src/util/poll.js';
import { flatSimRanges } from './support/flat-ranges.js';
import { migrateKilled } from './support/migrate-kill.js';
import { describeIf, requireRoot } from './support/requirements.js';
import { simProviderSettings } from './support/sim-providers.js';

/**
 * The Slurm half of issue 15's bar on cloudsim with the local backing (flat network): the controller and a node
 * on an aws pool, a batch job running (it writes its progress), `migrate --from aws --to gcp`. The drain deadline
 * is shorter than the job, so the job is requeued onto the gcp node; the controller then moves with its saved
 * state (slurmctld stops on aws, its StateSaveLocation is copied to the gcp controller, which starts with it) while
 * the requeued job runs, and the job completes with exit 0 under the moved controller. The aws side ends empty.
 *
 * Needs root with docker.io, busybox-static, wireguard-go, wireguard-tools, slurm-wlm and munge; run under
 * `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({
  files: ['/usr/sbin/dockerd', '/bin/busybox', '/usr/bin/wireguard-go', '/usr/sbin/munged', '/usr/sbin/slurmctld'],
  commands: ['wg'],
});
const suite = describeIf(cannot);

const RANGES = flatSimRanges('slurm-migrate');
const GCE_SUBNET = RANGES.gceSubnet;
const name = RANGES.clusterName('sm');
const STEPS = 25;

const vms = (sim: CloudSim, cloud: 'aws' | 'gcp') =>
  sim
    .inventory()
    .filter((r) => r.cloud === cloud && /^(instance|instances)$/i.test(r.type) && r.state !== 'terminated');

suite('cloudsim local backing: migrate a slurm cluster with a running job from aws to gcp', () => {
  let work: string;
  let sim: CloudSim | undefined;
  let cluster: Cluster | undefined;
  let job: JobStatus | undefined;
  let options: Parameters<typeof Cluster.fromSpec>[1];
  const jobScript = `#!/bin/sh\necho "start on $(hostname)"\nfor i in $(seq 1 ${STEPS}); do echo "step $i"; sleep 1; done\necho done\n`;
  /** Polls the cluster until the job is in a state `done` accepts. */
  const jobWhen = (id: string, done: (j: JobStatus) => boolean, what: string, ms = 30_000) =>
    pollUntil(
      async () => {
        const [now] = (await cluster!.status()).jobs?.filter((j) => j.id === id) ?? [];
        return now && done(now) ? now : undefined;
      },
      { deadline: Date.now() + ms, intervalMs: 500, what },
    );
  /** Submits a job of STEPS seconds that writes its progress (no waiting). */
  const runJob = (jobName: string) =>
    cluster!.run({ kind: 'job', name: jobName, timeLimitMinutes: 5, wait: false, script: jobScript });
  const migrateKilledAt = (from: string, to: string, at: RegExp) =>
    migrateKilled({ spec: cluster!.spec, options: options!, from, to, at });
  const ended = (j: JobStatus) => !['pending', 'running', 'completing', 'requeued'].includes(j.state);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-slurm-migrate-'));
    sim = await startCloudSim({ backing: 'local', bootTimeMs: 50 });
    const settings = simProviderSettings(sim, { gcpProject: 'skypool-sim', pollIntervalMs: 50 });
    const size = { cpus: 2, memoryGiB: 4 };
    options = {
      stateDir: join(work, 'state'),
      readyTimeoutMs: 60_000,
      // Shorter than the job: it is requeued onto the target.
      drainTimeoutMs: 4_000,
      providers: { ...settings, gcp: { ...settings.gcp!, subnetCidr: GCE_SUBNET } },
    };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'slurm',
        pools: [
          { name: 'ctl', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: 'nodes', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 1 },
        ],
      },
      options,
    );
  }, 60_000);

  afterAll(async () => {
    try {
      await cluster?.destroy();
    } finally {
      await cluster?.close();
      await sim?.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs the controller and a node on aws, and a job that writes its progress', async () => {
    const t0 = Date.now();
    await cluster!.apply();
    const applyMs = Date.now() - t0;
    job = await runJob('progress');
    const running = await jobWhen(job.id, (j) => j.state === 'running', 'the job to run');
    expect(running.nodes).toHaveLength(1);
    expect(running.nodes[0]).not.toContain('-gcp-');
    console.log(`slurm migrate: applied in ${applyMs} ms, job ${job.id} running on ${running.nodes[0]}`);
  }, 240_000);

  it('migrates: the job requeued onto gcp completes with exit 0, the controller on gcp, aws empty', async () => {
    const plan = await cluster!.migrate({ from: 'aws', to: 'gcp', dryRun: true });
    expect(plan.plan.managersLeaving).toHaveLength(1);
    expect(plan.plan.mappings.map((m) => m.target.pool).sort()).toEqual(['ctl-gcp', 'nodes-gcp']);
    const t0 = Date.now();
    const result: MigrationResult = await cluster!.migrate({ from: 'aws', to: 'gcp' });
    console.log(
      `slurm migrate: ${result.durationMs} ms (target provisioned in ${result.provisionMs} ms; ${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')}); jobs ${JSON.stringify(result.jobs)}`,
    );
    expect(Date.now() - t0).toBeLessThan(180_000);
    expect(result.jobs).toEqual([
      expect.objectContaining({
        job: job!.id,
        name: 'progress',
        requeued: true,
        toNodes: [expect.stringContaining('-nodes-gcp-')],
      }),
    ]);
    expect(result.phases.map((p) => p.phase)).toEqual(
      expect.arrayContaining(['provision-target', 'move-jobs', 'move-controller', 'retire-source']),
    );
    // The moved controller knows the job and lets it finish.
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role]).sort()).toEqual([
      ['gcp', 'ctl-gcp', 'manager'],
      ['gcp', 'nodes-gcp', 'worker'],
    ]);
    expect(result.managers).toEqual([status.nodes.find((n) => n.engine?.role === 'manager')!.name]);
    const end = await jobWhen(job!.id, ended, `job ${job!.id} to end`, 90_000);
    expect(end).toMatchObject({ state: 'completed', exitCode: 0 });
    const output = await cluster!.jobOutput(job!.id);
    expect(output).toContain(`step ${STEPS}`);
    expect(output.trim().split('\n').pop()).toBe('done');
    expect(vms(sim!, 'aws')).toEqual([]);
    expect(sim!.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
    expect(cluster!.spec.pools.map((p) => [p.name, p.provider])).toEqual([
      ['ctl-gcp', 'gcp'],
      ['nodes-gcp', 'gcp'],
    ]);
    console.log(`slurm migrate: job ${job!.id} ended ${end.state} exit ${end.exitCode} after ${Date.now() - t0} ms`);
  }, 300_000);

  it('resumes: a migration back to aws SIGKILLed between stopping slurmctld and starting it on the target finishes with a rerun', async () => {
    const second = await runJob('again');
    await jobWhen(second.id, (j) => j.state === 'running', 'the second job to run');
    const killedAt = await migrateKilledAt('gcp', 'aws', /^message slurmctld on .* stopped and its state saved/m);
    expect(killedAt).toMatch(/-ctl-gcp-1 stopped/);
    // Neither controller answers now: the rerun reads the record from the state the stopped one saved.
    const t0 = Date.now();
    const result = await cluster!.migrate({ from: 'gcp', to: 'aws' });
    console.log(
      `slurm migrate resumed after SIGKILL at "${killedAt}": ${result.durationMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')})`,
    );
    expect(result.plan.resumed).toEqual(expect.any(String));
    // It went on from the controller move: a stopped controller stays down, so nothing names it backup again. The
    // drain runs again (against the target controller) only when the state had reached the target before the kill.
    expect(result.phases.map((p) => p.phase)).not.toContain('cordon');
    expect(result.phases.map((p) => p.phase)).toContain('move-controller');
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role]).sort()).toEqual([
      ['aws', 'ctl-gcp-aws', 'manager'],
      ['aws', 'nodes-gcp-aws', 'worker'],
    ]);
    const end = await jobWhen(second.id, ended, `job ${second.id} to end`, 90_000);
    expect(end).toMatchObject({ state: 'completed', exitCode: 0 });
    expect((await cluster!.jobOutput(second.id)).trim().split('\n').pop()).toBe('done');
    expect(vms(sim!, 'gcp')).toEqual([]);
    console.log(
      `slurm migrate: job ${second.id} ended ${end.state} exit ${end.exitCode} ${Date.now() - t0} ms after the rerun started`,
    );
  }, 300_000);
  it('rolls back: a migration to gcp SIGKILLed once the controller moved returns to aws with --rollback', async () => {
    const third = await runJob('back');
    await jobWhen(third.id, (j) => j.state === 'running', 'the third job to run');
    const before = await cluster!.status();
    const sourceNodes = before.nodes.map((n) => n.name).sort();
    const sourceController = before.nodes.find((n) => n.engine?.role === 'manager')!.name;
    const sourceWorker = before.nodes.find((n) => n.engine?.role === 'worker')!.name;
    // Killed once slurmctld runs on gcp with the state: the job was requeued onto the gcp node before that.
    const killedAt = await migrateKilledAt('aws', 'gcp', /^message slurmctld moved from .* with its state$/m);
    expect(killedAt).toMatch(new RegExp(`moved from ${sourceController} to \\S+-ctl-gcp-aws-gcp-1 `));
    expect(vms(sim!, 'gcp')).toHaveLength(2);

    const t0 = Date.now();
    // Its progress, printed when it fails.
    const said: string[] = [];
    const off = cluster!.onProgress((e) => {
      if (e.type === 'message' || e.type === 'phase-start') said.push(e.type === 'message' ? e.message : e.phase);
    });
    const result = await cluster!
      .migrate({ from: 'aws', to: 'gcp', rollback: true })
      .catch((error: unknown) => {
        console.log(`slurm rollback failed; its progress:\n${said.join('\n')}`);
        throw error;
      })
      .finally(off);
    console.log(
      `slurm migrate rolled back after SIGKILL at "${killedAt}": ${result.durationMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')}); jobs ${JSON.stringify(result.jobs)}`,
    );
    expect(result.rolledBack).toBe(true);
    expect(result.phases.map((p) => p.phase)).toEqual(
      expect.arrayContaining(['move-controller', 'restore-source', 'cordon', 'move-jobs', 'retire-target']),
    );
    expect(result.managers).toEqual([sourceController]);
    expect(result.terminated).toHaveLength(2);
    // The job ran on the gcp node when the rollback started: requeued onto the aws node.
    expect(result.jobs).toEqual([expect.objectContaining({ job: third.id, requeued: true, toNodes: [sourceWorker] })]);
    const running = await jobWhen(third.id, (j) => j.state === 'running' || ended(j), 'the third job on aws');
    expect(running).toMatchObject({ state: 'running', nodes: [sourceWorker] });
    // slurmctld answers on the aws controller; only the aws nodes are left, taking jobs again.
    const status = await cluster!.status();
    expect(status.nodes.map((n) => n.name).sort()).toEqual(sourceNodes);
    expect(
      status.nodes.map((n) => [n.provider, n.engine?.role, n.engine?.state, n.engine?.availability]).sort(),
    ).toEqual([
      ['aws', 'manager', 'ready', 'active'],
      ['aws', 'worker', 'ready', 'active'],
    ]);
    expect(vms(sim!, 'gcp')).toEqual([]);
    expect(cluster!.spec.pools.map((p) => p.provider)).toEqual(['aws', 'aws']);
    // Nothing left to roll back.
    await expect(cluster!.migrate({ from: 'aws', to: 'gcp', rollback: true })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    console.log(`slurm migrate: rollback checked ${Date.now() - t0} ms after it started`);
  }, 240_000);
});
