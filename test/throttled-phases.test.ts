import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import { ClusterContext } from '../src/cluster/context.js';
import { Cluster, type ClusterOptions } from '../src/cluster/index.js';
import { launchNode, waitRunning } from '../src/cluster/launch.js';
import { TAG_KEYS } from '../src/providers/types.js';
import { parseSpec } from '../src/spec/load.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';
import { simProviderSettings } from './support/sim-providers.js';

// With every cloud's rate limits at 5 % of the documented ones, the phases an apply and a destroy run on the
// providers (network, launch, wait, listing, terminate, network removal) still finish: skypool paces and retries
// reads and network phases on throttling like launches. Virtual backing: no engine, so the engine phases are not
// part of this test.
describe('network, launch, listing and destroy under throttling (cloudsim at 5 % rate limits, 3 clouds)', () => {
  let sim: CloudSim;
  let stateDir: string;
  const name = 'thr';
  const logger = pino({ level: 'silent' });
  const spec: ClusterSpecInput = {
    name,
    engine: 'swarm',
    pools: [
      { name: 'm', provider: 'aws', role: 'manager', count: 1, region: 'us-east-1', instanceType: 't3.micro' },
      { name: 'g', provider: 'gcp', role: 'worker', count: 1, region: 'us-central1', instanceType: 'e2-small' },
      { name: 'z', provider: 'azure', role: 'worker', count: 1, region: 'eastus', instanceType: 'Standard_D2s_v5' },
    ],
  };
  const options = (): ClusterOptions & { stateDir: string } => ({
    stateDir,
    providers: simProviderSettings(sim, { gcpProject: 'skypool-thr', pollIntervalMs: 50 }),
    readyTimeoutMs: 120_000,
  });
  const owned = () => sim.inventory().filter((r) => r.tags?.[TAG_KEYS.cluster] === name);

  beforeAll(async () => {
    sim = await startCloudSim({
      bootTimeMs: 20,
      seed: 6,
      rateLimits: { aws: { scale: 0.05 }, gcp: { scale: 0.05 }, azure: { scale: 0.05 } },
    });
    stateDir = await mkdtemp(join(tmpdir(), 'skypool-thr-'));
  });

  afterAll(async () => {
    await sim.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('creates networks and one VM per cloud, lists them, then destroy removes everything tagged', async () => {
    const ctx = new ClusterContext(parseSpec(spec), options(), logger);
    const throttled: string[] = [];
    ctx.progress.on((e) => {
      if (e.type === 'queue' && e.event.type === 'retry' && e.event.code === 'THROTTLED') throttled.push(e.event.pool);
    });
    try {
      await Promise.all(ctx.providerNames.map((cloud) => ctx.network(cloud)));
      const launched = await Promise.all(
        ctx.spec.pools.map(async (pool) => {
          const [ip] = pickAddresses(await ctx.network(pool.provider), [], 1);
          const node = { name: `${name}-${pool.name}-1`, pool, ip: ip! };
          return waitRunning(
            ctx,
            await launchNode(
              ctx,
              node,
              pool.role,
              pool.role === 'manager',
              pool.role === 'manager' ? {} : { token: 'SWMTKN-1-unused', managers: ['10.0.0.10'] },
            ),
          );
        }),
      );
      expect(launched.map((i) => i.state)).toEqual(['running', 'running', 'running']);
      // EC2 names its VM by id (`<cluster>-<pool>-<id without i->`), Azure's scale set by computer name prefix + 6
      // characters; GCE takes the planned name.
      expect((await ctx.inventory()).map((i) => i.name).sort()).toEqual([
        `${name}-g-1`,
        expect.stringMatching(new RegExp(`^${name}-m-[0-9a-f]{17}$`)),
        expect.stringMatching(new RegExp(`^${name}-z-v[0-9a-f]{4}[a-z0-9]{6}$`)),
      ]);
    } finally {
      await ctx.close();
    }
    const cluster = Cluster.fromSpec(spec, options());
    try {
      const result = await cluster.destroy();
      expect(result.terminated).toEqual([
        `${name}-g-1`,
        expect.stringMatching(new RegExp(`^${name}-m-[0-9a-f]{17}$`)),
        expect.stringMatching(new RegExp(`^${name}-z-v[0-9a-f]{4}[a-z0-9]{6}$`)),
      ]);
      expect(result.networksDeleted.sort()).toEqual(['aws', 'azure', 'gcp']);
    } finally {
      await cluster.close();
    }
    expect(owned().filter((r) => !/^terminated$/i.test(r.state ?? ''))).toEqual([]);
    // The limits did bite: the run converged through throttling, not around it.
    expect(sim.meter.snapshot().some((c) => c.outcome === 'throttled')).toBe(true);
  }, 600_000);
});
