import { randomUUID } from 'node:crypto';
import { type AwsProvider, createProvider } from '../providers/aws/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { CapacityError } from '../src/errors.js';
import type { LaunchRequest, NetworkRef } from '../src/providers/types.js';
import { ProvisioningQueue, type QueueEvent } from '../src/queue/provisioning-queue.js';
import type { NodePoolSpec } from '../src/spec/schema.js';

// The queue against the EC2 simulator with the real adapter: capacity failover across zones, pacing, retries.
describe('ProvisioningQueue on cloudsim (aws)', () => {
  let sim: CloudSim;
  let provider: AwsProvider;
  let network: NetworkRef;
  const cluster = `q-${randomUUID().slice(0, 6)}`;
  const pool: NodePoolSpec = {
    name: 'w',
    provider: 'aws',
    region: 'us-east-1',
    zones: ['us-east-1a', 'us-east-1b'],
    count: 2,
    role: 'worker',
    instanceType: 't3.micro',
  };
  const request = (nodes: string[]): LaunchRequest => ({
    cluster,
    pool,
    tags: { cluster, pool: 'w', role: 'worker', specHash: 'abcdefabcdef' },
    network,
    nodes: nodes.map((name) => ({ name })),
    userData: '#!/bin/sh\ntrue\n',
    idempotencyToken: randomUUID(),
  });

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20 });
    provider = createProvider({
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
      pollIntervalMs: 20,
      deleteTimeoutMs: 10_000,
      maxAttempts: 1,
    });
    network = await provider.ensureNetwork(cluster);
  });

  afterAll(async () => {
    const left = await provider.listInstances(cluster).catch(() => []);
    if (left.length) await provider.terminateInstances(left.map((i) => i.id));
    await provider.deleteNetwork(cluster).catch(() => undefined);
    await provider.close?.();
    await sim.stop();
  });

  it('moves a launch to the next zone when the first has no capacity', async () => {
    sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1a', instanceType: 't3.micro', mode: 'sync' });
    const events: QueueEvent[] = [];
    const queue = new ProvisioningQueue({ onEvent: (e) => events.push(e), minRetryDelayMs: 10 });
    const launched = await queue.launch(provider, request([`${cluster}-w-1`, `${cluster}-w-2`]));
    expect(launched.map((i) => i.zone)).toEqual(['us-east-1b', 'us-east-1b']);
    expect(events.filter((e) => e.type === 'failover')).toEqual([
      expect.objectContaining({ fromZone: 'us-east-1a', toZone: 'us-east-1b' }),
    ]);
    sim.clearFaults();
  });

  // EC2's asynchronous capacity failure: RunInstances answers, then the instance goes pending → terminated with
  // Server.InsufficientInstanceCapacity. The launch waits for placement inside the zone loop, so it fails over too.
  it('moves a launch to the next zone after an asynchronous capacity failure (pending → terminated)', async () => {
    sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1a', instanceType: 't3.micro', mode: 'async' });
    const events: QueueEvent[] = [];
    const queue = new ProvisioningQueue({ onEvent: (e) => events.push(e), minRetryDelayMs: 10 });
    const names = [`${cluster}-w-4`, `${cluster}-w-5`];
    let launched: Awaited<ReturnType<ProvisioningQueue['launch']>>;
    try {
      launched = await queue.launch(provider, request(names));
    } finally {
      sim.clearFaults();
    }
    expect(launched.map((i) => [i.zone, i.state])).toEqual([
      ['us-east-1b', 'running'],
      ['us-east-1b', 'running'],
    ]);
    expect(events.filter((e) => e.type === 'failover')).toEqual([
      expect.objectContaining({
        fromZone: 'us-east-1a',
        toZone: 'us-east-1b',
        reason: expect.stringMatching(/capacity in us-east-1a/),
      }),
    ]);
    // The failed zone's instances are gone: the pool holds exactly the launch's nodes, none twice.
    const live = (await provider.listInstances(cluster)).filter((i) => launched.some((l) => l.id === i.id));
    expect(live).toHaveLength(2);
    // Every instance of the failed attempt was terminated by the queue (those EC2 placed as well as the failed one).
    const terminated = events.flatMap((e) => (e.type === 'terminate' ? e.ids : []));
    expect(terminated).toHaveLength(2);
    expect(terminated.filter((id) => launched.some((l) => l.id === id))).toEqual([]);
  });

  it('names every zone and the asynchronous reason when no zone places the launch', async () => {
    sim.addFault({ cloud: 'aws', kind: 'capacity', instanceType: 't3.micro', mode: 'async' });
    const queue = new ProvisioningQueue({ minRetryDelayMs: 10 });
    const error = await queue
      .launch(provider, request([`${cluster}-w-6`]))
      .catch((e: unknown) => e)
      .finally(() => sim.clearFaults());
    expect(error).toBeInstanceOf(CapacityError);
    expect((error as CapacityError).details.zones).toEqual([
      { zone: 'us-east-1a', reason: 'Server.InsufficientInstanceCapacity', instanceType: 't3.micro' },
      { zone: 'us-east-1b', reason: 'Server.InsufficientInstanceCapacity', instanceType: 't3.micro' },
    ]);
  });

  it('fails with a CapacityError naming every zone tried when none has capacity', async () => {
    sim.addFault({ cloud: 'aws', kind: 'capacity', instanceType: 't3.micro', mode: 'sync' });
    const queue = new ProvisioningQueue({ minRetryDelayMs: 10 });
    const error = await queue.launch(provider, request([`${cluster}-w-3`])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapacityError);
    expect((error as CapacityError).message).toMatch(
      /us-east-1a: InsufficientInstanceCapacity \(t3\.micro\); us-east-1b: InsufficientInstanceCapacity \(t3\.micro\)/,
    );
    expect((error as CapacityError).details.zones).toEqual([
      { zone: 'us-east-1a', reason: 'InsufficientInstanceCapacity', instanceType: 't3.micro' },
      { zone: 'us-east-1b', reason: 'InsufficientInstanceCapacity', instanceType: 't3.micro' },
    ]);
    expect((error as CapacityError).retryable).toBe(false);
    sim.clearFaults();
  });

  it('retries throttled calls with backoff until the cloud lets them through', async () => {
    const tight = await startCloudSim({ bootTimeMs: 20, rateLimits: { aws: { scale: 0.5 } } });
    const throttled = createProvider({
      region: 'us-east-1',
      endpoint: tight.httpUrl,
      credentials: tight.credentials.aws,
      pollIntervalMs: 20,
      deleteTimeoutMs: 10_000,
      maxAttempts: 1,
    });
    const name = `t-${randomUUID().slice(0, 6)}`;
    try {
      const net = await throttled.ensureNetwork(name);
      const events: QueueEvent[] = [];
      const queue = new ProvisioningQueue({
        onEvent: (e) => events.push(e),
        minRetryDelayMs: 50,
        retries: 8,
        limits: { aws: { concurrency: 8, intervalCap: 100, intervalMs: 1000 } },
      });
      const launches = Array.from({ length: 4 }, (_, i) =>
        queue.launch(throttled, {
          ...request([`${name}-w-${i + 1}`]),
          cluster: name,
          network: net,
          tags: { cluster: name, pool: 'w', role: 'worker', specHash: 'abcdefabcdef' },
        }),
      );
      const results = await Promise.all(launches);
      expect(results.flat()).toHaveLength(4);
      expect(events.some((e) => e.type === 'retry' && e.code === 'THROTTLED')).toBe(true);
      expect(tight.meter.snapshot().some((c) => c.action === 'RunInstances' && c.outcome === 'throttled')).toBe(true);
      const all = await throttled.listInstances(name);
      expect(all).toHaveLength(4);
      await queue.terminate(
        throttled,
        all.map((i) => i.id),
      );
      await throttled.deleteNetwork(name);
    } finally {
      await throttled.close?.();
      await tight.stop();
    }
  });

  it('reads are paced apart from launches: a listing does not wait for the launches queued before it', async () => {
    // Mutations one per 4 s: the second launch waits out the interval, a read started after it does not.
    const queue = new ProvisioningQueue({ limits: { aws: { concurrency: 1, intervalCap: 1, intervalMs: 4_000 } } });
    const name = `${cluster}-r`;
    const first = queue.launch(provider, request([`${name}-1`]));
    const second = queue.launch(provider, request([`${name}-2`]));
    const started = performance.now();
    const listed = await queue.read('aws', 'inventory', undefined, () => provider.listInstances(cluster));
    const readMs = performance.now() - started;
    expect(Array.isArray(listed)).toBe(true);
    expect(readMs).toBeLessThan(2_000);
    const launched = [...(await first), ...(await second)];
    expect(performance.now() - started).toBeGreaterThanOrEqual(3_500);
    await queue.terminate(
      provider,
      launched.map((i) => i.id),
    );
  }, 60_000);
});
