/**
 * Conformance of the simulated Compute Engine, driven by the official @google-cloud/compute client (REST
 * fallback) and checked on the wire with raw fetch where third-party clients rely on the public format.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FirewallsClient,
  GlobalOperationsClient,
  ImagesClient,
  InstancesClient,
  InstanceTemplatesClient,
  MachineTypesClient,
  NetworksClient,
  RegionOperationsClient,
  RegionsClient,
  SubnetworksClient,
  ZoneOperationsClient,
  ZonesClient,
} from '@google-cloud/compute';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { simGceClientOptions } from './support/sim-providers.js';

const PROJECT = 'sim-project';
const ZONE = 'us-central1-a';
const REGION = 'us-central1';
const IMAGE = 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64';

type Op = {
  name?: string | null;
  status?: unknown;
  error?: { errors?: { code?: string | null; message?: string | null }[] | null } | null;
};

function clientsFor(sim: CloudSim) {
  const opts = simGceClientOptions(sim);
  return {
    zones: new ZonesClient(opts),
    regions: new RegionsClient(opts),
    machineTypes: new MachineTypesClient(opts),
    images: new ImagesClient(opts),
    networks: new NetworksClient(opts),
    subnetworks: new SubnetworksClient(opts),
    firewalls: new FirewallsClient(opts),
    instances: new InstancesClient(opts),
    templates: new InstanceTemplatesClient(opts),
    zoneOps: new ZoneOperationsClient(opts),
    regionOps: new RegionOperationsClient(opts),
    globalOps: new GlobalOperationsClient(opts),
  };
}
type Clients = ReturnType<typeof clientsFor>;

async function closeAll(c: Clients | undefined): Promise<void> {
  if (c) await Promise.all(Object.values(c).map((x) => x.close()));
}

/** The Google JSON error inside a thrown GaxiosError (gax 5 puts the raw body in `message`). */
async function apiError(
  promise: Promise<unknown>,
): Promise<{ status: number; reason: string; message: string; body: { error: Record<string, unknown> } }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { code?: number; message: string };
    const body = JSON.parse(err.message) as { error: { code: number; message: string; errors: { reason: string }[] } };
    return {
      status: body.error.code,
      reason: body.error.errors[0]!.reason,
      message: body.error.message,
      body: body as never,
    };
  }
  throw new Error('expected the call to fail');
}

/** Loops on `wait` until DONE, as the API wants (wait returns early after its longest hold). */
async function waitDone(wait: (name: string) => Promise<Op>, op: Op, deadlineMs = 20_000): Promise<Op> {
  const deadline = Date.now() + deadlineMs;
  let current = op;
  while (current.status !== 'DONE') {
    if (Date.now() > deadline) throw new Error(`operation ${op.name} not DONE in time`);
    current = await wait(op.name!);
  }
  return current;
}

function instanceBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    machineType: `zones/${ZONE}/machineTypes/e2-small`,
    labels: { 'skypool-cluster': 'conf', 'skypool-pool': 'web' },
    metadata: { items: [{ key: 'user-data', value: '#!/bin/sh\necho hello\n' }] },
    tags: { items: ['conf-net'] },
    disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: IMAGE, diskSizeGb: '20' } }],
    networkInterfaces: [{ subnetwork: `regions/${REGION}/subnetworks/conf-subnet` }],
    ...extra,
  };
}

