import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { signArmToken } from '../src/cloudsim/arm/auth.js';
import { type CloudSim, type CloudSimOptions, startCloudSim } from '../src/cloudsim/index.js';

/** Conformance of the simulated ARM, driven by the official SDK clients and, for the wire format, raw https. */
const SUB = '11111111-2222-4333-8444-555555555555';
const POLL = { updateIntervalInMs: 10 };
const VM_API = '2026-03-01';
const NET_API = '2025-05-01';
const RG_API = '2025-04-01';

interface Clients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
}
const sims: CloudSim[] = [];
let tmp: string | undefined;

async function start(options: CloudSimOptions = {}): Promise<{ sim: CloudSim; c: Clients }> {
  const sim = await startCloudSim({ bootTimeMs: 60, ...options });
  sims.push(sim);
  const opts = { endpoint: sim.httpsUrl, tlsOptions: { ca: sim.caCertPem } };
  const token = sim.credentials.azure.accessToken;
  const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
  return {
    sim,
    c: {
      compute: new ComputeManagementClient(credential, SUB, opts),
      network: new NetworkManagementClient(credential, SUB, opts),
      resources: new ResourceManagementClient(credential, SUB, opts),
    },
  };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** A third-party client: plain https with the sim's CA, following only the public wire format. */
function raw(
  sim: CloudSim,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${sim.credentials.azure.accessToken}` },
): Promise<RawResponse> {
  const url = new URL(path, sim.httpsUrl);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: sim.caCertPem,
        headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const rgPath = (rg: string) => `/subscriptions/${SUB}/resourceGroups/${rg}`;
const vmPath = (rg: string, vm: string) =>
  `${rgPath(rg)}/providers/Microsoft.Compute/virtualMachines/${vm}?api-version=${VM_API}`;
const nicId = (rg: string, nic: string) => `${rgPath(rg)}/providers/Microsoft.Network/networkInterfaces/${nic}`;
const subnetId = (rg: string) => `${rgPath(rg)}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`;

function vmBody(
  rg: string,
  nic: string,
  extra: { zone?: string; size?: string; customData?: string; image?: Record<string, string>; vmss?: string } = {},
): Record<string, unknown> {
  return {
    location: 'eastus',
    tags: { 'skypool-cluster': 'c1' },
    ...(extra.zone ? { zones: [extra.zone] } : {}),
    properties: {
      hardwareProfile: { vmSize: extra.size ?? 'Standard_D2s_v5' },
      storageProfile: {
        imageReference: extra.image ?? {
          publisher: 'Canonical',
          offer: 'ubuntu-24_04-lts',
          sku: 'server',
          version: 'latest',
        },
        osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
      },
      osProfile: {
        computerName: nic.replace(/-nic$/, ''),
        adminUsername: 'skypool',
        customData: extra.customData ?? Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          ssh: {
            publicKeys: [
              { path: '/home/skypool/.ssh/authorized_keys', keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 test' },
            ],
          },
        },
      },
      networkProfile: { networkInterfaces: [{ id: nicId(rg, nic), properties: { deleteOption: 'Delete' } }] },
      ...(extra.vmss ? { virtualMachineScaleSet: { id: extra.vmss } } : {}),
    },
  };
}

/** Resource group + NSG + VNet/subnet through the SDK. */
async function baseNetwork(c: Clients, rg: string): Promise<void> {
  await c.resources.resourceGroups.createOrUpdate(rg, { location: 'eastus', tags: { 'skypool-cluster': 'c1' } });
  const nsg = await c.network.networkSecurityGroups.beginCreateOrUpdateAndWait(
    rg,
    'nsg',
    {
      location: 'eastus',
      securityRules: [
        {
          name: 'swarm',
          priority: 100,
          protocol: 'Tcp',
          access: 'Allow',
          direction: 'Inbound',
          sourceAddressPrefix: 'VirtualNetwork',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRange: '2377',
        },
      ],
    },
    POLL,
  );
  await c.network.virtualNetworks.beginCreateOrUpdateAndWait(
    rg,
    'vnet',
    {
      location: 'eastus',
      addressSpace: { addressPrefixes: ['10.20.0.0/16'] },
      subnets: [{ name: 'default', addressPrefix: '10.20.0.0/20', networkSecurityGroup: { id: nsg.id } }],
    },
    POLL,
  );
}

async function nic(c: Clients, rg: string, name: string, ip?: string) {
  return c.network.networkInterfaces.beginCreateOrUpdateAndWait(
    rg,
    name,
    {
      location: 'eastus',
      ipConfigurations: [
        {
          name: 'ipconfig1',
          subnet: { id: subnetId(rg) },
          privateIPAllocationMethod: ip ? 'Static' : 'Dynamic',
          ...(ip ? { privateIPAddress: ip } : {}),
        },
      ],
    },
    POLL,
  );
}

async function vm(
  c: Clients,
  rg: string,
  name: string,
  extra: Parameters<typeof vmBody>[2] = {},
): Promise<VirtualMachine> {
  await nic(c, rg, `${name}-nic`);
  const body = vmBody(rg, `${name}-nic`, extra);
  const p = body.properties as Record<string, any>;
  return c.compute.virtualMachines.createOrUpdate(
    rg,
    name,
    {
      location: 'eastus',
      tags: body.tags as Record<string, string>,
      zones: extra.zone ? [extra.zone] : undefined,
      hardwareProfile: p.hardwareProfile,
      storageProfile: p.storageProfile,
      osProfile: p.osProfile,
      networkProfile: { networkInterfaces: [{ id: nicId(rg, `${name}-nic`), deleteOption: 'Delete' }] },
      ...(extra.vmss ? { virtualMachineScaleSet: { id: extra.vmss } } : {}),
    },
    POLL,
  );
}

async function deadline<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let sim: CloudSim;
let c: Clients;

beforeAll(async () => {
  ({ sim, c } = await start({ seed: 42 }));
  await baseNetwork(c, 'rg-main');
});

afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('protocol', () => {
  test('ARM is served over https only', async () => {
    const res = await fetch(`${sim.httpUrl}/subscriptions/${SUB}/resourcegroups?api-version=${RG_API}`, {
      headers: { authorization: `Bearer ${sim.credentials.azure.accessToken}` },
    });
    expect(res.status).toBe(404);
    expect((await raw(sim, 'GET', `/subscriptions/${SUB}/resourcegroups?api-version=${RG_API}`)).status).toBe(200);
  });

  test('a bearer token is required', async () => {
    const none = await raw(sim, 'GET', `${rgPath('rg-main')}?api-version=${RG_API}`, undefined, {});
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('AuthenticationFailed');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    const basic = await raw(sim, 'GET', `${rgPath('rg-main')}?api-version=${RG_API}`, undefined, {
      authorization: 'Basic dXNlcjpwYXNz',
    });
    expect(basic.body.error.code).toBe('AuthenticationFailedInvalidHeader');
    const expiredJwt = signArmToken(sim.credentials.azure.accessToken, {
      oid: 'u1',
      exp: Math.floor(Date.now() / 1000) - 60,
    });
    const expired = await raw(sim, 'GET', `${rgPath('rg-main')}?api-version=${RG_API}`, undefined, {
      authorization: `Bearer ${expiredJwt}`,
    });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('ExpiredAuthenticationToken');
  });

  test('api-version is validated per resource type', async () => {
    const missing = await raw(sim, 'GET', `${rgPath('rg-main')}`);
    expect([missing.status, missing.body.error.code]).toEqual([400, 'MissingApiVersionParameter']);
    const rg = await raw(sim, 'GET', `${rgPath('rg-main')}?api-version=2010-01-01`);
    expect([rg.status, rg.body.error.code]).toEqual([400, 'InvalidApiVersionParameter']);
    const vmWrong = await raw(
      sim,
      'GET',
      `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachines?api-version=${NET_API}`,
    );
    expect([vmWrong.status, vmWrong.body.error.code]).toEqual([400, 'NoRegisteredProviderFound']);
    expect(vmWrong.body.error.message).toContain(VM_API);
    const older = await raw(
      sim,
      'GET',
      `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01`,
    );
    expect(older.status).toBe(200);
  });

  test('bad requests get ARM error codes, never a crash', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PUT', vmPath('rg-main', 'x'), '{not json', 400, 'InvalidRequestContent'],
      ['PUT', vmPath('rg-main', 'x'), { properties: {} }, 400, 'LocationRequired'],
      ['PUT', vmPath('rg-main', 'x'), { location: 'mars' }, 400, 'LocationNotAvailableForResourceType'],
      ['PUT', vmPath('rg-main', 'bad name!'), { location: 'eastus' }, 400, 'InvalidResourceName'],
      ['PUT', vmPath('no-such-rg', 'x'), vmBody('no-such-rg', 'x-nic'), 404, 'ResourceGroupNotFound'],
      ['GET', vmPath('rg-main', 'ghost'), undefined, 404, 'ResourceNotFound'],
      [
        'GET',
        `/subscriptions/not-a-guid/resourcegroups?api-version=${RG_API}`,
        undefined,
        400,
        'InvalidSubscriptionId',
      ],
      [
        'GET',
        `${rgPath('rg-main')}/providers/Microsoft.Compute/widgets?api-version=${VM_API}`,
        undefined,
        404,
        'InvalidResourceType',
      ],
      [
        'GET',
        `${rgPath('rg-main')}/providers/Microsoft.Foo/bars?api-version=2020-01-01`,
        undefined,
        409,
        'MissingSubscriptionRegistration',
      ],
      ['PATCH', `${nicId('rg-main', 'x')}?api-version=${NET_API}`, {}, 405, 'HttpMethodNotAllowed'],
      ['PATCH', vmPath('rg-main', 'ghost'), {}, 404, 'ResourceNotFound'],
      [
        'PUT',
        `${rgPath('rg-bad-tags')}?api-version=${RG_API}`,
        { location: 'eastus', tags: { 'a<b': 'x' } },
        400,
        'InvalidTagNameCharacters',
      ],
      [
        'PUT',
        `${rgPath('rg-bad-tags')}?api-version=${RG_API}`,
        { location: 'eastus', tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v'])) },
        400,
        'InvalidTag',
      ],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await raw(sim, method, path, body);
      expect([method, path, res.status, res.body?.error?.code]).toEqual([method, path, status, code]);
      expect(typeof res.body.error.message).toBe('string');
    }
  });
});

describe('robustness', () => {
  test('mutated bodies (seeded) get 2xx/4xx answers, never a 5xx', async () => {
    const { sim: fz, c: fc } = await start({ rateLimits: { azure: { enabled: false } }, bootTimeMs: 5 });
    await baseNetwork(fc, 'rg-fz');
    const net = (p: string) => `${rgPath('rg-fz')}/providers/Microsoft.Network/${p}?api-version=${NET_API}`;
    const templates: Array<[string, unknown]> = [
      [
        net('networkSecurityGroups/g'),
        {
          location: 'eastus',
          properties: {
            securityRules: [
              {
                name: 'r',
                properties: {
                  priority: 100,
                  protocol: 'Tcp',
                  access: 'Allow',
                  direction: 'Inbound',
                  sourceAddressPrefix: '*',
                  sourcePortRange: '*',
                  destinationAddressPrefix: '*',
                  destinationPortRange: '22',
                },
              },
            ],
          },
        },
      ],
      [
        net('virtualNetworks/v2'),
        {
          location: 'eastus',
          properties: {
            addressSpace: { addressPrefixes: ['10.30.0.0/16'] },
            subnets: [{ name: 's', properties: { addressPrefix: '10.30.0.0/24' } }],
          },
        },
      ],
      [
        net('publicIPAddresses/p'),
        { location: 'eastus', sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static' } },
      ],
      [
        net('networkInterfaces/fz-nic'),
        {
          location: 'eastus',
          properties: {
            ipConfigurations: [
              {
                name: 'i',
                properties: {
                  subnet: { id: subnetId('rg-fz') },
                  privateIPAllocationMethod: 'Static',
                  privateIPAddress: '10.20.0.9',
                },
              },
            ],
          },
        },
      ],
      [vmPath('rg-fz', 'fz'), vmBody('rg-fz', 'fz-nic', { zone: '1' })],
      [
        `${rgPath('rg-fz')}/providers/Microsoft.Compute/virtualMachineScaleSets/ss?api-version=${VM_API}`,
        {
          location: 'eastus',
          sku: { name: 'Standard_D2s_v5', capacity: 1 },
          properties: {
            orchestrationMode: 'Flexible',
            platformFaultDomainCount: 1,
            virtualMachineProfile: {
              osProfile: { computerNamePrefix: 'w', adminUsername: 'u', adminPassword: 'P@ssw0rd123!' },
              storageProfile: {
                imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
              },
              networkProfile: {
                networkApiVersion: '2020-11-01',
                networkInterfaceConfigurations: [
                  {
                    name: 'c',
                    properties: {
                      ipConfigurations: [{ name: 'i', properties: { subnet: { id: subnetId('rg-fz') } } }],
                    },
                  },
                ],
              },
            },
          },
        },
      ],
    ];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const odd: unknown[] = [
      null,
      0,
      -5,
      1.5,
      'x',
      '',
      [],
      {},
      true,
      [null],
      { id: null },
      'Z'.repeat(300),
      '999.1.1.1',
      '10.0.0.0/33',
    ];
    const mutate = (v: unknown): unknown => {
      if (rnd() < 0.15) return odd[Math.floor(rnd() * odd.length)];
      if (Array.isArray(v)) return v.map(mutate);
      if (v && typeof v === 'object')
        return Object.fromEntries(
          Object.entries(v)
            .filter(() => rnd() > 0.05)
            .map(([k, x]) => [k, mutate(x)]),
        );
      return v;
    };
    const statuses = new Set<number>();
    for (let i = 0; i < 600; i++) {
      const [path, body] = templates[i % templates.length]!;
      const method = rnd() < 0.85 ? 'PUT' : rnd() < 0.5 ? 'DELETE' : 'PATCH';
      const res = await raw(fz, method, path, i % 50 === 0 ? '{"broken' : mutate(body));
      statuses.add(res.status);
      expect([method, path, res.status < 500 ? 'ok' : JSON.stringify(res.body)]).toEqual([method, path, 'ok']);
    }
    expect([...statuses].some((st) => st >= 400)).toBe(true);
    expect(
      (await raw(fz, 'GET', `/subscriptions/${SUB}/resourceGroups/%ZZ?api-version=${RG_API}`)).body.error.code,
    ).toBe('InvalidRequestUri');
  });
});

describe('resource groups', () => {
  test('create (201, then 200), get, exists, list by tag, delete as a Location LRO', async () => {
    const created = await raw(sim, 'PUT', `${rgPath('rg-tmp')}?api-version=${RG_API}`, {
      location: 'West Europe',
      tags: { team: 'a' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'rg-tmp',
      location: 'westeurope',
      type: 'Microsoft.Resources/resourceGroups',
      properties: { provisioningState: 'Succeeded' },
    });
    expect(
      (
        await raw(sim, 'PUT', `${rgPath('rg-tmp')}?api-version=${RG_API}`, {
          location: 'westeurope',
          tags: { team: 'a' },
        })
      ).status,
    ).toBe(200);
    const moved = await raw(sim, 'PUT', `${rgPath('rg-tmp')}?api-version=${RG_API}`, { location: 'eastus' });
    expect([moved.status, moved.body.error.code]).toEqual([409, 'InvalidResourceGroupLocation']);
    expect((await c.resources.resourceGroups.checkExistence('rg-tmp')).body).toBe(true);
    expect((await c.resources.resourceGroups.update('rg-tmp', { tags: { team: 'a', cost: 'x' } })).tags).toEqual({
      team: 'a',
      cost: 'x',
    });
    const tagged = [];
    for await (const g of c.resources.resourceGroups.list({ filter: "tagName eq 'team' and tagValue eq 'a'" }))
      tagged.push(g.name);
    expect(tagged).toEqual(['rg-tmp']);

    const del = await raw(sim, 'DELETE', `${rgPath('rg-tmp')}?api-version=${RG_API}`);
    expect(del.status).toBe(202);
    const location = String(del.headers.location);
    expect(location.startsWith(`${sim.httpsUrl}/subscriptions/${SUB}/operationresults/`)).toBe(true);
    expect(['0', '1']).toContain(del.headers['retry-after']);
    expect((await raw(sim, 'GET', location.slice(sim.httpsUrl.length))).status).toBe(202);
    expect((await raw(sim, 'GET', `${rgPath('rg-tmp')}?api-version=${RG_API}`)).body.properties.provisioningState).toBe(
      'Deleting',
    );
    await deadline('rg delete', 5000, async () =>
      (await raw(sim, 'GET', location.slice(sim.httpsUrl.length))).status === 200 ? true : undefined,
    );
    expect((await c.resources.resourceGroups.checkExistence('rg-tmp')).body).toBe(false);
    await expect(c.resources.resourceGroups.get('rg-tmp')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
  });

  test('deleting a group removes everything in it (SDK poller)', async () => {
    await baseNetwork(c, 'rg-cascade');
    await vm(c, 'rg-cascade', 'cascade-1');
    expect(sim.inventory().filter((r) => r.id.includes('/resourceGroups/rg-cascade')).length).toBeGreaterThanOrEqual(5);
    await c.resources.resourceGroups.beginDeleteAndWait('rg-cascade', POLL);
    expect(sim.inventory().filter((r) => r.id.includes('/resourceGroups/rg-cascade'))).toEqual([]);
  });
});

describe('network', () => {
  test('VNets, subnets and NSG rules: CRUD and validation', async () => {
    const vnet = await c.network.virtualNetworks.get('rg-main', 'vnet');
    expect(vnet.subnets?.map((s) => [s.name, s.addressPrefix])).toEqual([['default', '10.20.0.0/20']]);
    expect(vnet.subnets?.[0]?.networkSecurityGroup?.id).toMatch(/networkSecurityGroups\/nsg$/);
    const extra = await c.network.subnets.beginCreateOrUpdateAndWait(
      'rg-main',
      'vnet',
      'extra',
      { addressPrefix: '10.20.16.0/24' },
      POLL,
    );
    expect(extra.provisioningState).toBe('Succeeded');
    await expect(
      c.network.subnets.beginCreateOrUpdateAndWait(
        'rg-main',
        'vnet',
        'overlap',
        { addressPrefix: '10.20.1.0/24' },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'NetcfgSubnetRangesOverlap', statusCode: 400 });
    await expect(
      c.network.subnets.beginCreateOrUpdateAndWait(
        'rg-main',
        'vnet',
        'outside',
        { addressPrefix: '10.99.0.0/24' },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'NetcfgSubnetRangeOutsideVnet' });
    await expect(
      c.network.subnets.beginCreateOrUpdateAndWait('rg-main', 'vnet', 'bad', { addressPrefix: '10.20.17.5/24' }, POLL),
    ).rejects.toMatchObject({ code: 'InvalidCIDRNotation' });
    const names = [];
    for await (const s of c.network.subnets.list('rg-main', 'vnet')) names.push(s.name);
    expect(names).toEqual(['default', 'extra']);
    await c.network.subnets.beginDeleteAndWait('rg-main', 'vnet', 'extra', POLL);

    const rule = await c.network.securityRules.beginCreateOrUpdateAndWait(
      'rg-main',
      'nsg',
      'engine',
      {
        priority: 140,
        protocol: 'Tcp',
        access: 'Allow',
        direction: 'Inbound',
        sourceAddressPrefix: '203.0.113.0/24',
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
        destinationPortRange: '2376',
      },
      POLL,
    );
    expect(rule.provisioningState).toBe('Succeeded');
    await expect(
      c.network.securityRules.beginCreateOrUpdateAndWait(
        'rg-main',
        'nsg',
        'dup',
        {
          priority: 140,
          protocol: 'Tcp',
          access: 'Allow',
          direction: 'Inbound',
          sourceAddressPrefix: '*',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRange: '22',
        },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'SecurityRuleConflict' });
    await expect(
      c.network.securityRules.beginCreateOrUpdateAndWait(
        'rg-main',
        'nsg',
        'low',
        {
          priority: 50,
          protocol: 'Tcp',
          access: 'Allow',
          direction: 'Inbound',
          sourceAddressPrefix: '*',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRange: '22',
        },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'SecurityRuleInvalidPriority' });
    const nsg = await c.network.networkSecurityGroups.get('rg-main', 'nsg');
    expect(nsg.securityRules?.map((r) => r.name).sort()).toEqual(['engine', 'swarm']);
    expect(nsg.defaultSecurityRules).toHaveLength(6);
    await c.network.securityRules.beginDeleteAndWait('rg-main', 'nsg', 'engine', POLL);
  });

  test('NICs: static and dynamic addresses, reserved and taken addresses, in-use deletes', async () => {
    const fixed = await nic(c, 'rg-main', 'fixed-nic', '10.20.0.50');
    expect(fixed.ipConfigurations?.[0]).toMatchObject({
      privateIPAddress: '10.20.0.50',
      privateIPAllocationMethod: 'Static',
    });
    const dynamic = await nic(c, 'rg-main', 'dyn-nic');
    expect(dynamic.ipConfigurations?.[0]?.privateIPAddress).toMatch(/^10\.20\.0\.\d+$/);
    expect(Number(dynamic.ipConfigurations![0]!.privateIPAddress!.split('.')[3])).toBeGreaterThanOrEqual(4);
    await expect(nic(c, 'rg-main', 'clash-nic', '10.20.0.50')).rejects.toMatchObject({
      code: 'PrivateIPAddressInUse',
      statusCode: 400,
    });
    await expect(nic(c, 'rg-main', 'gw-nic', '10.20.0.1')).rejects.toMatchObject({
      code: 'PrivateIPAddressInReservedRange',
    });
    await expect(nic(c, 'rg-main', 'far-nic', '10.21.0.9')).rejects.toMatchObject({
      code: 'PrivateIPAddressNotInSubnet',
    });
    await expect(
      c.network.networkInterfaces.beginCreateOrUpdateAndWait(
        'rg-main',
        'orphan-nic',
        {
          location: 'eastus',
          ipConfigurations: [{ name: 'ip', subnet: { id: subnetId('rg-main').replace('default', 'nope') } }],
        },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'InvalidResourceReference' });
    await expect(c.network.subnets.beginDeleteAndWait('rg-main', 'vnet', 'default', POLL)).rejects.toMatchObject({
      code: 'InUseSubnetCannotBeDeleted',
    });
    await expect(c.network.networkSecurityGroups.beginDeleteAndWait('rg-main', 'nsg', POLL)).rejects.toMatchObject({
      code: 'InUseNetworkSecurityGroupCannotBeDeleted',
    });
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'fixed-nic', POLL);
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'dyn-nic', POLL);
    expect((await nic(c, 'rg-main', 'again-nic', '10.20.0.50')).ipConfigurations?.[0]?.privateIPAddress).toBe(
      '10.20.0.50',
    );
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'again-nic', POLL);
  });
});

describe('public IP addresses', () => {
  test('Standard static addresses, association with a NIC, in-use delete refused', async () => {
    const pip = await c.network.publicIPAddresses.beginCreateOrUpdateAndWait(
      'rg-main',
      'pip1',
      { location: 'eastus', sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static', zones: ['1'] },
      POLL,
    );
    expect(pip.ipAddress).toMatch(/^20\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    const dynamic = await raw(
      sim,
      'PUT',
      `${rgPath('rg-main')}/providers/Microsoft.Network/publicIPAddresses/pip2?api-version=${NET_API}`,
      { location: 'eastus', sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Dynamic' } },
    );
    expect([dynamic.status, dynamic.body.error.code]).toEqual([
      400,
      'StandardSkuPublicIPAddressesCannotHaveDynamicAllocation',
    ]);
    const withPip = await c.network.networkInterfaces.beginCreateOrUpdateAndWait(
      'rg-main',
      'pip-nic',
      {
        location: 'eastus',
        ipConfigurations: [{ name: 'ipconfig1', subnet: { id: subnetId('rg-main') }, publicIPAddress: { id: pip.id } }],
      },
      POLL,
    );
    expect(withPip.ipConfigurations?.[0]?.publicIPAddress?.id).toBe(pip.id);
    expect((await c.network.publicIPAddresses.get('rg-main', 'pip1')).ipConfiguration?.id).toBe(
      `${withPip.id}/ipConfigurations/ipconfig1`,
    );
    await expect(
      c.network.networkInterfaces.beginCreateOrUpdateAndWait(
        'rg-main',
        'pip-nic2',
        {
          location: 'eastus',
          ipConfigurations: [
            { name: 'ipconfig1', subnet: { id: subnetId('rg-main') }, publicIPAddress: { id: pip.id } },
          ],
        },
        POLL,
      ),
    ).rejects.toMatchObject({ code: 'PublicIPAddressInUse' });
    await expect(c.network.publicIPAddresses.beginDeleteAndWait('rg-main', 'pip1', POLL)).rejects.toMatchObject({
      code: 'PublicIPAddressCannotBeDeleted',
      statusCode: 400,
    });
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'pip-nic', POLL);
    await c.network.publicIPAddresses.beginDeleteAndWait('rg-main', 'pip1', POLL);
    await expect(c.network.publicIPAddresses.get('rg-main', 'pip1')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('virtual machines', () => {
  test('operation URLs carry the api-version the caller used, and polling with it works', async () => {
    const OLD = '2023-03-01';
    await nic(c, 'rg-main', 'oldver-nic');
    const path = vmPath('rg-main', 'oldver').replace(`api-version=${VM_API}`, `api-version=${OLD}`);
    const put = await raw(sim, 'PUT', path, vmBody('rg-main', 'oldver-nic'));
    expect(put.status).toBe(201);
    for (const header of ['azure-asyncoperation', 'location']) {
      const url = new URL(String(put.headers[header]));
      expect({ header, version: url.searchParams.get('api-version') }).toEqual({ header, version: OLD });
    }
    const asyncPath = String(put.headers['azure-asyncoperation']).slice(sim.httpsUrl.length);
    const done = await deadline('old-version vm op', 5000, async () => {
      const r = await raw(sim, 'GET', asyncPath);
      return r.body.status === 'InProgress' ? undefined : r.body;
    });
    expect(done).toMatchObject({ status: 'Succeeded' });
    const del = await raw(sim, 'DELETE', path.replace(OLD, '2022-08-01'));
    expect(del.status).toBe(202);
    expect(new URL(String(del.headers['azure-asyncoperation'])).searchParams.get('api-version')).toBe('2022-08-01');
    await deadline('old-version vm delete', 5000, async () =>
      (await raw(sim, 'GET', path)).status === 404 ? true : undefined,
    );
  });

  test('PUT is a long-running operation with absolute Azure-AsyncOperation and Location on the client origin', async () => {
    // Its own sim with a slow boot: the monitor must be read while the operation still runs, on a loaded machine too;
    // limits 20x the real ones (the headers stay), as the polls below run for seconds.
    const { sim: slow, c: slowClients } = await start({ bootTimeMs: 3_000, rateLimits: { azure: { scale: 20 } } });
    await baseNetwork(slowClients, 'rg-main');
    await nic(slowClients, 'rg-main', 'wire-nic');
    const put = await raw(slow, 'PUT', vmPath('rg-main', 'wire'), vmBody('rg-main', 'wire-nic', { zone: '1' }));
    expect(put.status).toBe(201);
    expect(put.body.properties.provisioningState).toBe('Creating');
    expect(put.body.properties.osProfile.customData).toBeUndefined();
    const asyncUrl = String(put.headers['azure-asyncoperation']);
    expect(
      asyncUrl.startsWith(
        `${slow.httpsUrl}/subscriptions/${SUB}/providers/Microsoft.Compute/locations/eastus/operations/`,
      ),
    ).toBe(true);
    expect(asyncUrl).toContain(`api-version=${VM_API}`);
    expect(String(put.headers.location).startsWith(slow.httpsUrl)).toBe(true);
    expect(['0', '1']).toContain(put.headers['retry-after']);
    expect(put.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);
    expect(put.headers['x-ms-ratelimit-remaining-resource']).toMatch(
      /^Microsoft\.Compute\/PutVMSubscriptionMaximum;\d+$/,
    );
    const first = await raw(slow, 'GET', asyncUrl.slice(slow.httpsUrl.length));
    expect(first.body).toMatchObject({ status: 'InProgress' });
    const monitor = await raw(slow, 'GET', String(put.headers.location).slice(slow.httpsUrl.length));
    expect(monitor.status).toBe(202);
    const done = await deadline('vm op', 15_000, async () => {
      const r = await raw(slow, 'GET', asyncUrl.slice(slow.httpsUrl.length));
      return r.body.status === 'InProgress' ? undefined : r.body;
    });
    expect(done).toMatchObject({ status: 'Succeeded', startTime: expect.any(String), endTime: expect.any(String) });
    expect((await raw(slow, 'GET', String(put.headers.location).slice(slow.httpsUrl.length))).status).toBe(200);
    const got = await raw(slow, 'GET', `${vmPath('rg-main', 'wire')}&$expand=instanceView`);
    expect(got.body).toMatchObject({
      name: 'wire',
      zones: ['1'],
      properties: { provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_D2s_v5' } },
    });
    expect(got.body.properties.instanceView.statuses.map((s: { code: string }) => s.code)).toEqual([
      'ProvisioningState/succeeded',
      'PowerState/running',
    ]);

    // PUT by name is the idempotency key: same body → 200, same VM; immutable changes → 409.
    const again = await raw(slow, 'PUT', vmPath('rg-main', 'wire'), vmBody('rg-main', 'wire-nic', { zone: '1' }));
    expect(again.status).toBe(200);
    expect(again.body.properties.vmId).toBe(got.body.properties.vmId);
    const changed = await raw(
      slow,
      'PUT',
      vmPath('rg-main', 'wire'),
      vmBody('rg-main', 'wire-nic', { zone: '1', customData: Buffer.from('other').toString('base64') }),
    );
    expect([changed.status, changed.body.error.code, changed.body.error.target]).toEqual([
      409,
      'PropertyChangeNotAllowed',
      'osProfile.customData',
    ]);
    const rezoned = await raw(slow, 'PUT', vmPath('rg-main', 'wire'), vmBody('rg-main', 'wire-nic', { zone: '2' }));
    expect(rezoned.body.error.code).toBe('PropertyChangeNotAllowed');
    const resized = await raw(
      slow,
      'PUT',
      vmPath('rg-main', 'wire'),
      vmBody('rg-main', 'wire-nic', { zone: '1', size: 'Standard_D4s_v5' }),
    );
    expect([resized.status, resized.body.properties.provisioningState]).toEqual([200, 'Updating']);

    const del = await raw(slow, 'DELETE', vmPath('rg-main', 'wire'));
    expect(del.status).toBe(202);
    expect(String(del.headers['azure-asyncoperation']).startsWith(slow.httpsUrl)).toBe(true);
    expect((await raw(slow, 'GET', vmPath('rg-main', 'wire'))).body.properties.provisioningState).toBe('Deleting');
    await deadline('vm delete', 5000, async () =>
      (await raw(slow, 'GET', vmPath('rg-main', 'wire'))).status === 404 ? true : undefined,
    );
    expect((await raw(slow, 'DELETE', vmPath('rg-main', 'wire'))).status).toBe(204);
    // deleteOption=Delete took the NIC with the VM.
    expect((await raw(slow, 'GET', `${nicId('rg-main', 'wire-nic')}?api-version=${NET_API}`)).status).toBe(404);
  });

  test('SDK: create waits for Succeeded, get, instance view, list by group and subscription, delete', async () => {
    const created = await vm(c, 'rg-main', 'sdk-1', { zone: '2' });
    expect(created.provisioningState).toBe('Succeeded');
    expect(created.storageProfile?.imageReference).toMatchObject({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server',
    });
    const view = await c.compute.virtualMachines.instanceView('rg-main', 'sdk-1');
    expect(view.statuses?.map((s) => s.code)).toContain('PowerState/running');
    const inGroup = [];
    for await (const v of c.compute.virtualMachines.list('rg-main')) inGroup.push(v.name);
    expect(inGroup).toContain('sdk-1');
    const all = [];
    for await (const v of c.compute.virtualMachines.listAll()) all.push(v.id);
    expect(all).toContain(created.id);
    const updated = await c.compute.virtualMachines.update(
      'rg-main',
      'sdk-1',
      { tags: { 'skypool-cluster': 'c1', extra: 'yes' }, hardwareProfile: { vmSize: 'Standard_D4s_v5' } },
      POLL,
    );
    expect([updated.tags?.extra, updated.hardwareProfile?.vmSize, updated.provisioningState]).toEqual([
      'yes',
      'Standard_D4s_v5',
      'Succeeded',
    ]);
    const generic = [];
    for await (const r of c.resources.resources.listByResourceGroup('rg-main', {
      filter: "tagName eq 'extra' and tagValue eq 'yes'",
    }))
      generic.push(r.id);
    expect(generic).toEqual([created.id]);
    const vnets = [];
    for await (const r of c.resources.resources.list({ filter: "resourceType eq 'Microsoft.Network/virtualNetworks'" }))
      vnets.push(r.name);
    expect(vnets).toContain('vnet');
    await c.compute.virtualMachines.delete('rg-main', 'sdk-1', POLL);
    await expect(c.compute.virtualMachines.get('rg-main', 'sdk-1')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });

  test('input errors: size, SKU restrictions, image, customData limit, NIC in use', async () => {
    await nic(c, 'rg-main', 'err-nic');
    const put = (body: unknown, name = 'err') => raw(sim, 'PUT', vmPath('rg-main', name), body);
    const size = await put(vmBody('rg-main', 'err-nic', { size: 'Standard_Nope' }));
    expect([size.status, size.body.error.code, size.body.error.target]).toEqual([400, 'InvalidParameter', 'vmSize']);
    const restricted = await put(vmBody('rg-main', 'err-nic', { size: 'Standard_F8s_v2', zone: '3' }));
    expect([restricted.status, restricted.body.error.code]).toEqual([409, 'SkuNotAvailable']);
    const region = await put({ ...vmBody('rg-main', 'err-nic', { size: 'Standard_NC6s_v3' }) });
    expect(region.body.error.code).toBe('SkuNotAvailable');
    const image = await put(
      vmBody('rg-main', 'err-nic', { image: { publisher: 'Canonical', offer: 'nope', sku: 'x', version: 'latest' } }),
    );
    expect([image.status, image.body.error.code]).toEqual([404, 'PlatformImageNotFound']);
    const big = await put(vmBody('rg-main', 'err-nic', { customData: Buffer.alloc(65_536, 1).toString('base64') }));
    expect([big.status, big.body.error.code, big.body.error.target]).toEqual([400, 'InvalidParameter', 'customData']);
    const fits = await put(vmBody('rg-main', 'err-nic', { customData: Buffer.alloc(65_535, 1).toString('base64') }));
    expect(fits.status).toBe(201);
    const taken = await put(vmBody('rg-main', 'err-nic'), 'err-2');
    expect([taken.status, taken.body.error.code]).toEqual([400, 'NicInUse']);
    const nicDelete = await raw(sim, 'DELETE', `${nicId('rg-main', 'err-nic')}?api-version=${NET_API}`);
    expect(nicDelete.body.error.code).toBe('NicInUse');
    await c.compute.virtualMachines.delete('rg-main', 'err', POLL);
  });

  test('paging: nextLink is absolute on the client origin; the SDK follows it', async () => {
    // 240 writes exceed the default ARM write bucket (200): page through a simulator without rate limits.
    const { sim, c } = await start({ rateLimits: { azure: { enabled: false } } });
    await baseNetwork(c, 'rg-page');
    const count = 120;
    for (let i = 0; i < count; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const n = `p-${i + j}`;
          const n1 = await raw(sim, 'PUT', `${nicId('rg-page', `${n}-nic`)}?api-version=${NET_API}`, {
            location: 'eastus',
            properties: { ipConfigurations: [{ name: 'ip', properties: { subnet: { id: subnetId('rg-page') } } }] },
          });
          expect(n1.status).toBe(201);
          expect((await raw(sim, 'PUT', vmPath('rg-page', n), vmBody('rg-page', `${n}-nic`))).status).toBe(201);
        }),
      );
    }
    const first = await raw(
      sim,
      'GET',
      `${rgPath('rg-page')}/providers/Microsoft.Compute/virtualMachines?api-version=${VM_API}`,
    );
    expect(first.body.value).toHaveLength(50);
    expect(
      first.body.nextLink.startsWith(
        `${sim.httpsUrl}/subscriptions/${SUB}/resourceGroups/rg-page/providers/Microsoft.Compute/virtualMachines?`,
      ),
    ).toBe(true);
    const second = await raw(sim, 'GET', first.body.nextLink.slice(sim.httpsUrl.length));
    expect(second.body.value[0].name).toBe(first.body.value.length === 50 ? 'p-50' : '');
    const seen = new Set<string>();
    const before =
      sim.meter.snapshot().find((m) => m.action === 'VirtualMachines_List' && m.outcome === 'ok')?.count ?? 0;
    for await (const v of c.compute.virtualMachines.list('rg-page')) seen.add(v.name!);
    expect(seen.size).toBe(count);
    expect(
      sim.meter.snapshot().find((m) => m.action === 'VirtualMachines_List' && m.outcome === 'ok')!.count - before,
    ).toBe(3);
    await c.resources.resourceGroups.beginDeleteAndWait('rg-page', POLL);
  });

  test('Flexible scale set: VMs join by reference; deleting the set deletes them', async () => {
    const set = await c.compute.virtualMachineScaleSets.createOrUpdate(
      'rg-main',
      'flex',
      { location: 'eastus', orchestrationMode: 'Flexible', platformFaultDomainCount: 1 } as never,
      POLL,
    );
    expect(set).toMatchObject({ name: 'flex', orchestrationMode: 'Flexible', provisioningState: 'Succeeded' });
    const uniform = await raw(
      sim,
      'PUT',
      `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachineScaleSets/uni?api-version=${VM_API}`,
      { location: 'eastus', properties: { orchestrationMode: 'Uniform' } },
    );
    expect(uniform.body.error.code).toBe('InvalidParameter');
    const noFd = await raw(
      sim,
      'PUT',
      `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachineScaleSets/nofd?api-version=${VM_API}`,
      { location: 'eastus', properties: { orchestrationMode: 'Flexible' } },
    );
    expect([noFd.status, noFd.body.error.target]).toEqual([400, 'platformFaultDomainCount']);
    const member = await vm(c, 'rg-main', 'flex-1', { vmss: set.id! });
    expect(member.virtualMachineScaleSet?.id).toBe(set.id);
    expect((await c.compute.virtualMachineScaleSets.get('rg-main', 'flex')).platformFaultDomainCount).toBe(1);
    await c.compute.virtualMachineScaleSets.delete('rg-main', 'flex', POLL);
    await deadline('member gone', 5000, async () =>
      (await raw(sim, 'GET', vmPath('rg-main', 'flex-1'))).status === 404 ? true : undefined,
    );
  });

  test('Flexible scale set with a virtualMachineProfile: sku.capacity creates, scales in and deletes members', async () => {
    const profile = {
      osProfile: {
        computerNamePrefix: 'flexw',
        adminUsername: 'skypool',
        customData: Buffer.from('#!/bin/sh\n').toString('base64'),
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          ssh: {
            publicKeys: [
              { path: '/home/skypool/.ssh/authorized_keys', keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 test' },
            ],
          },
        },
      },
      storageProfile: {
        imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
        osDisk: { createOption: 'FromImage' },
      },
      networkProfile: {
        networkApiVersion: '2020-11-01',
        networkInterfaceConfigurations: [
          { name: 'nic', primary: true, ipConfigurations: [{ name: 'ip', subnet: { id: subnetId('rg-main') } }] },
        ],
      },
    };
    const set = await c.compute.virtualMachineScaleSets.createOrUpdate(
      'rg-main',
      'flexp',
      {
        location: 'eastus',
        zones: ['1', '2'],
        sku: { name: 'Standard_D2s_v5', capacity: 3 },
        orchestrationMode: 'Flexible',
        platformFaultDomainCount: 1,
        virtualMachineProfile: profile,
      } as never,
      POLL,
    );
    expect(set.sku?.capacity).toBe(3);
    expect(set.virtualMachineProfile?.osProfile?.customData).toBeUndefined();
    const memberVms = async () => {
      const out: VirtualMachine[] = [];
      for await (const v of c.compute.virtualMachines.list('rg-main'))
        if (v.virtualMachineScaleSet?.id === set.id && v.provisioningState !== 'Deleting') out.push(v);
      return out;
    };
    const made = await memberVms();
    expect(made).toHaveLength(3);
    expect(
      made.every(
        (v) =>
          /^flexp_[0-9a-f]{8}$/.test(v.name!) &&
          v.provisioningState === 'Succeeded' &&
          v.osProfile?.computerName?.startsWith('flexw'),
      ),
    ).toBe(true);
    expect(made.map((v) => v.zones?.[0]).sort()).toEqual(['1', '1', '2']);
    expect(new Set(made.map((v) => v.osProfile?.computerName)).size).toBe(3);
    // A group's listing narrowed to one scale set may carry the instance views (power states); only then.
    const inSet: VirtualMachine[] = [];
    for await (const v of c.compute.virtualMachines.list('rg-main', {
      filter: `virtualMachineScaleSet/id eq '${set.id}'`,
      expand: 'instanceView',
    }))
      inSet.push(v);
    expect(inSet.map((v) => v.name).sort()).toEqual(made.map((v) => v.name).sort());
    expect(inSet.every((v) => v.instanceView?.statuses?.some((s) => s.code === 'PowerState/running'))).toBe(true);
    const vmsPath = `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachines?api-version=${VM_API}`;
    for (const query of ['&$expand=instanceView', "&$filter=name eq 'x'"]) {
      const bad = await raw(sim, 'GET', `${vmsPath}${query}`);
      expect([bad.status, bad.body.error.code]).toEqual([400, 'InvalidParameter']);
    }
    const noApi = await raw(
      sim,
      'PUT',
      `${rgPath('rg-main')}/providers/Microsoft.Compute/virtualMachineScaleSets/flexq?api-version=${VM_API}`,
      {
        location: 'eastus',
        sku: { name: 'Standard_D2s_v5', capacity: 1 },
        properties: {
          orchestrationMode: 'Flexible',
          platformFaultDomainCount: 1,
          virtualMachineProfile: { ...profile, networkProfile: { networkInterfaceConfigurations: [] } },
        },
      },
    );
    expect([noApi.status, noApi.body.error.code]).toEqual([400, 'InvalidParameter']);
    await c.compute.virtualMachineScaleSets.createOrUpdate(
      'rg-main',
      'flexp',
      {
        location: 'eastus',
        sku: { name: 'Standard_D2s_v5', capacity: 1 },
        orchestrationMode: 'Flexible',
        platformFaultDomainCount: 1,
      } as never,
      POLL,
    );
    expect((await c.compute.virtualMachineScaleSets.get('rg-main', 'flexp')).sku?.capacity).toBe(1);
    await c.compute.virtualMachineScaleSets.delete('rg-main', 'flexp', POLL);
    await deadline('members gone', 5000, async () =>
      (await memberVms()).length === 0 && !sim.inventory().some((r) => r.id.includes('flexp_')) ? true : undefined,
    );
  });

  test('resourceSkus lists VM sizes with capabilities and zone restrictions', async () => {
    const skus = [];
    for await (const s of c.compute.resourceSkus.list({ filter: "location eq 'westeurope'" })) skus.push(s);
    const d2 = skus.find((s) => s.name === 'Standard_D2s_v5');
    expect(d2).toMatchObject({ resourceType: 'virtualMachines', locations: ['westeurope'] });
    expect(d2?.capabilities?.find((c) => c.name === 'vCPUs')?.value).toBe('2');
    expect(skus.find((s) => s.name === 'Standard_F8s_v2')?.restrictions?.[0]).toMatchObject({
      type: 'Zone',
      reasonCode: 'NotAvailableForSubscription',
    });
    expect(skus.every((s) => s.locations?.[0] === 'westeurope')).toBe(true);
    const sizes = [];
    for await (const size of c.compute.virtualMachineSizes.list('eastus')) sizes.push(size);
    expect(sizes.find((s) => s.name === 'Standard_E2s_v5')).toMatchObject({ numberOfCores: 2, memoryInMB: 16_384 });
    const subscription = await raw(sim, 'GET', `/subscriptions/${SUB}?api-version=2022-12-01`);
    expect(subscription.body).toMatchObject({ subscriptionId: SUB, state: 'Enabled' });
  });
});

describe('faults', () => {
  test('async capacity: the LRO ends Failed with AllocationFailed; a retry PUT succeeds', async () => {
    sim.addFault({ cloud: 'azure', kind: 'capacity', instanceType: 'Standard_D2s_v5', region: 'eastus', times: 1 });
    const failure = await vm(c, 'rg-main', 'cap-1').catch((e: Error) => e);
    expect((failure as Error).message).toMatch(/AllocationFailed/);
    const failed = await c.compute.virtualMachines.get('rg-main', 'cap-1');
    expect(failed.provisioningState).toBe('Failed');
    const retried = await vm(c, 'rg-main', 'cap-1');
    expect(retried.provisioningState).toBe('Succeeded');
    await c.compute.virtualMachines.delete('rg-main', 'cap-1', POLL);
  });

  test('sync capacity and quota: 409 with the real codes', async () => {
    sim.addFault({ cloud: 'azure', kind: 'capacity', zone: '3', mode: 'sync', times: 1 });
    await expect(vm(c, 'rg-main', 'cap-2', { zone: '3' })).rejects.toMatchObject({
      statusCode: 409,
      code: 'ZonalAllocationFailed',
    });
    sim.addFault({ cloud: 'azure', kind: 'quota', times: 1 });
    const quota = await vm(c, 'rg-main', 'cap-3').catch(
      (e: { statusCode: number; code: string; message: string }) => e,
    );
    expect(quota).toMatchObject({ statusCode: 409, code: 'OperationNotAllowed' });
    expect((quota as Error).message).toMatch(/Cores quota/);
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'cap-2-nic', POLL);
    await c.network.networkInterfaces.beginDeleteAndWait('rg-main', 'cap-3-nic', POLL);
  });

  test('a transient 500 is retried by the SDK', async () => {
    sim.meter.reset();
    sim.addFault({ cloud: 'azure', kind: 'server-error', times: 1 });
    const rg = await c.resources.resourceGroups.get('rg-main');
    expect(rg.name).toBe('rg-main');
    const gets = sim.meter.snapshot().filter((m) => m.action === 'ResourceGroups_Get');
    expect(gets.map((m) => [m.outcome, m.count]).sort()).toEqual([
      ['error', 1],
      ['ok', 1],
    ]);
  });

  test('throttling: 429 with Retry-After and x-ms-ratelimit-remaining headers under a burst', async () => {
    const { sim: slow, c: sc } = await start({ rateLimits: { azure: { scale: 0.02 } } });
    await sc.resources.resourceGroups.createOrUpdate('rg-t', { location: 'eastus' });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => raw(slow, 'GET', `${rgPath('rg-t')}?api-version=${RG_API}`)),
    );
    const throttled = results.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThan(10);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(throttled[0]!.body.error.code).toBe('SubscriptionRequestsThrottled');
    expect(Number(throttled[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(throttled[0]!.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('0');
    expect(results.find((r) => r.status === 200)!.headers['x-ms-ratelimit-remaining-subscription-reads']).toMatch(
      /^\d+$/,
    );
    expect(
      slow.meter.snapshot().find((m) => m.action === 'ResourceGroups_Get' && m.outcome === 'throttled')?.count,
    ).toBe(throttled.length);
    // The SDK honours Retry-After and gets through.
    expect((await sc.resources.resourceGroups.get('rg-t')).name).toBe('rg-t');
  });

  test('the Compute PutVM limit is per subscription, across principals', async () => {
    // Scale 0.01: each principal may write twice, the subscription may PUT 15 VMs.
    const { sim: slow } = await start({ rateLimits: { azure: { scale: 0.01 } } });
    const puts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        raw(slow, 'PUT', vmPath('rg-none', `v${i}`), vmBody('rg-none', 'n'), {
          authorization: `Bearer ${signArmToken(slow.credentials.azure.accessToken, { oid: `principal-${Math.floor(i / 2)}` })}`,
        }),
      ),
    );
    const computeThrottled = puts.filter((r) => r.status === 429);
    expect(puts.filter((r) => r.status === 404)).toHaveLength(15);
    expect(computeThrottled).toHaveLength(5);
    expect(computeThrottled[0]!.body.error).toMatchObject({
      code: 'OperationNotAllowed',
      details: [{ code: 'TooManyRequests', target: 'PutVMSubscriptionMaximum' }],
    });
    expect(computeThrottled[0]!.headers['x-ms-ratelimit-remaining-resource']).toBe(
      'Microsoft.Compute/PutVMSubscriptionMaximum;0',
    );
  });
});

describe('local backing', () => {
  test('a VM runs its customData on the backing; Succeeded once it started; stopped on delete', async () => {
    const started: Array<{ id: string; name: string; privateIp?: string; userData: string }> = [];
    const stopped: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const vmBacking = {
      start: async (vm: { id: string; name: string; privateIp?: string; userData: string }) => {
        started.push(vm);
        await gate;
        return { privateIp: vm.privateIp ?? '' };
      },
      stop: async (vm: { id: string }) => void stopped.push(vm.id),
    };
    const { sim: local, c: lc } = await start({ backing: 'local', vmBacking, bootTimeMs: 20 });
    await baseNetwork(lc, 'rg-l');
    await nic(lc, 'rg-l', 'l1-nic', '10.20.0.40');
    const put = await raw(local, 'PUT', vmPath('rg-l', 'l1'), vmBody('rg-l', 'l1-nic'));
    expect(put.status).toBe(201);
    expect(started).toEqual([
      expect.objectContaining({ name: 'l1', privateIp: '10.20.0.40', userData: '#!/bin/sh\necho hi\n' }),
    ]);
    await new Promise((r) => setTimeout(r, 60));
    expect((await lc.compute.virtualMachines.get('rg-l', 'l1')).provisioningState).toBe('Creating');
    release();
    await deadline('backing started', 5000, async () =>
      (await lc.compute.virtualMachines.get('rg-l', 'l1')).provisioningState === 'Succeeded' ? true : undefined,
    );
    await lc.compute.virtualMachines.delete('rg-l', 'l1', POLL);
    expect(stopped).toEqual([started[0]!.id]);
    await lc.resources.resourceGroups.beginDeleteAndWait('rg-l', POLL);
  });
});

describe('state', () => {
  test('persistence: a restarted simulator serves the same cloud', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cloudsim-arm-'));
    const stateFile = join(tmp, 'state.json');
    const first = await start({ stateFile, seed: 5 });
    await baseNetwork(first.c, 'rg-p');
    const made = await vm(first.c, 'rg-p', 'keep-1', { zone: '1' });
    await first.sim.stop();
    const second = await start({ stateFile, seed: 5 });
    const back = await second.c.compute.virtualMachines.get('rg-p', 'keep-1');
    expect(back).toMatchObject({ id: made.id, vmId: made.vmId, provisioningState: 'Succeeded', zones: ['1'] });
    const again = await nic(second.c, 'rg-p', 'next-nic');
    expect(again.ipConfigurations?.[0]?.privateIPAddress).not.toBe(
      (await second.c.network.networkInterfaces.get('rg-p', 'keep-1-nic')).ipConfigurations?.[0]?.privateIPAddress,
    );
    await second.c.resources.resourceGroups.beginDeleteAndWait('rg-p', POLL);
    expect(second.sim.inventory()).toEqual([]);
  });

  test('admin API lists live resources and counts calls', async () => {
    const inventory = (await (
      await fetch(`${sim.httpUrl}/_sim/inventory`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      resources: Array<{ cloud: string; type: string; id: string }>;
    };
    const azure = inventory.resources.filter((r) => r.cloud === 'azure');
    expect(azure.map((r) => r.type)).toEqual(
      expect.arrayContaining([
        'Microsoft.Resources/resourceGroups',
        'Microsoft.Network/virtualNetworks',
        'Microsoft.Network/networkSecurityGroups',
      ]),
    );
    const callsBody = (await (
      await fetch(`${sim.httpUrl}/_sim/calls`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      calls: Array<{ cloud: string; action: string; count: number }>;
    };
    expect(callsBody.calls.some((c) => c.cloud === 'azure' && c.action === 'ResourceGroups_Get' && c.count >= 1)).toBe(
      true,
    );
    await c.resources.resourceGroups.beginDeleteAndWait('rg-main', POLL);
    expect(sim.inventory().filter((r) => r.cloud === 'azure')).toEqual([]);
  });
});
