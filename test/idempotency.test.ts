import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import { ClusterContext } from '../src/cluster/context.js';
import { launchToken } from '../src/cluster/idempotency.js';
import { launchNode } from '../src/cluster/launch.js';
import type { ProviderOverrides } from '../src/providers/registry.js';
import { type ClusterSpec, parseSpec } from '../src/spec/load.js';
import type { ProviderName } from '../src/spec/schema.js';

describe('launchToken', () => {
  const base = { cluster: 'c1', pool: 'w', ordinal: 3, specHash: 'abc123' };

  it('is the same for every process planning the same node, and fits EC2 (≤ 64 ASCII)', () => {
    expect(launchToken(base)).toBe(launchToken({ ...base }));
    expect(launchToken(base)).toMatch(/^[\x21-\x7e]{1,64}$/);
  });

  it('differs by cluster, pool, ordinal, spec hash and generation', () => {
    const tokens = [
      launchToken(base),
      launchToken({ ...base, cluster: 'c2' }),
      launchToken({ ...base, pool: 'm' }),
      launchToken({ ...base, ordinal: 4 }),
      launchToken({ ...base, specHash: 'abc124' }),
      launchToken({ ...base, generation: 1 }),
    ];
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});

// Two operators (two state dirs, two CAs, so two different user-data) launch the same node at the same moment:
// the clouds' own idempotency must leave one VM. A later launch of that name (after the VM is gone) must work.
describe.each<ProviderName>(['aws', 'gcp'])('launch of one node by two processes on cloudsim (%s)', (cloud) => {
  let sim: CloudSim;
  const dirs: string[] = [];
  const contexts: ClusterContext[] = [];
  const cluster = `idem-${cloud}`;
  const logger = pino({ level: 'silent' });

  const overrides = (): ProviderOverrides =>
    cloud === 'aws'
      ? {
          aws: {
            region: 'us-east-1',
            endpoint: sim.httpUrl,
            credentials: sim.credentials.aws,
            pollIntervalMs: 20,
            deleteTimeoutMs: 10_000,
            maxAttempts: 1,
          },
        }
      : {
          gcp: {
            project: 'skypool-idem',
            region: 'us-central1',
            apiEndpoint: sim.host,
            port: sim.httpPort,
            protocol: 'http',
            accessToken: sim.credentials.gcp.accessToken,
            pollIntervalMs: 20,
          },
        };
  const spec = (): ClusterSpec =>
    parseSpec({
      name: cluster,
      engine: 'swarm',
      pools: [
        cloud === 'aws'
          ? { name: 'w', provider: 'aws', role: 'manager', count: 1, region: 'us-east-1', instanceType: 't3.micro' }
          : { name: 'w', provider: 'gcp', role: 'manager', count: 1, region: 'us-central1', instanceType: 'e2-small' },
      ],
    });
  const operator = async (): Promise<ClusterContext> => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-idem-'));
    dirs.push(dir);
    const ctx = new ClusterContext(spec(), { stateDir: dir, providers: overrides() }, logger);
    contexts.push(ctx);
    return ctx;
  };
  const vmsInSim = () =>
    sim
      .inventory()
      .filter(
        (r) => r.type === 'instance' && r.cloud === cloud && r.state !== 'terminated' && r.state !== 'TERMINATED',
      );

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20, seed: 14 });
  });

  afterAll(async () => {
    try {
      const ctx = contexts[0];
      if (ctx) {
        const provider = await ctx.provider(cloud);
        const left = await provider.listInstances(cluster);
        if (left.length) await provider.terminateInstances(left.map((i) => i.id));
        await provider.deleteNetwork(cluster);
      }
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
      await sim.stop();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    }
  });

  it('makes one VM when two processes launch the same node at once, and a new one once it is gone', async () => {
    const [a, b] = await Promise.all([operator(), operator()]);
    const network = await a.network(cloud);
    const [ip] = pickAddresses(network, [], 1);
    const pool = a.spec.pools[0]!;
    const node = { name: `${cluster}-w-1`, pool, ip: ip! };
    const [first, second] = await Promise.all([
      launchNode(a, node, 'manager', true, {}),
      launchNode(b, node, 'manager', true, {}),
    ]);
    expect(second.name).toBe(first.name);
    expect(second.id).toBe(first.id);
    expect(vmsInSim()).toHaveLength(1);

    // Scale-down then up (or a replaced stray): the token of the gone VM must not block its successor.
    const provider = await a.provider(cloud);
    await provider.terminateInstances([first.id]);
    const c = await operator();
    const again = await launchNode(c, node, 'manager', true, {});
    if (cloud === 'aws') expect(again.id).not.toBe(first.id); // a GCE id is zone/name: the successor reuses it
    // EC2 names a VM by its id (one create call per pool, no per-instance name); the others keep the planned name.
    expect(again.name).toBe(cloud === 'aws' ? `${cluster}-w-${again.id.slice(2)}` : node.name);
    expect((await provider.listInstances(cluster)).filter((i) => i.name === again.name)).toHaveLength(1);
    expect(vmsInSim()).toHaveLength(1);
  });
});
