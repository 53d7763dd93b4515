import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, type MigrationResult } from '../src/cluster/index.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { type Endpoint, LoadLoop } from '../src/demo/load.js';
import { SkypoolError } from '../src/errors.js';
import { flatSimRanges } from './support/flat-ranges.js';
import { migrateKilled } from './support/migrate-kill.js';
import { describeIf, requireRoot } from './support/requirements.js';
import { simProviderSettings } from './support/sim-providers.js';

/**
 * The bar of issue 15 for Swarm on cloudsim with the local backing (flat network): a 6-replica HTTP service and
 * the manager on an aws pool, a client on the host sending requests throughout, `migrate --from aws --to gcp`.
 *
 * The client: without the routing mesh (no IPVS here) each replica publishes a dynamic host port on its own node,
 * so no single address survives a move. The client does what a client behind DNS round robin or a health-checking
 * load balancer does: it re-reads the replicas' addresses from the swarm (every 200 ms, and after a failed
 * attempt) and tries every known replica before it counts a request failed. `clientVisibleFailures` counts
 * requests no replica answered; `rawConnectionErrors` (attempts at a replica that had just stopped) is reported.
 *
 * Needs root with docker.io, busybox-static, wireguard-go and wireguard-tools; run under
 * `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({
  files: ['/usr/sbin/dockerd', '/bin/busybox', '/usr/bin/wireguard-go'],
  commands: ['wg'],
});
const suite = describeIf(cannot);

const RANGES = flatSimRanges('migrate');
const GCE_SUBNET = RANGES.gceSubnet;
const name = RANGES.clusterName('mg');
const sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** The anchor process (`sleep infinity`) of the namespace VM on the host whose hostname is `hostname`. */
function anchorOf(hostname: string): string {
  for (const ns of sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean)) {
    // Another VM's namespace may go between the listing and this read (the source is retired at once).
    const pids = (() => {
      try {
        return sh('ip', ['netns', 'pids', ns]);
      } catch {
        return '';
      }
    })();
    const anchor = pids
      .split('\n')
      .filter(Boolean)
      .find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\0infinity\0';
        } catch {
          return false;
        }
      });
    const host = (() => {
      try {
        return anchor ? sh('nsenter', ['-t', anchor, '-u', '--', 'hostname']).trim() : undefined;
      } catch {
        return undefined;
      }
    })();
    if (anchor && host === hostname) return anchor;
  }
  throw new Error(`no namespace VM named ${hostname}`);
}

/** Runs the VM's docker CLI against its own dockerd (its namespaces, via its anchor process). */
function dockerInVm(hostname: string, args: readonly string[]): string {
  return sh('nsenter', [
    '-t',
    anchorOf(hostname),
    '-m',
    '-n',
    '--',
    'docker',
    '-H',
    'unix:///var/run/docker.sock',
    ...args,
  ]);
}

const size = { cpus: 2, memoryGiB: 4 };

const vms = (sim: CloudSim, cloud: 'aws' | 'gcp') =>
  sim
    .inventory()
    .filter((r) => r.cloud === cloud && /^(instance|instances)$/i.test(r.type) && r.state !== 'terminated');

