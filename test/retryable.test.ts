import { randomUUID } from 'node:crypto';
import { createProvider as createAws } from '../providers/aws/index.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { CapacityError, CloudApiError, NoFittingSizeError, type SkypoolError, ThrottledError } from '../src/errors.js';
import type { LaunchRequest, NetworkRef, Provider } from '../src/providers/types.js';
import { ProvisioningQueue, type QueueEvent } from '../src/queue/provisioning-queue.js';
import type { NodePoolSpec } from '../src/spec/schema.js';

describe('error classes say whether a retry can help', () => {
  it('classifies by condition: throttling and 5xx retry, validation 4xx, capacity, no size fits do not', () => {
    expect(new ThrottledError('x').retryable).toBe(true);
    expect(new CloudApiError('x', { status: 503 }).retryable).toBe(true);
    expect(new CloudApiError('x', { httpStatus: 500 }).retryable).toBe(true);
    expect(new CloudApiError('connection reset').retryable).toBe(true);
    expect(new CloudApiError('x', { status: 400 }).retryable).toBe(false);
    expect(new CloudApiError('x', { status: 409 }).retryable).toBe(true);
    expect(new CapacityError('x').retryable).toBe(false);
    const noFit = new NoFittingSizeError('x');
    expect(noFit).toBeInstanceOf(CapacityError);
    expect(noFit.retryable).toBe(false);
    expect(noFit.toJSON()).toMatchObject({ retryable: false, details: { reason: 'NoFittingSize' } });
  });
});

