import type { AzureClients } from '../providers/azure/clients.js';
import { type AzureProvider, createProvider } from '../providers/azure/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { CapacityError, PrerequisiteError, QuotaError, ThrottledError } from '../src/errors.js';
import type { LaunchRequest, NetworkRef } from '../src/providers/types.js';
import type { NodePoolSpec } from '../src/spec/schema.js';

const SUB = '3f2c1a9e-7b4d-4e21-9c55-0a1b2c3d4e5f';
const CLUSTER = 'azt';
const credential = {
  getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
};

let sim: CloudSim;
let provider: AzureProvider;
let network: NetworkRef;

const pool: NodePoolSpec = {
  name: 'web',
  provider: 'azure',
  count: 3,
  role: 'worker',
  instanceType: 'Standard_D2s_v5',
};
const tags = { cluster: CLUSTER, pool: 'web', role: 'worker' as const, specHash: 'abc123' };

function request(nodes: LaunchRequest['nodes'], extra: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    cluster: CLUSTER,
    pool,
    tags,
    network,
    nodes,
    userData: '#!/bin/sh\necho hello\n',
    idempotencyToken: 'tok-1',
    ...extra,
  };
}

const azureItems = (type: string) => sim.inventory().filter((r) => r.cloud === 'azure' && r.type === type);
const calls = (action: string) =>
  sim.meter
    .snapshot()
    .filter((c) => c.cloud === 'azure' && c.action === action)
    .reduce((n, c) => n + c.count, 0);

beforeAll(async () => {
  sim = await startCloudSim({ bootTimeMs: 50, seed: 7 });
  provider = createProvider({
    subscriptionId: SUB,
    region: 'eastus',
    endpoint: sim.httpsUrl,
    caCertPem: sim.caCertPem,
    credential,
    pollIntervalMs: 10,
  });
});

afterAll(async () => {
  await provider?.deleteNetwork(CLUSTER).catch(() => undefined);
  await provider?.close();
  await sim?.stop();
});

test('checkPrerequisites names what is missing', async () => {
  await expect(provider.checkPrerequisites()).resolves.toBeUndefined();
  const saved = process.env.AZURE_SUBSCRIPTION_ID;
  delete process.env.AZURE_SUBSCRIPTION_ID;
  try {
    const bare = createProvider({ endpoint: sim.httpsUrl, credential });
    await expect(bare.checkPrerequisites()).rejects.toThrow(PrerequisiteError);
    await expect(bare.checkPrerequisites()).rejects.toThrow(/AZURE_SUBSCRIPTION_ID/);
    await expect(
      createProvider({ subscriptionId: SUB, endpoint: 'http://127.0.0.1:1', credential }).checkPrerequisites(),
    ).rejects.toThrow(/https/);
    await expect(
      createProvider({
        subscriptionId: SUB,
        endpoint: sim.httpsUrl,
        credential,
        caCertFile: '/nonexistent/ca.pem',
      }).checkPrerequisites(),
    ).rejects.toThrow(/ca-out/);
  } finally {
    if (saved !== undefined) process.env.AZURE_SUBSCRIPTION_ID = saved;
  }
});

test('ensureNetwork is idempotent: found again by tags, nothing created twice', async () => {
  network = await provider.ensureNetwork(CLUSTER);
  expect(network.id).toMatch(
    /\/resourceGroups\/skypool-azt\/providers\/Microsoft\.Network\/virtualNetworks\/azt-vnet\/subnets\/nodes$/,
  );
  expect(network.cidr).toMatch(/^10\.\d+\.0\.0\/20$/);
  expect(network.reservedAddresses).toHaveLength(4);
  const writes = calls('VirtualNetworks_CreateOrUpdate') + calls('NetworkSecurityGroups_CreateOrUpdate');
  const again = await provider.ensureNetwork(CLUSTER);
  expect(again).toEqual(network);
  expect(calls('VirtualNetworks_CreateOrUpdate') + calls('NetworkSecurityGroups_CreateOrUpdate')).toBe(writes);
  expect(azureItems('Microsoft.Network/virtualNetworks')).toHaveLength(1);
  const nsg = azureItems('Microsoft.Network/networkSecurityGroups');
  expect(nsg).toHaveLength(1);
  expect(nsg[0]!.tags).toEqual({ 'skypool-cluster': CLUSTER });
  // The engine API is open to the operator only (cloudsim on loopback: 127.0.0.1/32), not to `Internet`.
  await expect(provider.engineApiSources!()).resolves.toEqual(['127.0.0.1/32']);
  const { clients } = provider as unknown as { clients: AzureClients };
  const group = await clients.network.networkSecurityGroups.get(`skypool-${CLUSTER}`, `${CLUSTER}-nsg`);
  const rule = group.securityRules?.find((r) => r.name === 'engine-api');
  expect(rule?.sourceAddressPrefix).toBe('127.0.0.1/32');
  // The fabric's WireGuard port is open to any source (other clouds' nodes peer over public addresses).
  const fabric = group.securityRules?.find((r) => r.name === 'skypool-fabric');
  expect(fabric).toMatchObject({
    protocol: 'Udp',
    destinationPortRange: '51820',
    sourceAddressPrefix: '*',
    access: 'Allow',
  });
  expect(network.region).toBe('eastus');
});

