import { createProvider as createAws } from '../providers/aws/index.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { CapacityError } from '../src/errors.js';
import type { LaunchRequest, NetworkRef, Provider } from '../src/providers/types.js';
import type { NodePoolSpec, ProviderName } from '../src/spec/schema.js';

/**
 * Batched launches counted at the sim: all new nodes of one pool in one (provider, region, zone attempt) go out in
 * ONE create call (EC2 RunInstances MinCount=MaxCount, GCE bulkInsert, an Azure Flexible scale set), tags and names
 * in that call. Zone
 * failover really moves: the zone of the request picks the subnet (no pinned address forces zone a).
 */
const NODES = 4;
let sim: CloudSim;
const providers: Partial<Record<ProviderName, Provider>> = {};
const clusters: Array<[Provider, string]> = [];
let seq = 0;

const calls = (cloud: string, action: string) =>
  sim.meter
    .snapshot()
    .filter((c) => c.cloud === cloud && c.action === action && c.outcome === 'ok')
    .reduce((n, c) => n + c.count, 0);

function request(
  provider: ProviderName,
  cluster: string,
  network: NetworkRef,
  extra: Partial<NodePoolSpec> = {},
  zone?: string,
): LaunchRequest {
  const pool: NodePoolSpec = { name: 'w', provider, role: 'worker', count: NODES, ...extra };
  return {
    cluster,
    pool,
    tags: { cluster, pool: 'w', role: 'worker', specHash: 'batch1' },
    network,
    nodes: Array.from({ length: NODES }, (_, k) => ({ name: `${cluster}-w-${k + 1}` })),
    userData: '#!/bin/sh\necho batch\n',
    idempotencyToken: `batch-${cluster}-${zone ?? 'any'}`,
    ...(zone ? { zone } : {}),
  };
}

async function fresh(name: ProviderName): Promise<{ provider: Provider; cluster: string; network: NetworkRef }> {
  const provider = providers[name]!;
  const cluster = `bt${process.pid % 1000}x${++seq}`;
  const network = await provider.ensureNetwork(cluster);
  clusters.push([provider, cluster]);
  sim.meter.reset();
  return { provider, cluster, network };
}