describe('cloudsim gce', () => {
  let sim: CloudSim;
  let c: Clients;
  let token: string;
  const zoneWait = (name: string) =>
    c.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: name }).then(([op]) => op as Op);
  const regionWait = (name: string) =>
    c.regionOps.wait({ project: PROJECT, region: REGION, operation: name }).then(([op]) => op as Op);
  const globalWait = (name: string) => c.globalOps.wait({ project: PROJECT, operation: name }).then(([op]) => op as Op);
  const url = (path: string) => `${sim.httpUrl}/compute/v1/projects/${PROJECT}/${path}`;
  const raw = (path: string, init: RequestInit = {}) =>
    fetch(url(path), {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 60, seed: 7 });
    c = clientsFor(sim);
    token = sim.credentials.gcp.accessToken;
    const [netOp] = await c.networks.insert({
      project: PROJECT,
      networkResource: { name: 'conf-net', autoCreateSubnetworks: false },
    });
    await waitDone(globalWait, netOp.latestResponse as Op);
    const [subOp] = await c.subnetworks.insert({
      project: PROJECT,
      region: REGION,
      subnetworkResource: { name: 'conf-subnet', network: 'global/networks/conf-net', ipCidrRange: '10.20.0.0/20' },
    });
    await waitDone(regionWait, subOp.latestResponse as Op);
  });

  afterAll(async () => {
    await closeAll(c);
    await sim?.stop();
  });

  it('serves the catalog: zones, regions, machine types, the Ubuntu 24.04 image family', async () => {
    const [zones] = await c.zones.list({ project: PROJECT });
    expect(zones.map((z) => z.name)).toEqual(expect.arrayContaining([ZONE, 'europe-west1-b']));
    const [zone] = await c.zones.get({ project: PROJECT, zone: ZONE });
    expect(zone.region).toMatch(/\/regions\/us-central1$/);
    const [region] = await c.regions.get({ project: PROJECT, region: REGION });
    expect(region.zones).toHaveLength(4);
    const [types] = await c.machineTypes.list({ project: PROJECT, zone: ZONE, filter: 'guestCpus > 8' });
    expect(types.length).toBeGreaterThan(3);
    expect(types.every((t) => (t.guestCpus ?? 0) > 8)).toBe(true);
    const [mt] = await c.machineTypes.get({ project: PROJECT, zone: ZONE, machineType: 'e2-standard-4' });
    expect(mt).toMatchObject({ guestCpus: 4, memoryMb: 16384 });
    const scopes: string[] = [];
    for await (const [scope, list] of c.machineTypes.aggregatedListAsync({ project: PROJECT, maxResults: 100 })) {
      if (list.machineTypes?.length) scopes.push(scope);
    }
    expect(scopes).toContain(`zones/${ZONE}`);
    const [image] = await c.images.getFromFamily({ project: 'ubuntu-os-cloud', family: 'ubuntu-2404-lts-amd64' });
    expect(image).toMatchObject({ family: 'ubuntu-2404-lts-amd64', status: 'READY' });
    expect(image.name).toMatch(/^ubuntu-2404-noble-amd64-v\d+$/);
    const missing = await apiError(c.images.getFromFamily({ project: 'ubuntu-os-cloud', family: 'ubuntu-9904' }));
    expect(missing).toMatchObject({ status: 404, reason: 'notFound' });
  });

  it('creates networks, subnetworks and firewalls with their operations, and refuses overlaps and duplicates', async () => {
    const [net] = await c.networks.get({ project: PROJECT, network: 'conf-net' });
    expect(net.autoCreateSubnetworks).toBe(false);
    expect(net.subnetworks?.[0]).toMatch(/regions\/us-central1\/subnetworks\/conf-subnet$/);
    const [sub] = await c.subnetworks.get({ project: PROJECT, region: REGION, subnetwork: 'conf-subnet' });
    expect(sub).toMatchObject({ ipCidrRange: '10.20.0.0/20', gatewayAddress: '10.20.0.1' });

    const overlap = await apiError(
      c.subnetworks.insert({
        project: PROJECT,
        region: REGION,
        subnetworkResource: { name: 'other', network: 'global/networks/conf-net', ipCidrRange: '10.20.8.0/24' },
      }),
    );
    expect(overlap).toMatchObject({ status: 400, reason: 'invalid' });
    expect(overlap.message).toMatch(/conflicts with existing subnetwork 'conf-subnet'/);
    const dup = await apiError(
      c.networks.insert({ project: PROJECT, networkResource: { name: 'conf-net', autoCreateSubnetworks: false } }),
    );
    expect(dup).toMatchObject({ status: 409, reason: 'alreadyExists' });

    const [fwOp] = await c.firewalls.insert({
      project: PROJECT,
      firewallResource: {
        name: 'conf-swarm',
        network: 'global/networks/conf-net',
        allowed: [
          { IPProtocol: 'tcp', ports: ['2377', '7946'] },
          { IPProtocol: 'udp', ports: ['7946', '4789'] },
        ],
        sourceTags: ['conf-net'],
        targetTags: ['conf-net'],
      },
    });
    const done = await waitDone(globalWait, fwOp.latestResponse as Op);
    expect(done.error).toBeFalsy();
    const [fw] = await c.firewalls.get({ project: PROJECT, firewall: 'conf-swarm' });
    expect(fw).toMatchObject({ direction: 'INGRESS', priority: 1000, targetTags: ['conf-net'] });
    const badPort = await apiError(
      c.firewalls.insert({
        project: PROJECT,
        firewallResource: {
          name: 'bad-fw',
          network: 'global/networks/conf-net',
          allowed: [{ IPProtocol: 'tcp', ports: ['99999'] }],
        },
      }),
    );
    expect(badPort).toMatchObject({ status: 400, reason: 'invalid' });
    const [fws] = await c.firewalls.list({ project: PROJECT, filter: 'name = "conf-swarm"' });
    expect(fws.map((f) => f.name)).toEqual(['conf-swarm']);
  });

  it('gives a new project the default auto-mode network, its subnetworks and firewall rules, outside the inventory', async () => {
    const project = 'fresh-project-1';
    const [nets] = await c.networks.list({ project });
    expect(nets.map((n) => n.name)).toEqual(['default']);
    const [net] = await c.networks.get({ project, network: 'default' });
    expect(net).toMatchObject({ autoCreateSubnetworks: true, mtu: 1460, routingConfig: { routingMode: 'REGIONAL' } });
    expect(net.subnetworks).toHaveLength(5);
    const [subnet] = await c.subnetworks.get({ project, region: 'us-central1', subnetwork: 'default' });
    expect(subnet).toMatchObject({ ipCidrRange: '10.128.0.0/20', gatewayAddress: '10.128.0.1' });
    expect(subnet.network).toMatch(/\/projects\/fresh-project-1\/global\/networks\/default$/);
    const [east] = await c.subnetworks.list({ project, region: 'us-east1' });
    expect(east.map((s) => [s.name, s.ipCidrRange])).toEqual([['default', '10.142.0.0/20']]);
    const [fws] = await c.firewalls.list({ project });
    expect(fws.map((f) => f.name).sort()).toEqual([
      'default-allow-icmp',
      'default-allow-internal',
      'default-allow-rdp',
      'default-allow-ssh',
    ]);
    expect(fws.find((f) => f.name === 'default-allow-internal')).toMatchObject({
      priority: 65534,
      direction: 'INGRESS',
      sourceRanges: ['10.128.0.0/9'],
    });
    expect(fws.find((f) => f.name === 'default-allow-ssh')?.allowed).toMatchObject([
      { IPProtocol: 'tcp', ports: ['22'] },
    ]);
    // A VM may use it without naming a subnetwork.
    const [op] = await c.instances.insert({
      project,
      zone: ZONE,
      instanceResource: {
        ...instanceBody('on-default'),
        networkInterfaces: [{ network: 'global/networks/default' }],
      },
    });
    await waitDone(
      (name) => c.zoneOps.wait({ project, zone: ZONE, operation: name }).then(([o]) => o as Op),
      op.latestResponse as Op,
    );
    const [vm] = await c.instances.get({ project, zone: ZONE, instance: 'on-default' });
    expect(vm.networkInterfaces?.[0]?.networkIP).toMatch(/^10\.128\.0\.\d+$/);
    expect(
      sim
        .inventory()
        .filter((r) => r.id.startsWith(`projects/${project}/`))
        .map((r) => r.type),
    ).toEqual(['instance', 'disk']);
    const [del] = await c.instances.delete({ project, zone: ZONE, instance: 'on-default' });
    await waitDone(
      (name) => c.zoneOps.wait({ project, zone: ZONE, operation: name }).then(([o]) => o as Op),
      del.latestResponse as Op,
    );
  });

  it('inserts an instance that goes PROVISIONING → RUNNING, with labels, metadata and an address in the subnetwork', async () => {
    const [op] = await c.instances.insert({
      project: PROJECT,
      zone: ZONE,
      instanceResource: instanceBody('conf-vm-1'),
    });
    const first = op.latestResponse as Op & { operationType?: string; targetLink?: string };
    expect(first).toMatchObject({ status: 'RUNNING', operationType: 'insert' });
    expect(first.targetLink).toMatch(/zones\/us-central1-a\/instances\/conf-vm-1$/);
    const [early] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' });
    expect(['PROVISIONING', 'STAGING']).toContain(early.status);
    const done = await waitDone(zoneWait, first);
    expect(done.error).toBeFalsy();
    const [vm] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' });
    expect(vm.status).toBe('RUNNING');
    expect(vm.labels).toEqual({ 'skypool-cluster': 'conf', 'skypool-pool': 'web' });
    expect(vm.metadata?.items?.find((i) => i.key === 'user-data')?.value).toContain('echo hello');
    expect(vm.networkInterfaces?.[0]?.networkIP).toMatch(/^10\.20\.(\d+)\.(\d+)$/);
    expect(vm.machineType).toMatch(/machineTypes\/e2-small$/);
    expect(typeof vm.id).toBe('string');
  });

  it('bulkInserts with namePattern, perInstanceProperties and minCount, also from an instance template', async () => {
    const [op] = await c.instances.bulkInsert({
      project: PROJECT,
      zone: ZONE,
      bulkInsertInstanceResourceResource: {
        count: 4,
        minCount: 4,
        namePattern: 'conf-bulk-####',
        perInstanceProperties: { 'conf-named': {} },
        instanceProperties: {
          machineType: 'e2-medium',
          labels: { 'skypool-cluster': 'conf', 'skypool-pool': 'bulk' },
          disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: IMAGE } }],
          networkInterfaces: [{ subnetwork: `regions/${REGION}/subnetworks/conf-subnet` }],
        },
      },
    });
    const done = (await waitDone(zoneWait, op.latestResponse as Op)) as Op & {
      instancesBulkInsertOperationMetadata?: { perLocationStatus?: Record<string, { createdVmCount?: number | null }> };
    };
    expect(done.error).toBeFalsy();
    expect(done.instancesBulkInsertOperationMetadata?.perLocationStatus?.[`zones/${ZONE}`]?.createdVmCount).toBe(4);
    const [bulk] = await c.instances.list({ project: PROJECT, zone: ZONE, filter: 'labels.skypool-pool = "bulk"' });
    expect(bulk.map((i) => i.name).sort()).toEqual([
      'conf-bulk-0001',
      'conf-bulk-0002',
      'conf-bulk-0003',
      'conf-named',
    ]);

    const [tOp] = await c.templates.insert({
      project: PROJECT,
      instanceTemplateResource: {
        name: 'conf-template',
        properties: {
          machineType: 'e2-small',
          labels: { 'skypool-cluster': 'conf', 'skypool-pool': 'tmpl' },
          disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: IMAGE } }],
          networkInterfaces: [{ subnetwork: `projects/${PROJECT}/regions/${REGION}/subnetworks/conf-subnet` }],
        },
      },
    });
    await waitDone(globalWait, tOp.latestResponse as Op);
    const [fromTemplate] = await c.instances.bulkInsert({
      project: PROJECT,
      zone: ZONE,
      bulkInsertInstanceResourceResource: {
        count: 2,
        namePattern: 'conf-t-##',
        sourceInstanceTemplate: 'global/instanceTemplates/conf-template',
      },
    });
    expect((await waitDone(zoneWait, fromTemplate.latestResponse as Op)).error).toBeFalsy();
    const [tmpl] = await c.instances.list({ project: PROJECT, zone: ZONE, filter: 'labels.skypool-pool=tmpl' });
    expect(tmpl.map((i) => i.name).sort()).toEqual(['conf-t-01', 'conf-t-02']);

    const tooFew = await apiError(
      c.instances.bulkInsert({
        project: PROJECT,
        zone: ZONE,
        bulkInsertInstanceResourceResource: {
          count: 2,
          perInstanceProperties: { 'conf-x': {} },
          sourceInstanceTemplate: 'global/instanceTemplates/conf-template',
        },
      }),
    );
    expect(tooFew).toMatchObject({ status: 400, reason: 'invalid' });
  });

  it('lists with label filters in both syntaxes, pages with maxResults/nextPageToken, and aggregates across zones', async () => {
    const [spaced] = await c.instances.list({
      project: PROJECT,
      zone: ZONE,
      filter: 'labels.skypool-cluster = "conf"',
    });
    const [compact] = await c.instances.list({ project: PROJECT, zone: ZONE, filter: 'labels.skypool-cluster=conf' });
    expect(spaced.length).toBeGreaterThanOrEqual(7);
    expect(compact.map((i) => i.name)).toEqual(spaced.map((i) => i.name));
    const [none] = await c.instances.list({
      project: PROJECT,
      zone: ZONE,
      filter: '(labels.skypool-cluster = "conf") (labels.skypool-pool = "nope")',
    });
    expect(none).toEqual([]);

    const page1 = (await (
      await raw(`zones/${ZONE}/instances?maxResults=3&filter=${encodeURIComponent('labels.skypool-cluster = "conf"')}`)
    ).json()) as { items: { name: string; id: unknown }[]; nextPageToken?: string; kind: string };
    expect(page1.kind).toBe('compute#instanceList');
    expect(page1.items).toHaveLength(3);
    expect(typeof page1.items[0]!.id).toBe('string');
    expect(page1.nextPageToken).toBeTruthy();
    const names = page1.items.map((i) => i.name);
    let pageToken = page1.nextPageToken;
    while (pageToken) {
      const page = (await (
        await raw(
          `zones/${ZONE}/instances?maxResults=3&pageToken=${pageToken}&filter=${encodeURIComponent('labels.skypool-cluster = "conf"')}`,
        )
      ).json()) as { items: { name: string }[]; nextPageToken?: string };
      names.push(...page.items.map((i) => i.name));
      pageToken = page.nextPageToken;
    }
    expect(names.sort()).toEqual(spaced.map((i) => i.name!).sort());

    sim.meter.reset();
    const [viaSdk] = await c.instances.list({
      project: PROJECT,
      zone: ZONE,
      maxResults: 2,
      filter: 'labels.skypool-cluster = "conf"',
    });
    expect(viaSdk).toHaveLength(spaced.length);
    const listCalls = sim.meter.snapshot().find((m) => m.action === 'instances.list')?.count;
    expect(listCalls).toBe(Math.ceil(spaced.length / 2));

    const found: string[] = [];
    for await (const [scope, list] of c.instances.aggregatedListAsync({
      project: PROJECT,
      filter: 'labels.skypool-pool = "web"',
      maxResults: 1,
    })) {
      for (const i of list.instances ?? []) found.push(`${scope}/${i.name}`);
    }
    expect(found).toEqual([`zones/${ZONE}/conf-vm-1`]);

    const badFilter = await apiError(c.instances.list({ project: PROJECT, zone: ZONE, filter: 'labels.x = ' }));
    expect(badFilter).toMatchObject({ status: 400, reason: 'invalid' });
    const tooMany = await raw(`zones/${ZONE}/instances?maxResults=501`);
    expect(tooMany.status).toBe(400);

    // Partial responses: `fields` (or its X-Goog-FieldMask header) keeps only what it names, in every scope.
    const partial = (await (
      await raw(
        `aggregated/instances?maxResults=2&fields=${encodeURIComponent('items/*/instances(name,labels,networkInterfaces/networkIP),nextPageToken')}&filter=${encodeURIComponent('labels.skypool-cluster = "conf"')}`,
      )
    ).json()) as { items: Record<string, { instances?: Record<string, unknown>[] }>; nextPageToken?: string };
    expect(Object.keys(partial).sort()).toEqual(['items', 'nextPageToken']);
    const vms = Object.values(partial.items).flatMap((scope) => scope.instances ?? []);
    expect(vms).toHaveLength(2);
    for (const vm of vms) {
      expect(Object.keys(vm).sort()).toEqual(['labels', 'name', 'networkInterfaces']);
      expect(vm.networkInterfaces).toEqual([{ networkIP: expect.any(String) }]);
    }
    // Scopes with nothing selected (only a NO_RESULTS warning) are left out.
    expect(Object.values(partial.items).every((scope) => scope.instances)).toBe(true);
    const [viaHeader] = await c.instances.list(
      { project: PROJECT, zone: ZONE, maxResults: 2, filter: 'labels.skypool-cluster = "conf"' },
      { otherArgs: { headers: { 'X-Goog-FieldMask': 'items(name,status),nextPageToken' } } },
    );
    expect(viaHeader).toHaveLength(spaced.length);
    // The client fills absent maps with {}: what the mask left out arrives empty.
    expect(
      viaHeader.every(
        (vm) => vm.name && vm.status && !vm.metadata?.items?.length && Object.keys(vm.labels ?? {}).length === 0,
      ),
    ).toBe(true);
    for (const bad of ['items(name', 'items/', 'items(na-me)', 'items)']) {
      const refused = await raw(`zones/${ZONE}/instances?fields=${encodeURIComponent(bad)}`);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason).toBe(
        'invalidParameter',
      );
    }
  });

  it('makes a mutation idempotent with requestId and refuses the same requestId for another request', async () => {
    const requestId = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    const [a] = await c.instances.insert({
      project: PROJECT,
      zone: ZONE,
      requestId,
      instanceResource: instanceBody('conf-idem'),
    });
    const [b] = await c.instances.insert({
      project: PROJECT,
      zone: ZONE,
      requestId,
      instanceResource: instanceBody('conf-idem'),
    });
    expect((b.latestResponse as Op).name).toBe((a.latestResponse as Op).name);
    await waitDone(zoneWait, b.latestResponse as Op);
    const [after] = await c.instances.insert({
      project: PROJECT,
      zone: ZONE,
      requestId,
      instanceResource: instanceBody('conf-idem'),
    });
    expect((after.latestResponse as Op).name).toBe((a.latestResponse as Op).name);
    const idem = sim.inventory().filter((r) => r.type === 'instance' && r.id.endsWith('/conf-idem'));
    expect(idem).toHaveLength(1);

    const mismatch = await apiError(
      c.instances.insert({ project: PROJECT, zone: ZONE, requestId, instanceResource: instanceBody('conf-idem-2') }),
    );
    expect(mismatch).toMatchObject({ status: 400, reason: 'invalid' });
    const notUuid = await apiError(
      c.instances.insert({
        project: PROJECT,
        zone: ZONE,
        requestId: 'not-a-uuid',
        instanceResource: instanceBody('conf-idem-3'),
      }),
    );
    expect(notUuid).toMatchObject({ status: 400, reason: 'invalid' });
    const existing = await apiError(
      c.instances.insert({ project: PROJECT, zone: ZONE, instanceResource: instanceBody('conf-idem') }),
    );
    expect(existing).toMatchObject({ status: 409, reason: 'alreadyExists' });
  });

  it('answers bad input with the real codes: labels, metadata size, machine type, zone, JSON, auth, unknown paths', async () => {
    const badLabel = await apiError(
      c.instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: instanceBody('conf-bad', { labels: { Team: 'x' } }),
      }),
    );
    expect(badLabel).toMatchObject({ status: 400, reason: 'invalid' });
    expect(badLabel.message).toMatch(/Label key 'Team' violates format constraints/);
    const badValue = await apiError(
      c.instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: instanceBody('conf-bad', { labels: { team: 'x'.repeat(64) } }),
      }),
    );
    expect(badValue.message).toMatch(/Label value/);
    const huge = 'x'.repeat(256 * 1024);
    const bigMeta = await apiError(
      c.instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: instanceBody('conf-bad', { metadata: { items: [{ key: 'user-data', value: huge }] } }),
      }),
    );
    expect(bigMeta).toMatchObject({ status: 400, reason: 'invalid' });
    expect(bigMeta.message).toMatch(/262144 bytes/);
    const badType = await apiError(
      c.instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: instanceBody('conf-bad', { machineType: `zones/${ZONE}/machineTypes/x9-huge` }),
      }),
    );
    expect(badType).toMatchObject({ status: 400, reason: 'invalid' });
    const badName = await apiError(
      c.instances.insert({ project: PROJECT, zone: ZONE, instanceResource: instanceBody('Conf_Bad') }),
    );
    expect(badName).toMatchObject({ status: 400, reason: 'invalid' });
    const badZone = await apiError(c.instances.list({ project: PROJECT, zone: 'mars-north1-a' }));
    expect(badZone).toMatchObject({ status: 400, reason: 'invalid' });
    const missing = await apiError(c.instances.get({ project: PROJECT, zone: ZONE, instance: 'no-such-vm' }));
    expect(missing).toMatchObject({ status: 404, reason: 'notFound' });
    expect(missing.message).toBe(`The resource 'projects/${PROJECT}/zones/${ZONE}/instances/no-such-vm' was not found`);
    expect(missing.body.error).toMatchObject({
      status: 'NOT_FOUND',
      details: [expect.objectContaining({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'NOT_FOUND' })],
    });

    const parse = await raw(`zones/${ZONE}/instances`, { method: 'POST', body: '{"name": ' });
    expect(parse.status).toBe(400);
    expect(((await parse.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason).toBe(
      'parseError',
    );
    const noAuth = await fetch(url(`zones/${ZONE}/instances`));
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({
      error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'required', location: 'Authorization' }] },
    });
    const unknown = await raw('zones/us-central1-a/gadgets');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('reports capacity asynchronously in the operation (ZONE_RESOURCE_POOL_EXHAUSTED), synchronously on request, and quota errors', async () => {
    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: ZONE, instanceType: 'e2-small', times: 1 });
    const [op] = await c.instances.insert({ project: PROJECT, zone: ZONE, instanceResource: instanceBody('conf-cap') });
    expect((op.latestResponse as Op).error).toBeFalsy();
    const done = await waitDone(zoneWait, op.latestResponse as Op);
    expect(done.error?.errors?.[0]?.code).toBe('ZONE_RESOURCE_POOL_EXHAUSTED');
    expect((done as { httpErrorStatusCode?: number }).httpErrorStatusCode).toBe(503);
    expect(sim.inventory().some((r) => r.id.endsWith('/conf-cap'))).toBe(false);

    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: ZONE, mode: 'sync', times: 1 });
    const sync = await apiError(
      c.instances.insert({ project: PROJECT, zone: ZONE, instanceResource: instanceBody('conf-cap') }),
    );
    expect(sync).toMatchObject({ status: 503, reason: 'ZONE_RESOURCE_POOL_EXHAUSTED' });

    // Partly available capacity: bulkInsert creates what it can when that reaches minCount, else nothing.
    type BulkOp = Op & {
      instancesBulkInsertOperationMetadata?: {
        perLocationStatus?: Record<string, { createdVmCount?: number | null; failedToCreateVmCount?: number | null }>;
      };
    };
    const partial = (namePattern: string, minCount: number) =>
      c.instances.bulkInsert({
        project: PROJECT,
        zone: ZONE,
        bulkInsertInstanceResourceResource: {
          count: 4,
          minCount,
          namePattern,
          sourceInstanceTemplate: 'global/instanceTemplates/conf-template',
        },
      });
    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: ZONE, available: 3, times: 1 });
    const [pOp] = await partial('conf-p-#', 2);
    const pDone = (await waitDone(zoneWait, pOp.latestResponse as Op)) as BulkOp;
    expect(pDone.error).toBeFalsy();
    expect(pDone.instancesBulkInsertOperationMetadata?.perLocationStatus?.[`zones/${ZONE}`]).toMatchObject({
      createdVmCount: 3,
      failedToCreateVmCount: 1,
    });
    expect(sim.inventory().filter((r) => r.type === 'instance' && r.id.includes('/conf-p-'))).toHaveLength(3);
    sim.addFault({ cloud: 'gcp', kind: 'capacity', zone: ZONE, available: 3, times: 1 });
    const [mOp] = await partial('conf-m-#', 4);
    expect((await waitDone(zoneWait, mOp.latestResponse as Op)).error?.errors?.[0]?.code).toBe(
      'ZONE_RESOURCE_POOL_EXHAUSTED',
    );
    expect(sim.inventory().some((r) => r.id.includes('/conf-m-'))).toBe(false);

    sim.addFault({ cloud: 'gcp', kind: 'quota', region: REGION, times: 1 });
    const [qOp] = await c.instances.bulkInsert({
      project: PROJECT,
      zone: ZONE,
      bulkInsertInstanceResourceResource: {
        count: 3,
        namePattern: 'conf-q-#',
        sourceInstanceTemplate: 'global/instanceTemplates/conf-template',
      },
    });
    const qDone = await waitDone(zoneWait, qOp.latestResponse as Op);
    expect(qDone.error?.errors?.[0]?.code).toBe('QUOTA_EXCEEDED');
    expect(sim.inventory().some((r) => r.id.includes('/conf-q-'))).toBe(false);

    sim.addFault({ cloud: 'gcp', kind: 'server-error', times: 1 });
    const server = await apiError(c.instances.get({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' }));
    expect(server).toMatchObject({ status: 503, reason: 'backendError' });
  });

  it('deletes an instance (STOPPING, then gone) and refuses to delete a subnetwork or network in use', async () => {
    const inUse = await apiError(c.subnetworks.delete({ project: PROJECT, region: REGION, subnetwork: 'conf-subnet' }));
    expect(inUse).toMatchObject({ status: 400, reason: 'resourceInUseByAnotherResource' });
    const netInUse = await apiError(c.networks.delete({ project: PROJECT, network: 'conf-net' }));
    expect(netInUse.reason).toBe('resourceInUseByAnotherResource');

    const [op] = await c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' });
    // Deleting takes a moment: STOPPING first (unless this poll came after the deletion finished).
    const state = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' }).then(
      ([i]) => i.status,
      (e: Error) => (JSON.parse(e.message) as { error: { code: number } }).error.code,
    );
    expect(['STOPPING', 404]).toContain(state);
    await waitDone(zoneWait, op.latestResponse as Op);
    expect(await apiError(c.instances.get({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' }))).toMatchObject({
      status: 404,
    });
    expect(await apiError(c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'conf-vm-1' }))).toMatchObject({
      status: 404,
      reason: 'notFound',
    });
  });

  it('checks the wire format: operation wait with a "" body, int64 as strings, the admin inventory and call counts', async () => {
    const res = await raw(`zones/${ZONE}/instances`, {
      method: 'POST',
      body: JSON.stringify(instanceBody('conf-wire')),
    });
    expect(res.status).toBe(200);
    const op = (await res.json()) as { kind: string; name: string; status: string; zone: string; selfLink: string };
    expect(op).toMatchObject({ kind: 'compute#operation', status: 'RUNNING' });
    expect(op.zone).toBe(`https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}`);
    let status = op.status;
    const deadline = Date.now() + 10_000;
    while (status !== 'DONE' && Date.now() < deadline) {
      const w = await raw(`zones/${ZONE}/operations/${op.name}/wait`, { method: 'POST', body: '""' });
      status = ((await w.json()) as { status: string }).status;
    }
    expect(status).toBe('DONE');
    const vm = (await (await raw(`zones/${ZONE}/instances/conf-wire`)).json()) as Record<string, unknown>;
    expect(vm).toMatchObject({ kind: 'compute#instance', status: 'RUNNING' });
    expect(typeof vm.id).toBe('string');
    expect((vm.disks as { diskSizeGb: unknown }[])[0]!.diskSizeGb).toBe('20');

    const zones = (await (await raw('zones?maxResults=2')).json()) as {
      kind: string;
      items: { name: string; status: string }[];
      nextPageToken?: string;
    };
    expect(zones).toMatchObject({
      kind: 'compute#zoneList',
      items: [expect.objectContaining({ status: 'UP' }), expect.anything()],
    });
    expect(zones.nextPageToken).toBeTruthy();
    const nets = (await (await raw(`global/networks?filter=${encodeURIComponent('name = "conf-net"')}`)).json()) as {
      kind: string;
      items: Record<string, unknown>[];
    };
    expect(nets.kind).toBe('compute#networkList');
    expect(nets.items[0]).toMatchObject({
      kind: 'compute#network',
      name: 'conf-net',
      autoCreateSubnetworks: false,
      selfLink: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/networks/conf-net`,
    });
    const opGet = (await (await raw(`zones/${ZONE}/operations/${op.name}`)).json()) as Record<string, unknown>;
    expect(opGet).toMatchObject({
      kind: 'compute#operation',
      name: op.name,
      status: 'DONE',
      progress: 100,
      operationType: 'insert',
    });
    expect(typeof opGet.id).toBe('string');
    expect(typeof opGet.targetId).toBe('string');

    const inventory = (await (
      await fetch(`${sim.httpUrl}/_sim/inventory`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      resources: { cloud: string; type: string; id: string }[];
    };
    expect(inventory.resources.filter((r) => r.cloud === 'gcp' && r.type === 'instance').map((r) => r.id)).toContain(
      `projects/${PROJECT}/zones/${ZONE}/instances/conf-wire`,
    );
    const calls = (await (
      await fetch(`${sim.httpUrl}/_sim/calls`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      calls: { cloud: string; action: string; outcome: string; count: number }[];
    };
    expect(
      calls.calls.find((x) => x.cloud === 'gcp' && x.action === 'instances.insert' && x.outcome === 'ok')?.count,
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('cloudsim gce: timing, throttling, persistence', () => {
  const sims: CloudSim[] = [];
  const clients: Clients[] = [];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gce-sim-'));
  });
  afterAll(async () => {
    await Promise.all(clients.map(closeAll));
    await Promise.all(sims.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  async function start(options: Parameters<typeof startCloudSim>[0]): Promise<[CloudSim, Clients]> {
    const sim = await startCloudSim(options);
    sims.push(sim);
    const c = clientsFor(sim);
    clients.push(c);
    return [sim, c];
  }

  it('refuses a subnetwork on a network still being created (resourceNotReady) and caps operations.wait', async () => {
    const [, c] = await start({ bootTimeMs: 12_000 });
    const [netOp] = await c.networks.insert({
      project: PROJECT,
      networkResource: { name: 'slow-net', autoCreateSubnetworks: false },
    });
    const notReady = await apiError(
      c.subnetworks.insert({
        project: PROJECT,
        region: REGION,
        subnetworkResource: { name: 'slow-sub', network: 'global/networks/slow-net', ipCidrRange: '10.30.0.0/24' },
      }),
    );
    expect(notReady).toMatchObject({ status: 400, reason: 'resourceNotReady' });
    const started = Date.now();
    const [held] = await c.globalOps.wait({ project: PROJECT, operation: (netOp.latestResponse as Op).name! });
    const elapsed = Date.now() - started;
    expect(held.status).toBe('RUNNING');
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(4500);
  });

  it('throttles a burst with 403 rateLimitExceeded per project and counts throttled calls', async () => {
    // 1,500 list requests per minute scaled to 6: a bucket of 6 refilling one token per 10 s.
    const [sim, c] = await start({ bootTimeMs: 50, rateLimits: { gcp: { scale: 0.004 } } });
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => c.zones.list({ project: 'burst' })));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - rejected.length).toBe(6);
    const body = JSON.parse((rejected[0]!.reason as Error).message) as {
      error: { code: number; errors: { reason: string; domain: string }[]; details: { reason: string }[] };
    };
    expect(body.error).toMatchObject({
      code: 403,
      errors: [{ reason: 'rateLimitExceeded', domain: 'usageLimits' }],
      details: [{ reason: 'RATE_LIMIT_EXCEEDED' }],
    });
    // Another project has its own quota.
    await expect(c.zones.list({ project: 'other-project' })).resolves.toBeDefined();
    expect(sim.meter.snapshot().find((m) => m.action === 'zones.list' && m.outcome === 'throttled')?.count).toBe(24);
  });

  it('local backing: starts a backing VM with the decoded user-data, reports its address, stops it on delete', async () => {
    const started: {
      id: string;
      name: string;
      privateIp?: string;
      userData: string;
      tags: Readonly<Record<string, string>>;
    }[] = [];
    const stopped: string[] = [];
    let release!: () => void;
    const booted = new Promise<void>((r) => (release = r));
    // A boot slow enough that STOPPING (a quarter of it) outlasts the delete call on a loaded machine.
    const [sim, c] = await start({
      bootTimeMs: 2_000,
      backing: 'local',
      vmBacking: {
        async start(vm) {
          started.push(vm);
          await booted;
          return { privateIp: '10.99.0.7' };
        },
        async stop(vm) {
          stopped.push(vm.id);
        },
      },
    });
    const net = await c.networks.insert({
      project: PROJECT,
      networkResource: { name: 'lb-net', autoCreateSubnetworks: true },
    });
    await waitDone(
      (n) => c.globalOps.wait({ project: PROJECT, operation: n }).then(([o]) => o as Op),
      net[0].latestResponse as Op,
    );
    const [op] = await c.instances.insert({
      project: PROJECT,
      zone: ZONE,
      instanceResource: { ...instanceBody('lb-vm'), networkInterfaces: [{ network: 'global/networks/lb-net' }] },
    });
    await waitDone(
      (n) => c.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: n }).then(([o]) => o as Op),
      op.latestResponse as Op,
    );
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      name: 'lb-vm',
      userData: '#!/bin/sh\necho hello\n',
      tags: { 'skypool-cluster': 'conf' },
    });
    expect(started[0]!.privateIp).toMatch(/^10\.128\.0\./);
    // Until the backing VM is up the instance is not RUNNING, however long the boot time.
    const [staging] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'lb-vm' });
    expect(staging.status).toBe('STAGING');
    release();
    const deadline = Date.now() + 15_000;
    let vm = staging;
    while (vm.status !== 'RUNNING' && Date.now() < deadline)
      [vm] = await c.instances.get({ project: PROJECT, zone: ZONE, instance: 'lb-vm' });
    expect(vm).toMatchObject({
      status: 'RUNNING',
      networkInterfaces: [expect.objectContaining({ networkIP: '10.99.0.7' })],
    });
    await c.instances.delete({ project: PROJECT, zone: ZONE, instance: 'lb-vm' });
    expect(stopped).toEqual([started[0]!.id]);
    expect(sim.inventory().find((r) => r.id.endsWith('/lb-vm'))?.state).toBe('STOPPING');
  });

  it('persists state to a file and restores it in a new simulator', async () => {
    const stateFile = join(dir, 'state.json');
    const [sim1, c1] = await start({ bootTimeMs: 50, stateFile });
    const [netOp] = await c1.networks.insert({
      project: PROJECT,
      networkResource: { name: 'keep-net', autoCreateSubnetworks: true },
    });
    await waitDone(
      (n) => c1.globalOps.wait({ project: PROJECT, operation: n }).then(([o]) => o as Op),
      netOp.latestResponse as Op,
    );
    const [op] = await c1.instances.insert({
      project: PROJECT,
      zone: ZONE,
      instanceResource: {
        ...instanceBody('keep-vm'),
        networkInterfaces: [{ network: 'global/networks/keep-net', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] }],
      },
    });
    await waitDone(
      (n) => c1.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: n }).then(([o]) => o as Op),
      op.latestResponse as Op,
    );
    const [before] = await c1.instances.get({ project: PROJECT, zone: ZONE, instance: 'keep-vm' });
    expect(before.networkInterfaces?.[0]?.networkIP).toMatch(/^10\.128\.0\./);
    expect(before.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP).toBeTruthy();
    await sim1.stop();
    sims.splice(sims.indexOf(sim1), 1);

    const [sim2, c2] = await start({ bootTimeMs: 50, stateFile });
    const [after] = await c2.instances.get({ project: PROJECT, zone: ZONE, instance: 'keep-vm' });
    expect(after).toMatchObject({ id: before.id, status: 'RUNNING', creationTimestamp: before.creationTimestamp });
    expect(after.networkInterfaces?.[0]?.networkIP).toBe(before.networkInterfaces?.[0]?.networkIP);
    const [opAgain] = await c2.zoneOps.get({
      project: PROJECT,
      zone: ZONE,
      operation: (op.latestResponse as Op).name!,
    });
    expect(opAgain.status).toBe('DONE');
    // The restored VM still holds its address: a second VM gets another one.
    const [op2] = await c2.instances.insert({
      project: PROJECT,
      zone: ZONE,
      instanceResource: { ...instanceBody('keep-vm-2'), networkInterfaces: [{ network: 'global/networks/keep-net' }] },
    });
    await waitDone(
      (n) => c2.zoneOps.wait({ project: PROJECT, zone: ZONE, operation: n }).then(([o]) => o as Op),
      op2.latestResponse as Op,
    );
    const [second] = await c2.instances.get({ project: PROJECT, zone: ZONE, instance: 'keep-vm-2' });
    expect(second.networkInterfaces?.[0]?.networkIP).not.toBe(before.networkInterfaces?.[0]?.networkIP);
    expect(sim2.inventory().filter((r) => r.cloud === 'gcp' && r.type === 'instance')).toHaveLength(2);
  });
});