/** The VM a scale set made for the unpinned node: named by Azure (prefix + 6 characters), found in the first test. */
let web3: { name: string; vm: string } | undefined;
const SCALE_SET_NODE = /^azt-web-v[0-9a-f]{4}[a-z0-9]{6}$/;

test('runInstances → running with the fixed IPs and a scale set for the rest; same token again makes no duplicates', async () => {
  const base = network.cidr.split('.').slice(0, 2).join('.');
  const nodes = [
    { name: 'azt-web-1', privateIp: `${base}.0.10` },
    { name: 'azt-web-2', privateIp: `${base}.0.11` },
    { name: 'azt-web-3' },
  ];
  const launched = await provider.runInstances(request(nodes));
  const names = launched.map((i) => i.name).sort();
  expect(names.slice(0, 2)).toEqual(['azt-web-1', 'azt-web-2']);
  expect(names[2]).toMatch(SCALE_SET_NODE);
  const fromSet = launched.find((i) => SCALE_SET_NODE.test(i.name))!;
  web3 = { name: fromSet.name, vm: fromSet.id.split('/').pop()! };
  expect(web3.vm).toMatch(/^azt-web-[0-9a-f]{8}_[0-9a-f]{8}$/);
  const running = await provider.waitUntilRunning(
    launched.map((i) => i.id),
    { deadline: Date.now() + 10_000 },
  );
  expect(running.every((i) => i.state === 'running')).toBe(true);
  const ipOf = (name: string) => running.find((i) => i.name === name)?.privateIp;
  expect(ipOf('azt-web-1')).toBe(`${base}.0.10`);
  expect(ipOf('azt-web-2')).toBe(`${base}.0.11`);
  expect(ipOf(web3.name)).toMatch(new RegExp(`^${base.replace('.', '\\.')}\\.0\\.\\d+$`));
  expect(running[0]!.instanceType).toBe('Standard_D2s_v5');
  expect(new Set(running.map((i) => i.publicIp)).size).toBe(3);
  expect(running.every((i) => /^20\.\d+\.\d+\.\d+$/.test(i.publicIp ?? ''))).toBe(true);
  expect(running.map((i) => i.tags)).toEqual([tags, tags, tags]);

  const vmPuts = calls('VirtualMachines_CreateOrUpdate');
  const setPuts = calls('VirtualMachineScaleSets_CreateOrUpdate');
  const again = await provider.runInstances(request(nodes));
  expect(again.map((i) => i.id).sort()).toEqual(launched.map((i) => i.id).sort());
  expect(calls('VirtualMachines_CreateOrUpdate')).toBe(vmPuts + 2);
  expect(calls('VirtualMachineScaleSets_CreateOrUpdate')).toBe(setPuts + 1);
  expect(azureItems('Microsoft.Compute/virtualMachines')).toHaveLength(3);
  expect(azureItems('Microsoft.Compute/virtualMachineScaleSets')).toHaveLength(1);
  expect(azureItems('Microsoft.Network/networkInterfaces')).toHaveLength(3);
  expect(azureItems('Microsoft.Network/publicIPAddresses')).toHaveLength(3);

  const listed = await provider.listInstances(CLUSTER);
  expect(listed.map((i) => i.name).sort()).toEqual(names);
  expect(listed.every((i) => i.privateIp && i.publicIp && i.state === 'running' && i.zone === undefined)).toBe(true);
  expect(await provider.listInstances('nosuchcluster')).toEqual([]);
});

