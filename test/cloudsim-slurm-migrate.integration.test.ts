import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vpcCidr } from '../providers/aws/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, type MigrationResult } from '../src/cluster/index.js';
import type { JobStatus } from '../src/engines/types.js';
import { pollUntil } from '../src/util/poll.js';
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

const GCE_SUBNET = '10.128.0.0/20';
function clusterName(): string {
  for (;;) {
    const name = `sm${process.pid % 10000}${Math.random().toString(36).slice(2, 6)}`;
    if (vpcCidr(name) !== '10.128.0.0/16') return name;
  }
}
const name = clusterName();
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

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-slurm-migrate-'));
    sim = await startCloudSim({ backing: 'local', bootTimeMs: 50 });
    const settings = simProviderSettings(sim, { gcpProject: 'skypool-sim', pollIntervalMs: 50 });
    const size = { cpus: 2, memoryGiB: 4 };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'slurm',
        pools: [
          { name: 'ctl', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: 'nodes', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 1 },
        ],
      },
      {
        stateDir: join(work, 'state'),
        readyTimeoutMs: 60_000,
        // Shorter than the job: it is requeued onto the target.
        drainTimeoutMs: 4_000,
        providers: { ...settings, gcp: { ...settings.gcp!, subnetCidr: GCE_SUBNET } },
      },
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
    job = await cluster!.run({
      kind: 'job',
      name: 'progress',
      timeLimitMinutes: 5,
      wait: false,
      script: `#!/bin/sh\necho "start on $(hostname)"\nfor i in $(seq 1 ${STEPS}); do echo "step $i"; sleep 1; done\necho done\n`,
    });
    const running = await pollUntil(
      async () => {
        const [now] = (await cluster!.status()).jobs?.filter((j) => j.id === job!.id) ?? [];
        return now?.state === 'running' ? now : undefined;
      },
      { deadline: Date.now() + 30_000, intervalMs: 250, what: 'the job to run' },
    );
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
    const ended = await pollUntil(
      async () => {
        const [now] = (await cluster!.status()).jobs?.filter((j) => j.id === job!.id) ?? [];
        return now && !['pending', 'running', 'completing', 'requeued'].includes(now.state) ? now : undefined;
      },
      { deadline: Date.now() + 90_000, intervalMs: 500, what: `job ${job!.id} to end` },
    );
    expect(ended).toMatchObject({ state: 'completed', exitCode: 0 });
    const output = await cluster!.jobOutput(job!.id);
    expect(output).toContain(`step ${STEPS}`);
    expect(output.trim().split('\n').pop()).toBe('done');
    expect(vms(sim!, 'aws')).toEqual([]);
    expect(sim!.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
    expect(cluster!.spec.pools.map((p) => [p.name, p.provider])).toEqual([
      ['ctl-gcp', 'gcp'],
      ['nodes-gcp', 'gcp'],
    ]);
    console.log(
      `slurm migrate: job ${job!.id} ended ${ended.state} exit ${ended.exitCode} after ${Date.now() - t0} ms`,
    );
  }, 300_000);
});
