import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureClusterPki } from '../src/bootstrap/cluster-pki.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { recordFootprint } from '../src/cluster/footprint.js';
import { Cluster, SkypoolError } from '../src/index.js';
import { loadProvider } from '../src/providers/registry.js';
import type { Provider } from '../src/providers/types.js';
import { pollUntil, within } from '../src/util/poll.js';
import { simProviderSettings } from './support/sim-providers.js';

// A spec written before `migrate` (its pools on aws) while the cluster runs on gcp: plan, status and the commands
// that talk to the engine (run, workload, jobOutput) find the VMs on gcp (the options configure it; the state directory's record names it), never throw, and say what the spec
// does not describe; apply refuses instead of starting a second pool on aws. No engine runs here (virtual
// cloudsim): the manager on gcp does not answer, the path `plan` takes when truly nothing answers.
describe('plan and status with a spec that no longer names where the cluster runs', () => {
  let sim: CloudSim;
  let gcp: Provider;
  let aws: Provider;
  let stateDir: string;
  let options: Parameters<typeof Cluster.fromSpec>[1];
  const name = 'beyond';
  const spec = {
    name,
    engine: 'swarm' as const,
    pools: [
      {
        name: 'managers',
        provider: 'aws' as const,
        region: 'us-east-1',
        role: 'manager' as const,
        count: 1,
        instanceType: 't3.micro',
      },
      {
        name: 'workers',
        provider: 'aws' as const,
        region: 'us-east-1',
        role: 'worker' as const,
        count: 1,
        instanceType: 't3.micro',
      },
    ],
  };

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20, seed: 11 });
    const settings = simProviderSettings(sim, { gcpProject: 'skypool-sim', pollIntervalMs: 20 });
    stateDir = await mkdtemp(join(tmpdir(), 'skypool-beyond-'));
    options = { stateDir, readyTimeoutMs: 1_500, providers: { aws: settings.aws!, gcp: settings.gcp! } };
    // The cluster was made here: its CA is in this state directory.
    await ensureClusterPki(stateDir, name);
    gcp = await loadProvider('gcp', settings.gcp);
    aws = await loadProvider('aws', settings.aws);
    const network = await gcp.ensureNetwork(name);
    const pool = { name: 'managers-gcp', provider: 'gcp' as const, region: 'us-central1', role: 'manager' as const };
    const launched = await gcp.runInstances({
      cluster: name,
      pool: { ...pool, count: 1, instanceType: 'e2-small' },
      tags: { cluster: name, pool: pool.name, role: 'manager', specHash: 'moved' },
      network,
      nodes: [{ name: `${name}-managers-gcp-1` }],
      userData: '#!/bin/sh\ntrue\n',
      idempotencyToken: 'beyond-m1',
    });
    await gcp.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
  }, 60_000);

  afterAll(async () => {
    try {
      const left = await gcp.listInstances(name);
      if (left.length) await gcp.terminateInstances(left.map((i) => i.id));
      await gcp.deleteNetwork(name);
      await aws.deleteNetwork(name);
    } finally {
      await gcp?.close?.();
      await aws?.close?.();
      await sim?.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('plan does not throw: it shows the gcp pool the spec lacks and warns that no manager answers', async () => {
    const cluster = Cluster.fromSpec(spec, options);
    try {
      const plan = await cluster.plan();
      expect(plan.creates.map((c) => [c.pool.name, c.pool.provider, c.names])).toEqual([
        ['managers', 'aws', [`${name}-managers-1`]],
        ['workers', 'aws', [`${name}-workers-1`]],
      ]);
      expect(plan.outside?.map((g) => [g.pool, g.provider, g.instances.map((i) => i.name)])).toEqual([
        ['managers-gcp', 'gcp', [`${name}-managers-gcp-1`]],
      ]);
      expect(plan.warnings).toEqual([
        expect.stringMatching(/^pool managers-gcp \(gcp, manager\) is not in your spec: 1 VM\(s\) run there/),
        expect.stringMatching(/^no manager of cluster beyond answers on the providers your spec names, nor on gcp/),
      ]);

      const status = await cluster.status();
      expect(status.nodes.map((n) => [n.name, n.provider, n.pool])).toEqual([
        [`${name}-managers-gcp-1`, 'gcp', 'managers-gcp'],
      ]);
      expect(status.notes).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^pool managers-gcp \(gcp, manager\) is not in your spec/),
          expect.stringMatching(/^no manager answers on its engine API/),
        ]),
      );
    } finally {
      await cluster.close();
    }
  }, 60_000);

  it('apply refuses to start a second pool when the state directory put the cluster on gcp', async () => {
    await recordFootprint(stateDir, name, [{ provider: 'gcp', region: 'us-central1' }]);
    const cluster = Cluster.fromSpec(spec, options);
    try {
      const failure = await cluster.apply().catch((error: unknown) => error);
      expect(SkypoolError.isInstance(failure) && failure.code).toBe('ENGINE_ERROR');
      expect((failure as Error).message).toMatch(
        /cluster beyond runs on providers your spec names no pool on \(pool managers-gcp on gcp: 1 VM\(s\)\)/,
      );
      // Refused before any network or VM on aws.
      expect(await aws.listInstances(name)).toEqual([]);
      expect(sim.inventory().filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === name)).toEqual([]);
      const plan = await cluster.plan();
      expect(plan.outside?.map((g) => g.pool)).toEqual(['managers-gcp']);
    } finally {
      await cluster.close();
    }
  }, 60_000);

  it('run, workload and jobOutput look for the manager where status does and warn that the spec is stale', async () => {
    // The footprint names gcp (the case before recorded it): the manager is looked for there, not only on aws.
    const stale = /^pool managers-gcp \(gcp, manager\) is not in your spec: 1 VM\(s\) run there/;
    const silent =
      /^no manager of cluster beyond answers: its manager VM\(s\) beyond-managers-gcp-1 \(gcp, running\) do not answer/;
    for (const engine of ['swarm', 'slurm'] as const) {
      const cluster = Cluster.fromSpec({ ...spec, engine }, options);
      const warnings: string[] = [];
      cluster.onProgress((e) => {
        if (e.type === 'message' && e.level === 'warn') warnings.push(e.message);
      });
      try {
        const failure = await (engine === 'swarm'
          ? cluster.run({ name: 'web', image: 'skypool/httpd:1', replicas: 1 })
          : cluster.jobOutput('1')
        ).catch((error: unknown) => error);
        expect(SkypoolError.isInstance(failure) && failure.code).toBe('ENGINE_ERROR');
        expect((failure as Error).message).toMatch(silent);
        expect(warnings).toEqual([expect.stringMatching(stale)]);
        if (engine === 'swarm') {
          expect(await cluster.workload('web')).toBeUndefined();
          expect(warnings).toEqual([expect.stringMatching(stale), expect.stringMatching(stale)]);
        }
      } finally {
        await cluster.close();
      }
    }
  }, 60_000);

  it('destroy with that spec terminates the VMs on gcp too: the state it removes is their only key', async () => {
    const cluster = Cluster.fromSpec(spec, options);
    try {
      const result = await cluster.destroy();
      expect(result.terminated).toEqual([`${name}-managers-gcp-1`]);
      expect(result.networksDeleted).toEqual(['aws', 'gcp']);
      await pollUntil(async () => ((await gcp.listInstances(name)).length === 0 ? true : undefined), {
        ...within(20_000),
        intervalMs: 50,
        what: 'the gcp VM gone',
      });
    } finally {
      await cluster.close();
    }
  }, 60_000);
});