test('a deallocated or powered-off VM is listed as stopped, and as running again once started', async () => {
  const { clients } = provider as unknown as { clients: AzureClients };
  const group = `skypool-${CLUSTER}`;
  const poll = { updateIntervalInMs: 10 };
  const stateOf = async (name: string) => (await provider.listInstances(CLUSTER)).find((i) => i.name === name)?.state;
  await clients.compute.virtualMachines.beginDeallocateAndWait(group, web3!.vm, poll);
  await clients.compute.virtualMachines.beginPowerOffAndWait(group, 'azt-web-2', poll);
  expect(await stateOf(web3!.name)).toBe('stopped');
  expect(await stateOf('azt-web-2')).toBe('stopped');
  expect(await stateOf('azt-web-1')).toBe('running');
  await Promise.all([
    clients.compute.virtualMachines.beginStartAndWait(group, web3!.vm, poll),
    clients.compute.virtualMachines.beginStartAndWait(group, 'azt-web-2', poll),
  ]);
  const listed = await provider.listInstances(CLUSTER);
  expect(listed.map((i) => [i.name, i.state]).sort()).toEqual([
    ['azt-web-1', 'running'],
    ['azt-web-2', 'running'],
    [web3!.name, 'running'],
  ]);
});

test('listing reads scale sets by filtered listings and few standalone VMs one by one; many standalone VMs whole', async () => {
  const listAll = () => calls('VirtualMachines_ListAll');
  const before = listAll();
  expect((await provider.listInstances(CLUSTER)).every((i) => i.state === 'running')).toBe(true);
  expect(listAll()).toBe(before); // no subscription-wide listing for power states
  const base = network.cidr.split('.').slice(0, 2).join('.');
  const many = Array.from({ length: 17 }, (_, k) => ({ name: `azt-fix-${k + 1}`, privateIp: `${base}.1.${10 + k}` }));
  const fixed = await provider.runInstances(
    request(many, { pool: { ...pool, name: 'fix' }, tags: { ...tags, pool: 'fix' }, idempotencyToken: 'tok-fix' }),
  );
  try {
    const listed = await provider.listInstances(CLUSTER);
    expect(listed.filter((i) => i.tags.pool === 'fix' && i.state === 'running')).toHaveLength(17);
    expect(listed.filter((i) => i.tags.pool === 'web')).toHaveLength(3);
    expect(listAll()).toBeGreaterThan(before);
  } finally {
    await provider.terminateInstances(fixed.map((i) => i.id));
  }
});

test("a scale set VM without tags of its own is the scale set's (nothing relies on Azure copying them)", async () => {
  const { clients } = provider as unknown as { clients: AzureClients };
  await clients.compute.virtualMachines.update(
    `skypool-${CLUSTER}`,
    web3!.vm,
    { tags: {} },
    { updateIntervalInMs: 10 },
  );
  expect((await clients.compute.virtualMachines.get(`skypool-${CLUSTER}`, web3!.vm)).tags ?? {}).toEqual({});
  const listed = (await provider.listInstances(CLUSTER)).find((i) => i.name === web3!.name);
  expect(listed?.tags).toEqual(tags);
  const [running] = await provider.waitUntilRunning([listed!.id], { deadline: Date.now() + 10_000 });
  expect(running).toMatchObject({ name: web3!.name, tags, state: 'running' });
});

test('size maps to the smallest fitting VM size of the region', async () => {
  const sized: NodePoolSpec = {
    name: 'big',
    provider: 'azure',
    count: 1,
    role: 'worker',
    size: { cpus: 4, memoryGiB: 30 },
  };
  const [vm] = await provider.runInstances(
    request([{ name: 'azt-big-1' }], { pool: sized, zone: '1', tags: { ...tags, pool: 'big' } }),
  );
  expect(vm!.instanceType).toBe('Standard_E4s_v5');
  expect(vm!.zone).toBe('1');
  await provider.terminateInstances([vm!.id]);
  expect(azureItems('Microsoft.Compute/virtualMachines').map((r) => r.id)).not.toContain(vm!.id);
});

