import { randomUUID } from 'node:crypto';
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type AwsProvider, type AwsProviderSettings, createProvider } from '../providers/aws/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { CapacityError, PrerequisiteError, QuotaError, ThrottledError } from '../src/errors.js';
import type { LaunchRequest, NetworkRef } from '../src/providers/types.js';
import type { NodePoolSpec } from '../src/spec/schema.js';
import { describeProviderConformance, simLeftovers } from './support/provider-conformance.js';

const pool = (extra: Partial<NodePoolSpec> = {}): NodePoolSpec => ({
  name: 'w',
  provider: 'aws',
  count: 2,
  role: 'worker',
  instanceType: 't3.micro',
  ...extra,
});
const settingsFor = (sim: CloudSim, extra: Partial<AwsProviderSettings> = {}): AwsProviderSettings => ({
  region: 'us-east-1',
  endpoint: sim.httpUrl,
  credentials: sim.credentials.aws,
  pollIntervalMs: 20,
  deleteTimeoutMs: 10_000,
  ...extra,
});
const calls = (sim: CloudSim, action: string, outcome = 'ok') =>
  sim.meter
    .snapshot()
    .filter((c) => c.cloud === 'aws' && c.action === action && c.outcome === outcome)
    .reduce((n, c) => n + c.count, 0);
const owned = (sim: CloudSim, cluster: string, type?: string) =>
  sim
    .inventory()
    .filter((r) => r.cloud === 'aws' && r.tags?.['skypool-cluster'] === cluster && (!type || r.type === type));

describeProviderConformance(
  'aws on cloudsim',
  async () => {
    // Rate limits well above the suite's pace: the error-mapping case injects its throttling itself.
    const sim = await startCloudSim({ bootTimeMs: 50, rateLimits: { aws: { scale: 10 } } });
    const provider = createProvider(settingsFor(sim, { listPageSize: 5 }));
    return {
      provider,
      pool: pool(),
      liveVms: async (cluster) =>
        owned(sim, cluster, 'instance').filter((r) => !/^(terminated|shutting-down)$/.test(r.state ?? '')).length,
      sim: { cloud: 'aws', instance: sim },
      leftovers: async (cluster) => simLeftovers(sim, 'aws', cluster),
      teardown: () => sim.stop(),
    };
  },
  { features: { faults: true, zones: ['us-east-1a', 'us-east-1b'], otherRegion: 'eu-west-1', pageSpan: 6 } },
);