// The queue with the real adapters on cloudsim: deterministic failures end at the first answer, the same
// condition is the same class on every cloud, and capacity errors list each zone with the cloud's reason.
describe('provisioning queue on cloudsim: retries only what can succeed', () => {
  let sim: CloudSim;
  let aws: Provider;
  let azure: Provider;
  const nets = new Map<string, NetworkRef>();
  const cluster = `rt-${randomUUID().slice(0, 6)}`;
  const SUB = '3f2c1a9e-7b4d-4e21-9c55-0a1b2c3d4e5f';
  const awsPool = (extra: Partial<NodePoolSpec> = {}): NodePoolSpec => ({
    name: 'w',
    provider: 'aws',
    region: 'us-east-1',
    zones: ['us-east-1a', 'us-east-1b'],
    count: 1,
    role: 'worker',
    instanceType: 't3.micro',
    ...extra,
  });
  const azurePool = (extra: Partial<NodePoolSpec> = {}): NodePoolSpec => ({
    name: 'w',
    provider: 'azure',
    region: 'eastus',
    zones: ['1', '2'],
    count: 1,
    role: 'worker',
    instanceType: 'Standard_D2s_v5',
    ...extra,
  });
  const request = (provider: Provider, pool: NodePoolSpec, node: string): LaunchRequest => ({
    cluster,
    pool,
    tags: { cluster, pool: 'w', role: 'worker', specHash: 'abcdef' },
    network: nets.get(provider.name)!,
    nodes: [{ name: `${cluster}-w-${node}` }],
    userData: '#!/bin/sh\ntrue\n',
    idempotencyToken: randomUUID(),
  });
  const launch = async (provider: Provider, req: LaunchRequest) => {
    const events: QueueEvent[] = [];
    const queue = new ProvisioningQueue({ onEvent: (e) => events.push(e), minRetryDelayMs: 10 });
    const error = await queue.launch(provider, req).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Throttling by the sim's own rate limits may come on top; only retries for other reasons count here.
    const retries = events.filter((e) => e.type === 'retry' && e.code !== 'THROTTLED');
    return { error: error as SkypoolError | undefined, retries };
  };
  const runCalls = (action: string) =>
    sim.meter
      .snapshot()
      .filter((c) => c.action === action && c.outcome !== 'throttled')
      .reduce((n, c) => n + c.count, 0);

  beforeAll(async () => {
    // No EC2 token buckets: these tests count retries for other reasons, and back-to-back launches would be throttled.
    sim = await startCloudSim({ bootTimeMs: 20, seed: 11, rateLimits: { aws: { enabled: false } } });
    aws = createAws({
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
      pollIntervalMs: 20,
      deleteTimeoutMs: 10_000,
      maxAttempts: 1,
    });
    azure = createAzure({
      subscriptionId: SUB,
      region: 'eastus',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: {
        getToken: async () => ({
          token: sim.credentials.azure.accessToken,
          expiresOnTimestamp: Date.now() + 3_600_000,
        }),
      },
      pollIntervalMs: 10,
    });
    nets.set('aws', await aws.ensureNetwork(cluster));
    nets.set('azure', await azure.ensureNetwork(cluster));
  });

  afterEach(() => sim.clearFaults());

  afterAll(async () => {
    try {
      for (const provider of [aws, azure]) {
        const left = await provider.listInstances(cluster).catch(() => []);
        if (left.length) await provider.terminateInstances(left.map((i) => i.id));
        await provider.deleteNetwork(cluster).catch(() => undefined);
      }
    } finally {
      await Promise.all([aws?.close?.(), azure?.close?.()]);
      await sim.stop();
    }
  });

  it('does not retry a validation error (unknown instance type): one RunInstances call', async () => {
    sim.meter.reset();
    const { error, retries } = await launch(aws, request(aws, awsPool({ instanceType: 'x9.nope', zones: [] }), '1'));
    expect(error).toBeInstanceOf(CloudApiError);
    expect(error?.retryable).toBe(false);
    expect(retries).toEqual([]);
    expect(runCalls('RunInstances')).toBe(1);
  });

  it('retries a 5xx until the cloud answers', async () => {
    sim.addFault({ cloud: 'aws', kind: 'server-error', times: 2 });
    const { error, retries } = await launch(aws, request(aws, awsPool(), '2'));
    expect(error).toBeUndefined();
    expect(retries.length).toBeGreaterThanOrEqual(1);
  });

  it.each(['aws', 'azure'] as const)('"no size fits" is a NoFittingSizeError on %s, not retried', async (cloud) => {
    const provider = cloud === 'aws' ? aws : azure;
    const base = cloud === 'aws' ? awsPool : azurePool;
    const pool = base({ instanceType: undefined, size: { cpus: 4096, memoryGiB: 65536 } });
    const { error, retries } = await launch(provider, request(provider, pool, '3'));
    expect(error).toBeInstanceOf(NoFittingSizeError);
    expect(error?.retryable).toBe(false);
    expect(retries).toEqual([]);
  });

  it('lists every zone with the cloud reason and the instance type (aws)', async () => {
    sim.addFault({ cloud: 'aws', kind: 'capacity', instanceType: 't3.micro', mode: 'sync' });
    const { error, retries } = await launch(aws, request(aws, awsPool(), '4'));
    expect(error).toBeInstanceOf(CapacityError);
    expect(retries).toEqual([]);
    expect(error?.details.zones).toEqual([
      { zone: 'us-east-1a', reason: 'InsufficientInstanceCapacity', instanceType: 't3.micro' },
      { zone: 'us-east-1b', reason: 'InsufficientInstanceCapacity', instanceType: 't3.micro' },
    ]);
  });

  it('names Azure zones as region-zone with the cloud reason', async () => {
    sim.addFault({ cloud: 'azure', kind: 'capacity', instanceType: 'Standard_D2s_v5' });
    const { error } = await launch(azure, request(azure, azurePool(), '5'));
    expect(error).toBeInstanceOf(CapacityError);
    expect(error?.message).toContain('eastus-1: ZonalAllocationFailed (Standard_D2s_v5)');
    expect(error?.message).toContain('eastus-2: ZonalAllocationFailed (Standard_D2s_v5)');
    expect(error?.message).not.toMatch(/in 1, 2/);
  });
});
