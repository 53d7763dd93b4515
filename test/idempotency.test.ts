import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import { ClusterContext } from '../src/cluster/context.js';
import { launchNode } from '../src/cluster/launch.js';
import { launchToken } from '../src/cluster/launch-token.js';
import { computePlan } from '../src/plan.js';
import type { ProviderOverrides } from '../src/providers/registry.js';
import { TAG_KEYS } from '../src/providers/types.js';
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
  const rerunCluster = `idem2-${cloud}`;
  const raceCluster = `idem3-${cloud}`;
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
  const spec = (name: string, count: number): ClusterSpec =>
    parseSpec({
      name,
      engine: 'swarm',
      pools: [
        cloud === 'aws'
          ? { name: 'w', provider: 'aws', role: 'manager', count, region: 'us-east-1', instanceType: 't3.micro' }
          : { name: 'w', provider: 'gcp', role: 'manager', count, region: 'us-central1', instanceType: 'e2-small' },
      ],
    });
  const operator = async (name = cluster, count = 1): Promise<ClusterContext> => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-idem-'));
    dirs.push(dir);
    const ctx = new ClusterContext(spec(name, count), { stateDir: dir, providers: overrides() }, logger);
    contexts.push(ctx);
    return ctx;
  };
  const vmsInSim = (name = cluster) =>
    sim
      .inventory()
      .filter(
        (r) =>
          r.type === 'instance' &&
          r.cloud === cloud &&
          r.tags?.[TAG_KEYS.cluster] === name &&
          r.state !== 'terminated' &&
          r.state !== 'TERMINATED',
      );

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20, seed: 14 });
  });

  afterAll(async () => {
    try {
      const ctx = contexts[0];
      if (ctx) {
        const provider = await ctx.provider(cloud);
        for (const name of [cluster, rerunCluster, raceCluster]) {
          const left = await provider.listInstances(name);
          if (left.length) await provider.terminateInstances(left.map((i) => i.id));
          await provider.deleteNetwork(name);
        }
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

  // A run launched node 1 of two and was killed. EC2 names a VM by its id, so the rerun plans the missing node as
  // number 1 again: its launch must not go out under the listed VM's token (the cloud would answer with that VM).
  it('a rerun that finds one of two VMs launched makes the other, not the listed one again', async () => {
    const first = await operator(rerunCluster, 2);
    const pool = first.spec.pools[0]!;
    const network = await first.network(cloud);
    const [ip] = pickAddresses(network, [], 1);
    const one = await launchNode(first, { name: `${rerunCluster}-w-1`, pool, ip: ip! }, 'manager', true, {});
    const rerun = await operator(rerunCluster, 2);
    const listed = await rerun.inventory();
    const [create] = computePlan(rerun.spec, listed).creates;
    expect(create?.names).toHaveLength(1);
    const [ip2] = pickAddresses(network, [one.privateIp!], 1);
    const two = await launchNode(rerun, { name: create!.names[0]!, pool, ip: ip2! }, 'manager', false, {});
    expect(two.id).not.toBe(one.id);
    expect(vmsInSim(rerunCluster)).toHaveLength(2);
  });

  // Two processes: the second lists while the first has launched node 1 of two and is still launching node 2. The
  // second must plan node 2 under node 2's token (EC2: read back from the listed VM's token), so both get one VM.
  it("a process that sees part of another one's launches plans the rest under the same tokens: no duplicate", async () => {
    const a = await operator(raceCluster, 2);
    const pool = a.spec.pools[0]!;
    const network = await a.network(cloud);
    const [ip1, ip2] = pickAddresses(network, [], 2);
    const one = await launchNode(a, { name: `${raceCluster}-w-1`, pool, ip: ip1! }, 'manager', true, {});
    const b = await operator(raceCluster, 2);
    const [create] = computePlan(b.spec, await b.inventory()).creates;
    expect(create?.names).toEqual([`${raceCluster}-w-2`]);
    const [twoA, twoB] = await Promise.all([
      launchNode(a, { name: `${raceCluster}-w-2`, pool, ip: ip2! }, 'manager', false, {}),
      launchNode(b, { name: create!.names[0]!, pool, ip: ip2! }, 'manager', false, {}),
    ]);
    expect(twoB.id).toBe(twoA.id);
    expect(twoA.id).not.toBe(one.id);
    expect(vmsInSim(raceCluster)).toHaveLength(2);
  });
});