describe('aws provider on cloudsim', () => {
  let sim: CloudSim;
  let provider: AwsProvider;
  let sdk: EC2Client;
  const clusters: string[] = [];
  const newCluster = () => {
    const name = `aws-${randomUUID().slice(0, 8)}`;
    clusters.push(name);
    return name;
  };
  const request = (
    cluster: string,
    network: NetworkRef,
    nodes: LaunchRequest['nodes'],
    extra: Partial<LaunchRequest> = {},
  ): LaunchRequest => ({
    cluster,
    pool: pool(),
    tags: { cluster, pool: 'w', role: 'worker', specHash: 'h1' },
    network,
    nodes,
    userData: '#!/bin/sh\necho hello\n',
    idempotencyToken: randomUUID(),
    ...extra,
  });

  beforeAll(async () => {
    // Ten times the default buckets: each test builds a whole network (about 15 mutating calls).
    sim = await startCloudSim({ bootTimeMs: 50, rateLimits: { aws: { scale: 10 } } });
    provider = createProvider(settingsFor(sim));
    sdk = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
  });

  afterAll(async () => {
    try {
      for (const cluster of clusters) {
        const left = await provider.listInstances(cluster);
        await provider.terminateInstances(left.map((i) => i.id));
        await provider.deleteNetwork(cluster);
      }
    } finally {
      sdk?.destroy();
      await provider?.close();
      await sim?.stop();
    }
  });

  it('creates one tagged VPC, three zone subnets, a gateway and the swarm security group, once', async () => {
    const cluster = newCluster();
    const first = await provider.ensureNetwork(cluster);
    sim.meter.reset();
    const second = await createProvider(settingsFor(sim)).ensureNetwork(cluster);
    expect(second).toEqual(first);
    expect(sim.meter.snapshot().filter((c) => !c.action.startsWith('Describe'))).toEqual([]);
    expect(first.cidr).toMatch(/^10\.\d+\.0\.0\/16$/);
    expect(first.reservedAddresses).toHaveLength(15);
    const types = owned(sim, cluster)
      .map((r) => r.type)
      .sort();
    expect(types).toEqual(['internet-gateway', 'security-group', 'subnet', 'subnet', 'subnet', 'vpc']);

    const groups = await sdk.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [first.id] },
          { Name: 'group-name', Values: [`skypool-${cluster}`] },
        ],
      }),
    );
    const group = groups.SecurityGroups![0]!;
    const source = (p: NonNullable<typeof group.IpPermissions>[number]) =>
      p.IpRanges?.[0]?.CidrIp ?? (p.UserIdGroupPairs?.[0]?.GroupId === group.GroupId ? 'self' : 'other');
    const rules = group.IpPermissions!.map((p) => `${p.IpProtocol}/${p.FromPort}/${source(p)}`).sort();
    // The engine API is open to the operator only: cloudsim on loopback sees this machine as 127.0.0.1.
    expect(rules).toEqual([
      'tcp/2376/127.0.0.1/32',
      'tcp/2377/self',
      'tcp/7946/self',
      'udp/4789/self',
      'udp/51820/0.0.0.0/0',
      'udp/7946/self',
    ]);
    const fabric = group.IpPermissions!.find((p) => p.FromPort === 51820);
    expect(fabric?.IpRanges?.[0]?.Description).toBe('skypool-fabric');
  });

  it('batches nodes into one RunInstances without Name tags or CreateTags, names them from their ids, requires IMDSv2 (hop limit 1) and never duplicates on a repeated token', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    sim.meter.reset();
    const nodes = [1, 2, 3].map((n) => ({ name: `${cluster}-w-${n}` }));
    const req = request(cluster, network, nodes);
    const launched = await provider.runInstances(req);
    expect(calls(sim, 'RunInstances')).toBe(1);
    expect(calls(sim, 'CreateTags')).toBe(0);
    expect(launched.map((i) => i.name)).toEqual(launched.map((i) => `${cluster}-w-${i.id.slice(2)}`));

    const again = await provider.runInstances(req);
    expect(again.map((i) => i.id)).toEqual(launched.map((i) => i.id));
    expect(again.map((i) => i.name)).toEqual(launched.map((i) => i.name));
    expect(owned(sim, cluster, 'instance')).toHaveLength(3);
    expect(calls(sim, 'CreateTags')).toBe(0);

    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
    expect(running.every((i) => i.state === 'running' && i.privateIp && i.publicIp && i.zone === 'us-east-1a')).toBe(
      true,
    );
    const described = await sdk.send(new DescribeInstancesCommand({ InstanceIds: [launched[0]!.id] }));
    const instance = described.Reservations![0]!.Instances![0]!;
    expect(instance.MetadataOptions).toMatchObject({
      HttpTokens: 'required',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: 1,
    });
    expect(instance.PrivateDnsNameOptions?.HostnameType).toBe('resource-name');
    expect(instance.PrivateDnsName).toBe(`${instance.InstanceId}.ec2.internal`);
    expect(instance.Tags!.some((t) => t.Key === 'Name')).toBe(false);
    expect(instance.ClientToken).toHaveLength(64);
    expect(Object.fromEntries(instance.Tags!.map((t) => [t.Key, t.Value]))).toMatchObject({
      'skypool-cluster': cluster,
      'skypool-pool': 'w',
      'skypool-role': 'worker',
      'skypool-spec-hash': 'h1',
    });
  });

  it('puts a node with a fixed address in the subnet holding it and launches in the requested zone', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    const [a, b] = network.cidr.split('.');
    const fixed = await provider.runInstances(
      request(cluster, network, [{ name: `${cluster}-m-1`, privateIp: `${a}.${b}.200.10` }]),
    );
    const zoned = await provider.runInstances(
      request(cluster, network, [{ name: `${cluster}-w-1` }], { zone: 'us-east-1b' }),
    );
    const running = await provider.waitUntilRunning([fixed[0]!.id, zoned[0]!.id], { deadline: Date.now() + 10_000 });
    const byId = new Map(running.map((i) => [i.id, i]));
    expect(byId.get(fixed[0]!.id)).toMatchObject({
      name: `${cluster}-m-1`,
      privateIp: `${a}.${b}.200.10`,
      zone: 'us-east-1c',
    });
    expect(byId.get(zoned[0]!.id)!.zone).toBe('us-east-1b');
    expect(byId.get(zoned[0]!.id)!.privateIp!.startsWith(`${a}.${b}.128.`)).toBe(true);
  });

  it('maps a pool size to the cheapest fitting x86 type, listing types once per region', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    sim.meter.reset();
    const sized = {
      ...request(cluster, network, [{ name: `${cluster}-s-1` }]),
      pool: pool({ instanceType: undefined, size: { cpus: 4, memoryGiB: 10 } }),
    };
    const [first] = await provider.runInstances(sized);
    const [second] = await provider.runInstances({
      ...sized,
      nodes: [{ name: `${cluster}-s-2` }],
      idempotencyToken: randomUUID(),
    });
    // 4 vCPUs and ≥ 10 GiB: m5.xlarge, m6i.xlarge and t3.xlarge have 16 GiB (the arm64 and 8 GiB types do not
    // qualify); t3.xlarge has the lowest list price.
    expect(first!.instanceType).toBe('t3.xlarge');
    expect(second!.instanceType).toBe('t3.xlarge');
    expect(calls(sim, 'DescribeInstanceTypes')).toBe(1);
    expect(calls(sim, 'DescribeImages')).toBe(0);
  });

  it('turns a synchronous capacity fault into CapacityError after the SDK retries, without retrying on top', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    sim.meter.reset();
    sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1a', instanceType: 't3.micro' });
    try {
      const error = await provider
        .runInstances(request(cluster, network, [{ name: `${cluster}-w-1` }]))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as CapacityError).details).toMatchObject({
        zone: 'us-east-1a',
        instanceType: 't3.micro',
        code: 'InsufficientInstanceCapacity',
      });
      expect(calls(sim, 'RunInstances', 'error')).toBe(3);
      const other = await provider.runInstances(
        request(cluster, network, [{ name: `${cluster}-w-2` }], { zone: 'us-east-1b' }),
      );
      expect(other).toHaveLength(1);
    } finally {
      sim.clearFaults();
    }
  });

  it('reports an asynchronous capacity failure from waitUntilRunning as CapacityError', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    sim.addFault({ cloud: 'aws', kind: 'capacity', mode: 'async', times: 1 });
    try {
      const launched = await provider.runInstances(request(cluster, network, [{ name: `${cluster}-w-1` }]));
      expect(launched[0]!.state).toBe('pending');
      await expect(
        provider.waitUntilRunning(
          launched.map((i) => i.id),
          { deadline: Date.now() + 10_000 },
        ),
      ).rejects.toBeInstanceOf(CapacityError);
      expect(await provider.listInstances(cluster)).toEqual([]);
    } finally {
      sim.clearFaults();
    }
  });

  it('maps quota faults to QuotaError', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    sim.addFault({ cloud: 'aws', kind: 'quota', times: 1 });
    try {
      await expect(
        provider.runInstances(request(cluster, network, [{ name: `${cluster}-w-1` }])),
      ).rejects.toBeInstanceOf(QuotaError);
    } finally {
      sim.clearFaults();
    }
  });

  it('hands user-data to a local backing (hostname: the instance id) and takes the address it reports', async () => {
    const started: Array<{ name: string; userData: string }> = [];
    const stopped: string[] = [];
    const local = await startCloudSim({
      bootTimeMs: 20,
      backing: 'local',
      vmBacking: {
        start: async (vm) => {
          started.push({ name: vm.name, userData: vm.userData });
          return { privateIp: vm.privateIp! };
        },
        stop: async (vm) => {
          stopped.push(vm.id);
        },
      },
    });
    const p = createProvider(settingsFor(local));
    const cluster = `aws-${randomUUID().slice(0, 8)}`;
    try {
      const network = await p.ensureNetwork(cluster);
      const [a, b] = network.cidr.split('.');
      const [vm] = await p.runInstances(
        request(cluster, network, [{ name: `${cluster}-m-1`, privateIp: `${a}.${b}.0.20` }], {
          userData: '#!/bin/sh\necho local backing\n',
        }),
      );
      const [running] = await p.waitUntilRunning([vm!.id], { deadline: Date.now() + 10_000 });
      expect(running!.privateIp).toBe(`${a}.${b}.0.20`);
      // HostnameType=resource-name: the guest's hostname is the instance id, whatever the Name tag says.
      expect(started).toEqual([{ name: vm!.id, userData: '#!/bin/sh\necho local backing\n' }]);
      expect(running!.name).toBe(`${cluster}-m-1`);
      await p.terminateInstances([vm!.id]);
      expect(stopped).toEqual([vm!.id]);
    } finally {
      await p.deleteNetwork(cluster).catch(() => undefined);
      await p.close();
      await local.stop();
    }
    expect(local.inventory()).toEqual([]);
  });

  it('raises ThrottledError when the Describe bucket stays empty', async () => {
    const throttled = await startCloudSim({ bootTimeMs: 20, rateLimits: { aws: { scale: 0.01 } } });
    const p = createProvider(settingsFor(throttled, { maxAttempts: 1 }));
    try {
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => p.listInstances('nothing-here')));
      const errors = results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => r.reason as unknown);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(errors.every((e) => e instanceof ThrottledError)).toBe(true);
      expect(calls(throttled, 'DescribeInstances', 'throttled')).toBe(errors.length);
    } finally {
      await p.close();
      await throttled.stop();
    }
  });

  it('checks prerequisites without a default region (pools name theirs), fails a region-less verb and an unreachable endpoint', async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    const noRegion = createProvider({ endpoint: sim.httpUrl, credentials: sim.credentials.aws });
    const closed = createProvider({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: sim.credentials.aws,
      maxAttempts: 1,
    });
    try {
      await expect(noRegion.checkPrerequisites()).resolves.toBeUndefined();
      await expect(noRegion.ensureNetwork('noregion')).rejects.toBeInstanceOf(PrerequisiteError);
      await expect(noRegion.listInstances('noregion')).rejects.toThrow(/AWS_REGION/);
      await expect(closed.checkPrerequisites()).rejects.toBeInstanceOf(PrerequisiteError);
      await expect(provider.checkPrerequisites()).resolves.toBeUndefined();
    } finally {
      Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
      await noRegion.close();
      await closed.close();
    }
  });

  it('terminates idempotently and deletes the network down to nothing', async () => {
    const cluster = newCluster();
    const network = await provider.ensureNetwork(cluster);
    const launched = await provider.runInstances(
      request(cluster, network, [{ name: `${cluster}-w-1` }, { name: `${cluster}-w-2` }]),
    );
    await provider.terminateInstances(launched.map((i) => i.id));
    await provider.terminateInstances([...launched.map((i) => i.id), 'i-0123456789abcdef0']);
    await provider.deleteNetwork(cluster);
    await provider.deleteNetwork(cluster);
    expect(owned(sim, cluster)).toEqual([]);
  });
});
