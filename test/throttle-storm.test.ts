import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import { ClusterContext } from '../src/cluster/context.js';
import { Cluster, type ClusterOptions } from '../src/cluster/index.js';
import { launchNode, waitRunning } from '../src/cluster/launch.js';
import { computePlan } from '../src/plan.js';
import { TAG_KEYS } from '../src/providers/types.js';
import { parseSpec } from '../src/spec/load.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';
import { simProviderSettings } from './support/sim-providers.js';

// A throttle storm: the sim throttles every 3rd call of a cloud (EC2 RequestLimitExceeded, GCE rateLimitExceeded,
// ARM 429), on top of its rate limits. The provider half of `up` (networks, plan, launches, waits) and `destroy`
// still converge, and the calls they make stay within the retry budget: the storm run makes at most the SDKs' 3
// attempts per call of a run without the storm. Virtual backing: no engine phases. On gcp the adapter itself
// repeats a throttled call (the Google client over REST does not), up to 3 attempts like the AWS SDK.
const SDK_ATTEMPTS = 3;
const logger = pino({ level: 'silent' });

describe('throttle storm: every 3rd call throttled on aws, gcp and azure (cloudsim)', () => {
  let sim: CloudSim;
  let work: string;

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20, seed: 3 });
    work = await mkdtemp(join(tmpdir(), 'skypool-storm-'));
  });
  afterAll(async () => {
    await sim?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  type Cloud = 'aws' | 'gcp' | 'azure';
  const POOLS: ClusterSpecInput['pools'] = [
    { name: 'm', provider: 'aws', role: 'manager', count: 1, region: 'us-east-1', instanceType: 't3.micro' },
    { name: 'w', provider: 'aws', role: 'worker', count: 2, region: 'us-east-1', instanceType: 't3.micro' },
    { name: 'g', provider: 'gcp', role: 'worker', count: 2, region: 'us-central1', instanceType: 'e2-small' },
    { name: 'z', provider: 'azure', role: 'worker', count: 2, region: 'eastus', instanceType: 'Standard_D2s_v5' },
  ];
  let clouds: readonly Cloud[] = [];
  // A swarm needs a manager: a cluster without aws gets the gcp pool as its manager pool.
  const specOf = (name: string): ClusterSpecInput => ({
    name,
    engine: 'swarm',
    pools: POOLS.filter((p) => clouds.includes(p.provider as Cloud)).map((p, i) =>
      i === 0 ? { ...p, role: 'manager', count: 1 } : p,
    ),
  });
  const specVms = () => specOf('x').pools.reduce((n, p) => n + (p.count ?? 0), 0);
  const options = (stateDir: string): ClusterOptions & { stateDir: string } => ({
    stateDir,
    providers: simProviderSettings(sim, { gcpProject: 'skypool-storm', pollIntervalMs: 20 }),
    readyTimeoutMs: 120_000,
  });
  const calls = () => {
    const out = { ok: 0, throttled: 0, error: 0 };
    for (const c of sim.meter.snapshot()) out[c.outcome as keyof typeof out] += c.count;
    return out;
  };
  const live = (name: string) =>
    sim
      .inventory()
      .filter(
        (r) =>
          (r.tags?.[TAG_KEYS.cluster] === name || r.origin?.tags?.[TAG_KEYS.cluster] === name) &&
          !/^(terminated|deleting|shutting-down)$/i.test(r.state ?? ''),
      );

  /** The provider half of `up` (as test/support/chaos-up.mjs runs it), then destroy; the calls it took. */
  async function upAndDown(name: string): Promise<{ ok: number; throttled: number; error: number; vms: number }> {
    const stateDir = join(work, name);
    const before = calls();
    const ctx = new ClusterContext(parseSpec(specOf(name)), options(stateDir), logger);
    let vms = 0;
    try {
      await Promise.all(ctx.providerNames.map((cloud) => ctx.network(cloud)));
      const plan = computePlan(ctx.spec, await ctx.inventory());
      const used = new Map<string, string[]>();
      const nodes = [];
      for (const create of plan.creates) {
        const cloud = create.pool.provider;
        const taken = used.get(cloud) ?? [];
        const ips = pickAddresses(await ctx.network(cloud), taken, create.names.length);
        used.set(cloud, [...taken, ...ips]);
        for (const [k, node] of create.names.entries()) nodes.push({ name: node, pool: create.pool, ip: ips[k]! });
      }
      const launched = await Promise.all(
        nodes.map(async (node) => {
          const join = node.pool.role === 'manager' ? {} : { token: 'SWMTKN-1-storm', managers: ['10.0.0.10'] };
          return waitRunning(ctx, await launchNode(ctx, node, node.pool.role, node.pool.role === 'manager', join));
        }),
      );
      expect(launched.map((i) => i.state)).toEqual(launched.map(() => 'running'));
      const listed = (await ctx.inventory()).map((i) => i.name);
      expect(listed.length).toBe(new Set(listed).size);
      vms = listed.length;
    } finally {
      await ctx.close();
    }
    const cluster = Cluster.fromSpec(specOf(name), options(stateDir));
    try {
      await cluster.destroy();
    } finally {
      await cluster.close();
    }
    expect(live(name)).toEqual([]);
    const after = calls();
    return {
      ok: after.ok - before.ok,
      throttled: after.throttled - before.throttled,
      error: after.error - before.error,
      vms,
    };
  }

  async function storm(on: readonly Cloud[]): Promise<void> {
    clouds = on;
    const tag = on.join('-');
    const calm = await upAndDown(`calm-${tag}`);
    for (const cloud of on) sim.addFault({ cloud, kind: 'throttle', every: 3 });
    let storm: Awaited<ReturnType<typeof upAndDown>>;
    try {
      storm = await upAndDown(`storm-${tag}`);
    } finally {
      sim.clearFaults();
    }
    console.log(`throttle storm on ${tag}: calm run ${JSON.stringify(calm)}, storm run ${JSON.stringify(storm)}`);
    expect(calm.vms).toBe(specVms());
    expect(storm.vms).toBe(specVms());
    // The storm did bite: about one call in three was throttled...
    expect(storm.throttled).toBeGreaterThanOrEqual(Math.floor((storm.ok + storm.throttled) / 3) - 3);
    // ...and the retries it caused stay within the budget of the calm run's calls times the SDK's attempts.
    expect(storm.ok + storm.throttled + storm.error).toBeLessThanOrEqual(SDK_ATTEMPTS * (calm.ok + calm.error));
  }

  it('aws and azure converge within the retry budget', () => storm(['aws', 'azure']), 300_000);

  it('gcp converges within the retry budget', () => storm(['gcp']), 300_000);
});
