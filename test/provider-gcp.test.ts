/** The gcp adapter (official @google-cloud/compute client) against a started cloudsim. */

import { ComputeClients } from '../providers/gcp/clients.js';
import { createProvider, type GcpProviderSettings } from '../providers/gcp/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import {
  CapacityError,
  CloudApiError,
  PrerequisiteError,
  QuotaError,
  type SkypoolError,
  ThrottledError,
} from '../src/errors.js';
import { loadProvider } from '../src/providers/registry.js';
import type { LaunchRequest, NetworkRef, OwnershipTags, Provider } from '../src/providers/types.js';
import type { NodePoolSpec } from '../src/spec/schema.js';

const PROJECT = 'skypool-test';
const CLUSTER = 'gcpt';

function pool(overrides: Partial<NodePoolSpec> = {}): NodePoolSpec {
  return { name: 'work', provider: 'gcp', count: 3, role: 'worker', instanceType: 'e2-small', ...overrides };
}

function tags(poolName: string, role: OwnershipTags['role'] = 'worker'): OwnershipTags {
  return { cluster: CLUSTER, pool: poolName, role, specHash: 'h1' };
}

describe('gcp provider on cloudsim', () => {
  let sim: CloudSim;
  let provider: Provider;
  let network: NetworkRef;
  const made: Provider[] = [];
  const settings = (): GcpProviderSettings => ({
    project: PROJECT,
    region: 'us-central1',
    apiEndpoint: sim.host,
    port: sim.httpPort,
    protocol: 'http',
    accessToken: sim.credentials.gcp.accessToken,
    pollIntervalMs: 20,
  });
  const gcpInstances = () => sim.inventory().filter((r) => r.cloud === 'gcp' && r.type === 'instance');
  const calls = (action: string) =>
    sim.meter
      .snapshot()
      .filter((m) => m.cloud === 'gcp' && m.action === action)
      .reduce((n, m) => n + m.count, 0);
  const request = (
    overrides: Partial<LaunchRequest> & Pick<LaunchRequest, 'nodes' | 'idempotencyToken'>,
  ): LaunchRequest => ({
    cluster: CLUSTER,
    pool: pool(),
    tags: tags('work'),
    network,
    userData: '#cloud-config\nruncmd: [echo hi]\n',
    ...overrides,
  });

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50, seed: 3 });
    provider = await loadProvider('gcp', { ...settings() });
    made.push(provider);
  });

  afterAll(async () => {
    try {
      const left = await provider.listInstances(CLUSTER);
      await provider.terminateInstances(left.map((i) => i.id));
      await provider.deleteNetwork(CLUSTER);
    } finally {
      await Promise.all(made.map((p) => p.close?.()));
      await sim.stop();
    }
  });

  it('checks prerequisites: passes with endpoint and token, names the setting when project or credentials are missing', async () => {
    await expect(provider.checkPrerequisites()).resolves.toBeUndefined();
    const saved = { ...process.env };
    try {
      delete process.env.GOOGLE_CLOUD_PROJECT;
      delete process.env.GCLOUD_PROJECT;
      delete process.env.CLOUDSDK_CORE_PROJECT;
      process.env.GOOGLE_APPLICATION_CREDENTIALS = '/nonexistent/key.json';
      const noProject = createProvider({ ...settings(), project: undefined });
      made.push(noProject);
      await expect(noProject.checkPrerequisites()).rejects.toThrow(/GOOGLE_CLOUD_PROJECT/);
      const noCreds = createProvider({ ...settings(), accessToken: undefined });
      made.push(noCreds);
      const error = await noCreds.checkPrerequisites().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as Error).message).toMatch(/GOOGLE_APPLICATION_CREDENTIALS/);
      // The gcloud / Terraform environment variables alone point the provider at the simulator.
      process.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE = sim.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE;
      process.env.CLOUDSDK_AUTH_ACCESS_TOKEN = sim.env.CLOUDSDK_AUTH_ACCESS_TOKEN;
      const fromEnv = createProvider({ project: PROJECT, region: 'us-central1' });
      made.push(fromEnv);
      await expect(fromEnv.checkPrerequisites()).resolves.toBeUndefined();
      await expect(fromEnv.listInstances('nobody')).resolves.toEqual([]);
      const wrongToken = createProvider({ ...settings(), accessToken: 'ya29.not-this-sims-token' });
      made.push(wrongToken);
      await expect(wrongToken.checkPrerequisites()).rejects.toThrow(/refused the credentials .*401/);
      const badRegion = createProvider({ ...settings(), region: 'mars-north1' });
      made.push(badRegion);
      await expect(badRegion.checkPrerequisites()).rejects.toThrow(PrerequisiteError);
    } finally {
      process.env = saved;
    }
  });

  it('refuses plain http to a host that is not loopback, naming the setting and the fix, before any call', async () => {
    const before = sim.meter.snapshot().filter((m) => m.cloud === 'gcp').length;
    for (const apiEndpoint of ['compute.example.com', '192.0.2.10', '10.0.0.1']) {
      const remote = createProvider({ ...settings(), apiEndpoint });
      made.push(remote);
      const error = await remote.checkPrerequisites().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as SkypoolError).message).toMatch(/protocol is 'http'.*not a loopback host.*Use protocol 'https'/);
      await expect(remote.listInstances(CLUSTER)).rejects.toThrow(PrerequisiteError);
    }
    const saved = { ...process.env };
    try {
      process.env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE = 'http://203.0.113.7:8080/compute/v1/';
      const fromEnv = createProvider({ project: PROJECT, region: 'us-central1', accessToken: 'x' });
      made.push(fromEnv);
      await expect(fromEnv.checkPrerequisites()).rejects.toThrow(/CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE/);
    } finally {
      process.env = saved;
    }
    expect(sim.meter.snapshot().filter((m) => m.cloud === 'gcp').length).toBe(before);
    // Loopback over http stays allowed: the suite's own provider talks to cloudsim on 127.0.0.1.
    await expect(provider.checkPrerequisites()).resolves.toBeUndefined();
  });

  it('ensureNetwork creates network, subnetwork and three firewall rules (internal, engine API, fabric) once, then finds them by name', async () => {
    sim.meter.reset();
    network = await provider.ensureNetwork(CLUSTER);
    expect(network.id).toBe(`projects/${PROJECT}/regions/us-central1/subnetworks/skypool-${CLUSTER}-us-central1`);
    expect(network.cidr).toMatch(/^10\.\d+\.\d+\.0\/20$/);
    expect(network.reservedAddresses).toHaveLength(4);
    const again = await provider.ensureNetwork(CLUSTER);
    expect(again).toEqual(network);
    const inv = sim.inventory().filter((r) => r.cloud === 'gcp');
    expect(inv.filter((r) => r.type === 'network')).toHaveLength(1);
    expect(inv.filter((r) => r.type === 'subnetwork')).toHaveLength(1);
    expect(
      inv
        .filter((r) => r.type === 'firewall')
        .map((r) => r.id.split('/').pop())
        .sort(),
    ).toEqual([`skypool-${CLUSTER}-engine-api`, `skypool-${CLUSTER}-fabric`, `skypool-${CLUSTER}-internal`]);
    expect(calls('networks.insert') + calls('subnetworks.insert') + calls('firewalls.insert')).toBe(5);
    expect(network.region).toBe('us-central1');
    // The engine API is open to the operator only (cloudsim on loopback: 127.0.0.1/32), never 0.0.0.0/0 by default.
    const clients = new ComputeClients(settings());
    try {
      const [rule] = await clients.firewalls.get({ project: PROJECT, firewall: `skypool-${CLUSTER}-engine-api` });
      expect(rule.sourceRanges).toEqual(['127.0.0.1/32']);
      // The fabric's WireGuard port is open to the world: nodes of other clouds peer over public addresses.
      const [fabric] = await clients.firewalls.get({ project: PROJECT, firewall: `skypool-${CLUSTER}-fabric` });
      expect(fabric.sourceRanges).toEqual(['0.0.0.0/0']);
      expect(fabric.allowed).toEqual([expect.objectContaining({ IPProtocol: 'udp', ports: ['51820'] })]);
    } finally {
      await clients.close();
    }
    const wide = createProvider({ ...settings(), engineApiSources: ['198.51.100.0/24', '0.0.0.0/0'] });
    made.push(wide);
    await expect(wide.engineApiSources!()).resolves.toEqual(['198.51.100.0/24', '0.0.0.0/0']);
  });

  it('launches nodes without fixed IPs in one bulkInsert, waits until running, and does not duplicate on a repeated token', async () => {
    sim.meter.reset();
    const nodes = [{ name: `${CLUSTER}-work-1` }, { name: `${CLUSTER}-work-2` }, { name: `${CLUSTER}-work-3` }];
    const launched = await provider.runInstances(request({ nodes, idempotencyToken: 'tok-1' }));
    expect(launched.map((i) => i.name)).toEqual(nodes.map((n) => n.name));
    expect(calls('instances.bulkInsert')).toBe(1);
    expect(calls('instances.insert')).toBe(0);
    expect(launched[0]).toMatchObject({
      provider: 'gcp',
      zone: 'us-central1-a',
      region: 'us-central1',
      instanceType: 'e2-small',
      tags: tags('work'),
    });

    sim.meter.reset();
    const running = await provider.waitUntilRunning(
      launched.map((i) => i.id),
      { deadline: Date.now() + 10_000 },
    );
    expect(running.every((i) => i.state === 'running')).toBe(true);
    // One list with a name filter per poll, not one get per VM.
    expect(calls('instances.get')).toBe(0);
    expect(calls('instances.list')).toBeGreaterThanOrEqual(1);
    const prefix = network.cidr.split('.').slice(0, 2).join('.');
    expect(running.every((i) => i.privateIp?.startsWith(`${prefix}.`) && i.publicIp)).toBe(true);

    const again = await provider.runInstances(request({ nodes, idempotencyToken: 'tok-1' }));
    expect(again.map((i) => i.id)).toEqual(launched.map((i) => i.id));
    expect(gcpInstances()).toHaveLength(3);
    // A new token for the same names (e.g. requestId forgotten) with the same user-data is accepted as the same launch.
    const sameNames = await provider.runInstances(request({ nodes, idempotencyToken: 'tok-2' }));
    expect(sameNames).toHaveLength(3);
    expect(gcpInstances()).toHaveLength(3);
    await expect(
      provider.runInstances(request({ nodes, idempotencyToken: 'tok-3', userData: 'other' })),
    ).rejects.toThrow(CloudApiError);
  });

  it('launches a node with a fixed private IP through instances.insert, and maps a size to the smallest fitting type', async () => {
    sim.meter.reset();
    const base = network.cidr.split('/')[0]!.split('.').map(Number);
    const ip = `${base[0]}.${base[1]}.${base[2]}.50`;
    const [manager] = await provider.runInstances(
      request({
        pool: pool({ name: 'mgr', instanceType: undefined, size: { cpus: 3, memoryGiB: 10 }, role: 'manager' }),
        tags: tags('mgr', 'manager'),
        nodes: [{ name: `${CLUSTER}-mgr-1`, privateIp: ip }],
        idempotencyToken: 'tok-mgr',
      }),
    );
    expect(calls('instances.insert')).toBe(1);
    expect(manager).toMatchObject({ privateIp: ip, instanceType: 'e2-standard-4', tags: tags('mgr', 'manager') });
    const [running] = await provider.waitUntilRunning([manager!.id], { deadline: Date.now() + 10_000 });
    expect(running).toMatchObject({ state: 'running', privateIp: ip });
  });

  it('lists the cluster by label across zones and ignores other clusters', async () => {
    await provider.runInstances(
      request({
        cluster: 'other',
        tags: { ...tags('work'), cluster: 'other' },
        nodes: [{ name: 'other-work-1' }],
        idempotencyToken: 'tok-other',
        zone: 'us-central1-b',
      }),
    );
    const listed = await provider.listInstances(CLUSTER);
    expect(listed.map((i) => i.name)).toEqual([
      `${CLUSTER}-mgr-1`,
      `${CLUSTER}-work-1`,
      `${CLUSTER}-work-2`,
      `${CLUSTER}-work-3`,
    ]);
    expect(listed.every((i) => i.tags.cluster === CLUSTER)).toBe(true);
    const other = await provider.listInstances('other');
    expect(other.map((i) => i.id)).toEqual(['us-central1-b/other-work-1']);
    await provider.terminateInstances(other.map((i) => i.id));
    await expect(
      provider.waitUntilRunning(
        other.map((i) => i.id),
        { deadline: Date.now() + 2000 },
      ),
    ).rejects.toThrow(/no longer exists/);
  });

  it('turns an asynchronous capacity error into CapacityError and a quota error into QuotaError, creating nothing', async () => {
    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: 'us-central1-c', times: 1 });
    const before = gcpInstances().length;
    const error = await provider
      .runInstances(
        request({
          nodes: [{ name: `${CLUSTER}-cap-1` }, { name: `${CLUSTER}-cap-2` }],
          idempotencyToken: 'tok-cap',
          zone: 'us-central1-c',
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapacityError);
    expect((error as SkypoolError).details).toMatchObject({
      zone: 'us-central1-c',
      instanceType: 'e2-small',
      cloudCode: 'ZONE_RESOURCE_POOL_EXHAUSTED',
    });
    sim.addFault({ cloud: 'gcp', kind: 'quota', region: 'us-central1', times: 1 });
    await expect(
      provider.runInstances(request({ nodes: [{ name: `${CLUSTER}-q-1` }], idempotencyToken: 'tok-q' })),
    ).rejects.toThrow(QuotaError);
    expect(gcpInstances()).toHaveLength(before);
  });

  it('two concurrent ensureNetwork calls converge on one network (the second waits while the network is not ready)', async () => {
    const slow = await startCloudSim({ bootTimeMs: 400, credentials: sim.credentials });
    const a = createProvider({ ...settings(), port: slow.httpPort });
    const b = createProvider({ ...settings(), port: slow.httpPort });
    try {
      const [ra, rb] = await Promise.all([a.ensureNetwork('race'), b.ensureNetwork('race')]);
      expect(rb).toEqual(ra);
      const inv = slow.inventory().filter((r) => r.cloud === 'gcp');
      expect(inv.map((r) => r.type).sort()).toEqual(['firewall', 'firewall', 'firewall', 'network', 'subnetwork']);
      await a.deleteNetwork('race');
      expect(slow.inventory().filter((r) => r.cloud === 'gcp')).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await slow.stop();
    }
  });

  it('reports throttling after the client gives up as ThrottledError', async () => {
    const tight = await startCloudSim({
      bootTimeMs: 50,
      rateLimits: { gcp: { scale: 0.002 } },
      credentials: sim.credentials,
    });
    const p = createProvider({ ...settings(), port: tight.httpPort });
    try {
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => p.listInstances(CLUSTER)));
      const reasons = results
        .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        .map((r) => r.reason as unknown);
      expect(reasons.length).toBeGreaterThan(0);
      expect(reasons.every((r) => r instanceof ThrottledError)).toBe(true);
      expect(JSON.stringify(reasons.map((r) => (r as SkypoolError).toJSON()))).not.toContain(
        sim.credentials.gcp.accessToken,
      );
    } finally {
      await p.close();
      await tight.stop();
    }
  });

  it('repeats a throttled, 503 or reset call up to maxAttempts (3) in all, never more, and an insert keeps its requestId', async () => {
    const listCalls = () => calls('instances.aggregatedList');
    const cases = [
      { kind: 'throttle', times: 2, ok: true },
      { kind: 'server-error', times: 2, ok: true },
      { kind: 'reset', times: 2, ok: true },
      { kind: 'throttle', times: 5, ok: false },
      { kind: 'server-error', times: 5, ok: false },
    ] as const;
    for (const c of cases) {
      sim.clearFaults();
      sim.addFault({ cloud: 'gcp', kind: c.kind, times: c.times });
      const before = listCalls() + calls('connection:reset');
      const outcome = await provider.listInstances(CLUSTER).then(
        () => 'listed',
        (e: SkypoolError) => `${e.code} retryable=${e.retryable}`,
      );
      sim.clearFaults();
      expect({ ...c, outcome, calls: listCalls() + calls('connection:reset') - before }).toEqual({
        ...c,
        outcome: c.ok
          ? 'listed'
          : c.kind === 'throttle'
            ? 'THROTTLED retryable=true'
            : 'CLOUD_API_ERROR retryable=true',
        calls: 3,
      });
    }
    // The answer to a network insert is lost after the cloud made it: the repeat carries the same requestId and is
    // answered with the first Operation (no 409 from a second create), and one network exists.
    sim.addFault({ cloud: 'gcp', kind: 'truncate', times: 1, request: '^POST [^?]*/global/networks\\?' });
    const inserts = () =>
      sim.meter
        .snapshot()
        .filter((m) => m.cloud === 'gcp' && m.action === 'networks.insert')
        .map((m) => `${m.outcome} ${m.count}`);
    try {
      await provider.ensureNetwork('retried');
    } finally {
      sim.clearFaults();
    }
    expect(inserts()).toEqual(['ok 2']);
    const made = sim.inventory().filter((r) => r.cloud === 'gcp' && r.id.includes('retried'));
    expect(made.map((r) => r.type).sort()).toEqual(['firewall', 'firewall', 'firewall', 'network', 'subnetwork']);
    await provider.deleteNetwork('retried');
  });

  it('refuses to delete a network still in use, then terminates everything and leaves nothing behind', async () => {
    await expect(provider.deleteNetwork(CLUSTER)).rejects.toThrow(/terminate the cluster's instances first/);
    const all = await provider.listInstances(CLUSTER);
    sim.meter.reset();
    await provider.terminateInstances(all.map((i) => i.id));
    expect(calls('instances.delete')).toBe(all.length);
    await provider.terminateInstances(all.map((i) => i.id));
    expect(await provider.listInstances(CLUSTER)).toEqual([]);
    await provider.deleteNetwork(CLUSTER);
    await provider.deleteNetwork(CLUSTER);
    expect(sim.inventory().filter((r) => r.cloud === 'gcp')).toEqual([]);
  });
});