test('async capacity failure → CapacityError and nothing left behind', async () => {
  sim.addFault({ cloud: 'azure', kind: 'capacity', zone: '2', times: 1 });
  const before = azureItems('Microsoft.Compute/virtualMachines').length;
  const setsBefore = azureItems('Microsoft.Compute/virtualMachineScaleSets').length;
  const error = await provider
    .runInstances(request([{ name: 'azt-cap-1' }, { name: 'azt-cap-2' }], { zone: '2', idempotencyToken: 'tok-cap' }))
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CapacityError);
  expect((error as CapacityError).details).toMatchObject({
    zone: '2',
    instanceType: 'Standard_D2s_v5',
    code: 'ZonalAllocationFailed',
  });
  expect(azureItems('Microsoft.Compute/virtualMachines')).toHaveLength(before);
  expect(azureItems('Microsoft.Compute/virtualMachineScaleSets')).toHaveLength(setsBefore);
  expect(
    [...azureItems('Microsoft.Network/networkInterfaces'), ...azureItems('Microsoft.Network/publicIPAddresses')]
      .map((r) => r.id)
      .join(),
  ).not.toMatch(/azt-cap/);
  // The failover attempt in another zone with the same node names succeeds.
  const ok = await provider.runInstances(
    request([{ name: 'azt-cap-1' }], { zone: '3', idempotencyToken: 'tok-cap-z1' }),
  );
  expect(ok[0]!.zone).toBe('3');
  await provider.terminateInstances(ok.map((i) => i.id));
});

test('quota exceeded → QuotaError', async () => {
  sim.addFault({ cloud: 'azure', kind: 'quota', times: 1 });
  await expect(provider.runInstances(request([{ name: 'azt-q-1' }], { idempotencyToken: 'tok-q' }))).rejects.toThrow(
    QuotaError,
  );
  await provider.terminateInstances([
    `/subscriptions/${SUB}/resourceGroups/skypool-azt/providers/Microsoft.Compute/virtualMachines/azt-q-1`,
  ]);
});

test('throttling that outlasts the SDK retries → ThrottledError', async () => {
  // Writes: a bucket of 10 refilling 0.5/s, so the SDK's three Retry-After waits cannot drain a burst of 24 PUTs.
  // Same credentials as the main sim, so the module's credential serves both.
  const slow = await startCloudSim({
    bootTimeMs: 20,
    rateLimits: { azure: { scale: 0.05 } },
    credentials: sim.credentials,
  });
  const p = createProvider({
    subscriptionId: SUB,
    region: 'eastus',
    endpoint: slow.httpsUrl,
    caCertPem: slow.caCertPem,
    credential,
    pollIntervalMs: 10,
    concurrency: 12,
    publicIp: false,
  });
  try {
    const net = await p.ensureNetwork('thr');
    // Fixed addresses: a NIC and a VM PUT each (nodes without one would be a single scale set PUT).
    const base = net.cidr.split('.').slice(0, 2).join('.');
    const nodes = Array.from({ length: 12 }, (_, i) => ({ name: `thr-n-${i}`, privateIp: `${base}.0.${10 + i}` }));
    const error = await p
      .runInstances({ ...request(nodes), cluster: 'thr', network: net, tags: { ...tags, cluster: 'thr' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect(slow.inventory().some((r) => r.type === 'Microsoft.Network/publicIPAddresses')).toBe(false);
    expect(slow.meter.snapshot().some((m) => m.outcome === 'throttled')).toBe(true);
  } finally {
    await slow.stop();
  }
}, 40_000);

test('terminate, then deleteNetwork leaves nothing', async () => {
  const listed = await provider.listInstances(CLUSTER);
  await provider.terminateInstances(listed.map((i) => i.id));
  expect(await provider.listInstances(CLUSTER)).toEqual([]);
  await provider.terminateInstances(listed.map((i) => i.id)); // idempotent
  await provider.deleteNetwork(CLUSTER);
  await provider.deleteNetwork(CLUSTER); // idempotent
  expect(sim.inventory().filter((r) => r.cloud === 'azure')).toEqual([]);
});