beforeAll(async () => {
  sim = await startCloudSim({ bootTimeMs: 20 });
  const s = sim;
  providers.aws = createAws({
    region: 'us-east-1',
    endpoint: s.httpUrl,
    credentials: s.credentials.aws,
    pollIntervalMs: 20,
    deleteTimeoutMs: 10_000,
  });
  providers.gcp = createGcp({
    project: 'skypool-sim',
    region: 'us-central1',
    apiEndpoint: s.host,
    port: s.httpPort,
    protocol: 'http',
    accessToken: s.credentials.gcp.accessToken,
    pollIntervalMs: 20,
  });
  providers.azure = createAzure({
    subscriptionId: '00000000-0000-4000-8000-0000000000bb',
    region: 'eastus',
    endpoint: s.httpsUrl,
    caCertPem: s.caCertPem,
    credential: {
      getToken: async () => ({ token: s.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
    pollIntervalMs: 10,
  });
});

afterAll(async () => {
  try {
    for (const [provider, cluster] of clusters) {
      const left = await provider.listInstances(cluster).catch(() => []);
      await provider.terminateInstances(left.map((i) => i.id)).catch(() => undefined);
      await provider.deleteNetwork(cluster).catch(() => undefined);
    }
    for (const p of Object.values(providers)) await p.close?.();
  } finally {
    await sim?.stop();
  }
}, 60_000);

describe('one create call per pool per cloud per zone attempt', () => {
  it(`aws: ${NODES} nodes are one RunInstances (MinCount=MaxCount) and no CreateTags`, async () => {
    const { provider, cluster, network } = await fresh('aws');
    const launched = await provider.runInstances(request('aws', cluster, network));
    expect(launched).toHaveLength(NODES);
    expect(calls('aws', 'RunInstances')).toBe(1);
    expect(calls('aws', 'CreateTags')).toBe(0);
  });

  it(`gcp: ${NODES} nodes are one bulkInsert named by perInstanceProperties`, async () => {
    const { provider, cluster, network } = await fresh('gcp');
    const launched = await provider.runInstances(request('gcp', cluster, network));
    expect(launched.map((i) => i.name).sort()).toEqual(
      Array.from({ length: NODES }, (_, k) => `${cluster}-w-${k + 1}`).sort(),
    );
    expect(calls('gcp', 'instances.bulkInsert')).toBe(1);
    expect(calls('gcp', 'instances.insert')).toBe(0);
  });

  it(`azure: ${NODES} nodes are one Flexible scale set PUT whose VMs make their NICs and public IPs`, async () => {
    const { provider, cluster, network } = await fresh('azure');
    const launched = await provider.runInstances(request('azure', cluster, network));
    expect(launched).toHaveLength(NODES);
    expect(calls('azure', 'VirtualMachineScaleSets_CreateOrUpdate')).toBe(1);
    expect(calls('azure', 'VirtualMachines_CreateOrUpdate')).toBe(0);
    expect(calls('azure', 'NetworkInterfaces_CreateOrUpdate')).toBe(0);
    expect(calls('azure', 'PublicIPAddresses_CreateOrUpdate')).toBe(0);
    expect(new Set(launched.map((i) => i.name)).size).toBe(NODES);
    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000, cluster },
    );
    expect(running.every((i) => i.privateIp && i.publicIp)).toBe(true);
    // Deleting the VMs deletes the NICs and public IPs they made (deleteOption Delete), and the emptied scale set.
    await provider.terminateInstances(running.slice(1).map((i) => i.id));
    const ofCluster = () => sim.inventory().filter((r) => r.cloud === 'azure' && r.id.includes(cluster));
    expect(ofCluster().filter((r) => r.type === 'Microsoft.Compute/virtualMachineScaleSets')).toHaveLength(1);
    await provider.terminateInstances([running[0]!.id]);
    const left = ofCluster().filter((r) =>
      /networkInterfaces|publicIPAddresses|virtualMachines|virtualMachineScaleSets|disks/.test(r.type),
    );
    expect(left).toEqual([]);
  });
});

describe('one listing per cloud per poll while waiting', () => {
  const polled = (cloud: string, actions: readonly string[]) =>
    sim.meter
      .snapshot()
      .filter((c) => c.cloud === cloud && actions.includes(c.action))
      .reduce((n, c) => n + c.count, 0);

  it.each([
    ['aws', ['DescribeInstances']],
    ['gcp', ['instances.list', 'instances.get', 'instances.aggregatedList']],
    ['azure', ['VirtualMachines_List']],
  ] as const)(
    '%s: a wait for a whole batch reads it with one listing per poll, not one call per VM',
    async (cloud, actions) => {
      const { provider, cluster, network } = await fresh(cloud);
      const many = {
        ...request(cloud, cluster, network),
        nodes: Array.from({ length: 60 }, (_, k) => ({ name: `${cluster}-w-${k + 1}` })),
      };
      const launched = await provider.runInstances(many);
      sim.meter.reset();
      const started = Date.now();
      const running = await provider.waitUntilRunning(
        launched.map((i) => i.id),
        { deadline: Date.now() + 20_000, cluster },
      );
      expect(running).toHaveLength(60);
      // Polls every 20 ms (10 on Azure): at most one listing per poll, far fewer than one call per VM.
      const polls = Math.ceil((Date.now() - started) / 10) + 2;
      expect(polled(cloud, actions)).toBeLessThanOrEqual(Math.min(polls, 10));
    },
  );
});

describe('zones', () => {
  it('aws: a pool with zones [us-east-1c] lands in us-east-1c', async () => {
    const { provider, cluster, network } = await fresh('aws');
    const launched = await provider.runInstances(request('aws', cluster, network, { zones: ['us-east-1c'] }));
    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
    expect(new Set(running.map((i) => i.zone))).toEqual(new Set(['us-east-1c']));
  });

  it('aws: with us-east-1a out of capacity the retry in us-east-1b lands in us-east-1b', async () => {
    const { provider, cluster, network } = await fresh('aws');
    // No `times`: the SDK retries the 500 InsufficientInstanceCapacity itself, and every try must hit the fault.
    sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1a' });
    const zones = ['us-east-1a', 'us-east-1b'];
    await expect(
      provider.runInstances(request('aws', cluster, network, { zones }, 'us-east-1a')),
    ).rejects.toBeInstanceOf(CapacityError);
    sim.meter.reset();
    const launched = await provider.runInstances(request('aws', cluster, network, { zones }, 'us-east-1b'));
    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
    expect(new Set(running.map((i) => i.zone))).toEqual(new Set(['us-east-1b']));
    expect(calls('aws', 'RunInstances')).toBe(1);
    sim.clearFaults();
  });

  it('gcp: with us-central1-a out of capacity the retry in us-central1-b lands there, one bulkInsert per attempt', async () => {
    const { provider, cluster, network } = await fresh('gcp');
    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: 'us-central1-a', times: 1 });
    const zones = ['us-central1-a', 'us-central1-b'];
    await expect(
      provider.runInstances(request('gcp', cluster, network, { zones }, 'us-central1-a')),
    ).rejects.toBeInstanceOf(CapacityError);
    const launched = await provider.runInstances(request('gcp', cluster, network, { zones }, 'us-central1-b'));
    expect(new Set(launched.map((i) => i.zone))).toEqual(new Set(['us-central1-b']));
    expect(calls('gcp', 'instances.bulkInsert')).toBe(2);
    sim.clearFaults();
  });
});
