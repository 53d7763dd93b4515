import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProvider as createAws } from '../providers/aws/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster } from '../src/cluster/index.js';

/**
 * The location travels with every verb: networks are per provider and region, and a pool's region is honoured by
 * the network, launch and inventory calls even when the provider's own region is another one or unset.
 */
let sim: CloudSim;
let work: string;
const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };

beforeAll(async () => {
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  sim = await startCloudSim({ bootTimeMs: 20 });
  work = await mkdtemp(join(tmpdir(), 'skypool-regions-'));
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await sim?.stop();
  await rm(work, { recursive: true, force: true });
});

const awsSettings = (region?: string) => ({
  endpoint: sim.httpUrl,
  credentials: sim.credentials.aws,
  pollIntervalMs: 20,
  deleteTimeoutMs: 10_000,
  ...(region ? { region } : {}),
});

test('plan works without AWS_REGION when the pool names its region', async () => {
  const cluster = Cluster.fromSpec(
    {
      name: 'rgplan',
      engine: 'swarm',
      pools: [
        { name: 'm', provider: 'aws', region: 'us-west-2', role: 'manager', count: 1, instanceType: 't3.micro' },
        { name: 'w', provider: 'aws', region: 'us-west-2', role: 'worker', count: 2, instanceType: 't3.micro' },
      ],
    },
    { stateDir: join(work, 'plan'), providers: { aws: awsSettings() } },
  );
  try {
    const plan = await cluster.plan();
    expect(plan.engineApi.length).toBeGreaterThan(0);
  } finally {
    await cluster.close();
  }
});

test('a us-west-2 pool with the provider in us-east-1 gets its network, VMs and listing in us-west-2', async () => {
  const provider = createAws(awsSettings('us-east-1'));
  const cluster = 'rgwest';
  try {
    const network = await provider.ensureNetwork(cluster, { region: 'us-west-2' });
    expect(network.region).toBe('us-west-2');
    const east = await provider.ensureNetwork(cluster, { region: 'us-east-1' });
    expect(east.id).not.toBe(network.id);
    const launched = await provider.runInstances({
      cluster,
      pool: { name: 'w', provider: 'aws', region: 'us-west-2', role: 'worker', count: 2, instanceType: 't3.micro' },
      tags: { cluster, pool: 'w', role: 'worker', specHash: 'r1' },
      network,
      nodes: [{ name: `${cluster}-w-1` }, { name: `${cluster}-w-2` }],
      userData: '#!/bin/sh\n',
      idempotencyToken: 'regions-1',
    });
    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
    expect(running.map((i) => i.region)).toEqual(['us-west-2', 'us-west-2']);
    expect(running.every((i) => i.zone?.startsWith('us-west-2'))).toBe(true);
    // The default region alone does not see them; asking for us-west-2 does.
    const listed = await provider.listInstances(cluster, { regions: ['us-west-2'] });
    expect(listed.map((i) => i.id).sort()).toEqual(launched.map((i) => i.id).sort());
    // A fresh provider (another process) terminates by region and deletes both regions' networks.
    const other = createAws(awsSettings('us-east-1'));
    await other.terminateInstances(
      listed.map((i) => i.id),
      { region: 'us-west-2' },
    );
    await other.deleteNetwork(cluster, { region: 'us-west-2' });
    await other.deleteNetwork(cluster, { region: 'us-east-1' });
    await other.close();
    expect(sim.inventory().filter((r) => r.tags?.['skypool-cluster'] === cluster && r.state !== 'terminated')).toEqual(
      [],
    );
  } finally {
    await provider.close();
  }
});