suite('cloudsim local backing: migrate a swarm with its manager from aws to gcp', () => {
  let work: string;
  let sim: CloudSim | undefined;
  let cluster: Cluster | undefined;
  let options: Parameters<typeof Cluster.fromSpec>[1];

  /**
   * The client's view, apart from the cluster that migrates: a read-only Cluster over the same state whose spec
   * names both clouds (listings are per provider), so it finds the replicas wherever they run.
   */
  let watcher: Cluster | undefined;
  /** The pools before the migration: the manager and a worker on aws. */
  const awsPools = [
    { name: 'managers', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
    { name: 'workers', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 1 },
  ] as const;
  /**
   * The client tries every replica before a request counts as failed, and re-reads where they answer once a second
   * and at once after a failed attempt: each read lists the clouds, so a faster one only burns the machine's CPU.
   */
  const CLIENT = { attempts: 6, refreshMs: 1_000 };
  /** Where the replicas of web answer now, read from the swarm. */
  const replicas = async (): Promise<Endpoint[]> => {
    const web = await watcher!.workload('web');
    return (web?.tasks ?? [])
      .filter((t) => t.state === 'running' && t.desiredState === 'running' && t.address && t.hostPort)
      .map((t) => ({ host: t.address!, port: t.hostPort! }));
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-migrate-'));
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    sim = await startCloudSim({ backing: 'local', bootTimeMs: 50 });
    const settings = simProviderSettings(sim, { gcpProject: 'skypool-sim', pollIntervalMs: 50 });
    options = {
      stateDir: join(work, 'state'),
      readyTimeoutMs: 60_000,
      drainTimeoutMs: 90_000,
      routingMesh: false,
      providers: { ...settings, gcp: { ...settings.gcp!, subnetCidr: GCE_SUBNET } },
    };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: awsPools,
        images: [image],
      },
      options,
    );
    watcher = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: [
          { name: 'on-aws', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: 'on-gcp', provider: 'gcp', region: 'us-central1', size, role: 'manager', count: 0 },
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
      await watcher?.close();
      await sim?.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs 6 replicas of web and the manager on aws', async () => {
    await cluster!.apply();
    const web = await cluster!.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 6, port: 8080 });
    expect(web).toMatchObject({ runningReplicas: 6, publishMode: 'host' });
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.engine?.role, n.engine?.state])).toEqual([
      ['aws', 'manager', 'ready'],
      ['aws', 'worker', 'ready'],
    ]);
    expect(await replicas()).toHaveLength(6);
  }, 180_000);

  it('fails safe: no capacity on gcp stops it before the source is touched, naming what failed', async () => {
    // Refused at the insert call: an insert whose operation failed is replayed for the same requestId (GCE's
    // idempotency), and every later launch of these node names would get that failure back.
    sim!.addFault({ cloud: 'gcp', kind: 'capacity', mode: 'sync' });
    const client = new LoadLoop(replicas, CLIENT);
    await client.start();
    let failure: unknown;
    try {
      await cluster!.migrate({ from: 'aws', to: 'gcp' });
    } catch (error) {
      failure = error;
    } finally {
      sim!.clearFaults();
    }
    const load = await client.stop();
    expect(SkypoolError.isInstance(failure)).toBe(true);
    const error = failure as SkypoolError;
    expect(error.code).toBe('CAPACITY_UNAVAILABLE');
    expect(error.message).toMatch(/stopped before touching the source/);
    expect(error.message).toMatch(/managers-gcp \(gcp\)/);
    expect(load.clientVisibleFailures).toBe(0);
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.engine?.availability])).toEqual([
      ['aws', 'active'],
      ['aws', 'active'],
    ]);
    expect(status.workloads.find((w) => w.name === 'web')?.runningReplicas).toBe(6);
    expect(vms(sim!, 'gcp')).toEqual([]);
    expect(cluster!.spec.pools.map((p) => p.name)).toEqual(['managers', 'workers']);
    console.log(`migrate fault: ${error.message.split('\n')[0]} (client: ${JSON.stringify(load)})`);
  }, 240_000);

  it('migrates: every request answered, 0 failed tasks, the managers on gcp, aws empty', async () => {
    const plan = await cluster!.migrate({ from: 'aws', to: 'gcp', dryRun: true });
    expect(plan.plan.create).toHaveLength(2);
    expect(plan.plan.managersLeaving).toHaveLength(1);
    const client = new LoadLoop(replicas, CLIENT);
    await client.start();
    const outcome = await cluster!.migrate({ from: 'aws', to: 'gcp' }).catch((error: unknown) => error);
    const load = await client.stop();
    if (!outcome || typeof outcome !== 'object' || !('plan' in outcome)) throw outcome;
    const result = outcome as MigrationResult;
    console.log(
      `migrate: ${result.durationMs} ms (target provisioned in ${result.provisionMs} ms; ${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')}); client ${JSON.stringify(load)}; services ${JSON.stringify(result.services)}`,
    );
    expect(load.sent).toBeGreaterThan(20);
    expect(load.clientVisibleFailures).toBe(0);
    expect(result.services).toEqual([expect.objectContaining({ service: 'web', replicas: 6, movedTasks: 6 })]);
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role, n.engine?.state]).sort()).toEqual([
      ['gcp', 'managers-gcp', 'manager', 'ready'],
      ['gcp', 'workers-gcp', 'worker', 'ready'],
    ]);
    const manager = status.nodes.find((n) => n.engine?.role === 'manager')!;
    expect(manager.engine?.leader).toBe(true);
    expect(result.managers).toEqual([manager.name]);
    const web = status.workloads.find((w) => w.name === 'web')!;
    expect(web.runningReplicas).toBe(6);
    expect(web.tasks.every((t) => t.node?.startsWith(`${name}-`) && t.node.includes('-gcp-'))).toBe(true);
    // No task of the service ever failed or was rejected (history included).
    const history = dockerInVm(manager.name, ['service', 'ps', 'web', '--format', '{{.CurrentState}} {{.Error}}']);
    expect(history.split('\n').filter((l) => /^(Failed|Rejected)/.test(l))).toEqual([]);
    // The aws side is gone: its VMs, and its VPC with them.
    expect(vms(sim!, 'aws')).toEqual([]);
    expect(sim!.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
    expect(cluster!.spec.pools.map((p) => [p.name, p.provider])).toEqual([
      ['managers-gcp', 'gcp'],
      ['workers-gcp', 'gcp'],
    ]);
  }, 600_000);

  it('plan and status with the spec from before the migration find the managers on gcp; apply refuses', async () => {
    // The spec file as it was before `migrate` (pools on aws), opened over the same state directory.
    const stale = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: awsPools,
      },
      options,
    );
    try {
      const plan = await stale.plan();
      expect(plan.outside?.map((g) => [g.pool, g.provider, g.instances.length])).toEqual([
        ['managers-gcp', 'gcp', 1],
        ['workers-gcp', 'gcp', 1],
      ]);
      expect(plan.creates.map((c) => [c.pool.name, c.pool.provider])).toEqual([
        ['managers', 'aws'],
        ['workers', 'aws'],
      ]);
      expect(plan.migration).toBeUndefined();
      expect(plan.warnings).toEqual([
        expect.stringMatching(/^pool managers-gcp \(gcp, manager\) is not in your spec: 1 VM/),
        expect.stringMatching(/^pool workers-gcp \(gcp, worker\) is not in your spec: 1 VM/),
        expect.stringMatching(
          /runs on gcp \(pool managers-gcp\), where your spec has no pool: apply with this spec refuses/,
        ),
      ]);
      const status = await stale.status();
      expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role, n.engine?.state]).sort()).toEqual([
        ['gcp', 'managers-gcp', 'manager', 'ready'],
        ['gcp', 'workers-gcp', 'worker', 'ready'],
      ]);
      expect(status.workloads.find((w) => w.name === 'web')?.runningReplicas).toBe(6);
      // run reaches the manager on gcp too (the same service again: nothing changes) and says the spec is stale.
      const warnings: string[] = [];
      const off = stale.onProgress((e) => {
        if (e.type === 'message' && e.level === 'warn') warnings.push(e.message);
      });
      const rerun = await stale.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 6, port: 8080 });
      off();
      expect(rerun.runningReplicas).toBe(6);
      expect(warnings).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^pool managers-gcp \(gcp, manager\) is not in your spec/),
          expect.stringMatching(/runs on gcp \(pool managers-gcp\), where your spec has no pool/),
        ]),
      );
      expect((await stale.workload('web'))?.runningReplicas).toBe(6);
      const refused = await stale.apply().catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'ENGINE_ERROR' });
      expect((refused as Error).message).toMatch(/runs on providers your spec names no pool on/);
      // Refused before any network or VM on aws.
      expect(sim!.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
    } finally {
      await stale.close();
    }
  }, 120_000);

  const killMidway = (from: string, to: string, at: RegExp, until?: () => Promise<boolean>) =>
    migrateKilled({ spec: cluster!.spec, options: options!, from, to, at, ...(until ? { until } : {}) });

  it('resumes: a migration back to aws SIGKILLed while the managers move finishes with a rerun', async () => {
    const client = new LoadLoop(replicas, CLIENT);
    await client.start();
    const killedAt = await killMidway('gcp', 'aws', /^message demoting manager/m);
    expect(killedAt).toMatch(/^message demoting manager .*-gcp-1/);
    const outcome = await cluster!.migrate({ from: 'gcp', to: 'aws' }).catch((error: unknown) => error);
    const load = await client.stop();
    if (!outcome || typeof outcome !== 'object' || !('plan' in outcome)) throw outcome;
    const result = outcome as MigrationResult;
    console.log(
      `migrate resumed after SIGKILL at "${killedAt}": ${result.durationMs} ms; client ${JSON.stringify(load)}`,
    );
    expect(result.plan.resumed).toEqual(expect.any(String));
    expect(load.clientVisibleFailures).toBe(0);
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role, n.engine?.state]).sort()).toEqual([
      ['aws', 'managers-gcp-aws', 'manager', 'ready'],
      ['aws', 'workers-gcp-aws', 'worker', 'ready'],
    ]);
    expect(status.nodes.find((n) => n.engine?.role === 'manager')?.engine?.leader).toBe(true);
    expect(status.workloads.find((w) => w.name === 'web')?.runningReplicas).toBe(6);
    expect(vms(sim!, 'gcp')).toEqual([]);
  }, 600_000);
  it('resumes: a migration to gcp SIGKILLed while the services move finishes with a rerun, every request answered', async () => {
    const client = new LoadLoop(replicas, CLIENT);
    await client.start();
    const onTarget = async () => {
      const web = await watcher!.workload('web');
      return (web?.tasks ?? []).some((t) => t.state === 'running' && t.node?.includes('-gcp-aws-gcp-'));
    };
    const killedAt = await killMidway('aws', 'gcp', /^phase move-services/m, onTarget);
    expect(killedAt).toBe('phase move-services');
    const outcome = await cluster!.migrate({ from: 'aws', to: 'gcp' }).catch((error: unknown) => error);
    const load = await client.stop();
    if (!outcome || typeof outcome !== 'object' || !('plan' in outcome)) throw outcome;
    const result = outcome as MigrationResult;
    console.log(`migrate resumed after SIGKILL in the drain: ${result.durationMs} ms; client ${JSON.stringify(load)}`);
    expect(result.plan.resumed).toEqual(expect.any(String));
    expect(load.clientVisibleFailures).toBe(0);
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.provider, n.pool, n.engine?.role, n.engine?.state]).sort()).toEqual([
      ['gcp', 'managers-gcp-aws-gcp', 'manager', 'ready'],
      ['gcp', 'workers-gcp-aws-gcp', 'worker', 'ready'],
    ]);
    const manager = status.nodes.find((n) => n.engine?.role === 'manager')!;
    expect(manager.engine?.leader).toBe(true);
    const web = status.workloads.find((w) => w.name === 'web')!;
    expect(web.runningReplicas).toBe(6);
    expect(web.tasks.every((t) => t.node?.includes('-gcp-aws-gcp-'))).toBe(true);
    const history = dockerInVm(manager.name, ['service', 'ps', 'web', '--format', '{{.CurrentState}} {{.Error}}']);
    expect(history.split('\n').filter((l) => /^(Failed|Rejected)/.test(l))).toEqual([]);
    expect(vms(sim!, 'aws')).toEqual([]);
  }, 600_000);

  it('rolls back: a migration to aws interrupted before retiring gcp returns to gcp and removes the aws VMs', async () => {
    const client = new LoadLoop(replicas, CLIENT);
    await client.start();
    const killedAt = await killMidway('gcp', 'aws', /^phase move-managers/m);
    expect(killedAt).toBe('phase move-managers');
    const outcome = await cluster!.migrate({ from: 'gcp', to: 'aws', rollback: true }).catch((error: unknown) => error);
    const load = await client.stop();
    if (!outcome || typeof outcome !== 'object' || !('plan' in outcome)) throw outcome;
    const result = outcome as MigrationResult;
    console.log(
      `migrate rolled back: ${result.durationMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')}); client ${JSON.stringify(load)}`,
    );
    expect(result.rolledBack).toBe(true);
    expect(result.terminated).toHaveLength(2);
    expect(load.clientVisibleFailures).toBe(0);
    const status = await cluster!.status();
    expect(
      status.nodes.map((n) => [n.provider, n.pool, n.engine?.role, n.engine?.state, n.engine?.availability]).sort(),
    ).toEqual([
      ['gcp', 'managers-gcp-aws-gcp', 'manager', 'ready', 'active'],
      ['gcp', 'workers-gcp-aws-gcp', 'worker', 'ready', 'active'],
    ]);
    expect(status.nodes.find((n) => n.engine?.role === 'manager')?.engine?.leader).toBe(true);
    const web = status.workloads.find((w) => w.name === 'web')!;
    expect(web.runningReplicas).toBe(6);
    expect(web.tasks.every((t) => t.node?.includes('-gcp-aws-gcp-'))).toBe(true);
    expect(vms(sim!, 'aws')).toEqual([]);
    expect(sim!.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
    expect(cluster!.spec.pools.map((p) => p.provider)).toEqual(['gcp', 'gcp']);

    // Nothing to roll back now; and a finished migration (its source retired) is refused with its own code.
    const none = await cluster!.migrate({ from: 'gcp', to: 'aws', rollback: true }).catch((error: unknown) => error);
    expect(none).toMatchObject({ code: 'NOT_FOUND' });
    const finished = await cluster!
      .migrate({ from: 'aws', to: 'gcp', rollback: true })
      .catch((error: unknown) => error);
    expect(finished).toMatchObject({ code: 'MIGRATION_NOT_REVERSIBLE' });
    expect((finished as Error).message).toMatch(/Migrate back instead/);
  }, 600_000);
});
