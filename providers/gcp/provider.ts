import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CloudApiError, PrerequisiteError, TimeoutError } from '../../src/errors.js';
import { TAG_KEYS, tagsFromRecord, tagsToRecord, type Instance, type InstanceState, type LaunchRequest, type NetworkRef, type Provider, type ProviderSettings, type WaitOptions } from '../../src/providers/types.js';
import type { NodePoolSpec } from '../../src/spec/schema.js';
import { ComputeClients, type GcpAuthClient } from './clients.js';
import { describeFailure, isAlreadyExists, isNotFound, mapApiError, type FailureContext } from './errors.js';
import {
  defaultSubnetCidr,
  engineFirewallName,
  internalFirewallName,
  networkName,
  networkTag,
  ownerDescription,
  ownerLabels,
  requestIdFor,
  reservedAddresses,
  subnetName,
} from './naming.js';
import { operationOf, waitForOperation, type Operation } from './operations.js';

export interface GcpProviderSettings extends ProviderSettings {
  /** Project to create resources in. Default: GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT or CLOUDSDK_CORE_PROJECT. */
  readonly project?: string;
  /** Region used when a pool names none. Default `us-central1`. */
  readonly region?: string;
  /** Zone used when neither the launch nor the pool names one. Default: the region's first zone. */
  readonly zone?: string;
  /** API host, e.g. `127.0.0.1` for cloudsim. Default: compute.googleapis.com. */
  readonly apiEndpoint?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  /** Credentials. Without one (and without `accessToken`) Application Default Credentials are used. */
  readonly authClient?: GcpAuthClient;
  /** A bare OAuth2 access token, used as is (no refresh). */
  readonly accessToken?: string;
  /** Source ranges allowed to reach the engine API (2376/tcp, mutual TLS). Default `['0.0.0.0/0']`. */
  readonly engineApiSourceRanges?: readonly string[];
  /** Subnet range of the cluster in the default region; default: a /20 in 10.0.0.0/9 derived from the cluster name. */
  readonly subnetCidr?: string;
  /** Give each VM an ephemeral external IP (the SDK reaches the engine API on it). Default true. */
  readonly externalIp?: boolean;
  /** Boot image. Default: Ubuntu 24.04 LTS family. */
  readonly image?: string;
  readonly diskSizeGb?: number;
  /** Metadata keys that carry the user-data. Default `['user-data']` (cloud-init); add `startup-script` for images without it. */
  readonly userDataKeys?: readonly ('user-data' | 'startup-script')[];
  /** Longest wait for one Operation. Default 10 minutes. */
  readonly operationTimeoutMs?: number;
  /** Interval between status polls in waitUntilRunning. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Mutations in flight at once (deletes, single inserts). Default 8. */
  readonly concurrency?: number;
}

const UBUNTU = 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64';
const DEFAULT_TYPE = 'e2-standard-2';

interface GceInstance {
  name?: string | null;
  id?: string | null;
  zone?: string | null;
  machineType?: string | null;
  status?: string | null;
  labels?: Record<string, string> | null;
  creationTimestamp?: string | null;
  metadata?: { items?: { key?: string | null; value?: string | null }[] | null } | null;
  networkInterfaces?: { networkIP?: string | null; accessConfigs?: { natIP?: string | null }[] | null }[] | null;
}

interface MachineType {
  name?: string | null;
  guestCpus?: number | null;
  memoryMb?: number | null;
  isSharedCpu?: boolean | null;
}

const lastSegment = (url: string | null | undefined) => (url ? url.slice(url.lastIndexOf('/') + 1) : undefined);
const regionOfZone = (zone: string) => zone.replace(/-[a-z]$/, '');

function mapState(status: string | null | undefined): InstanceState {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    // A GCE "TERMINATED" VM is stopped, not gone: it still exists (and costs its disk), so skypool lists it.
    default:
      return 'stopping';
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Compute Engine adapter. The cloud's own listing is the state: instances are found by their ownership labels
 * (aggregatedList with a label filter), network resources by their deterministic names. Mutations carry a
 * requestId derived from the launch's idempotency token, and every Operation is waited for with
 * `operations.wait`; capacity errors arrive in the Operation and become CapacityError.
 */
export class GcpProvider implements Provider {
  readonly name = 'gcp' as const;
  private readonly settings: GcpProviderSettings;
  private clientsValue?: ComputeClients;
  private readonly zonesByRegion = new Map<string, Promise<string[]>>();
  private readonly typesByRegion = new Map<string, Promise<MachineType[]>>();

  constructor(settings: GcpProviderSettings = {}) {
    this.settings = settings;
  }

  private get project(): string {
    const project = this.settings.project ?? process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GCLOUD_PROJECT ?? process.env.CLOUDSDK_CORE_PROJECT;
    if (!project) throw new PrerequisiteError('no Google Cloud project: pass `project` in the gcp provider settings or set GOOGLE_CLOUD_PROJECT', { env: 'GOOGLE_CLOUD_PROJECT' });
    return project;
  }

  private get region(): string {
    return this.settings.region ?? 'us-central1';
  }

  private get clients(): ComputeClients {
    this.clientsValue ??= new ComputeClients(this.settings);
    return this.clientsValue;
  }

  private get opTimeoutMs(): number {
    return this.settings.operationTimeoutMs ?? 600_000;
  }

  private wait(op: Operation, context: FailureContext, signal?: AbortSignal): Promise<Operation> {
    return waitForOperation(this.clients, this.project, op, { timeoutMs: this.opTimeoutMs, ...(signal ? { signal } : {}) }, context);
  }

  async checkPrerequisites(): Promise<void> {
    const project = this.project;
    if (!this.settings.authClient && !this.settings.accessToken) {
      const adc = process.env.GOOGLE_APPLICATION_CREDENTIALS ?? join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
      if (!existsSync(adc)) {
        throw new PrerequisiteError(
          'no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, run `gcloud auth application-default login`, or pass `authClient` / `accessToken` in the gcp provider settings',
          { env: 'GOOGLE_APPLICATION_CREDENTIALS' },
        );
      }
    }
    try {
      await this.clients.regions.get({ project, region: this.region });
    } catch (error) {
      const f = describeFailure(error);
      if (f.httpStatus === 401 || f.httpStatus === 403) {
        throw new PrerequisiteError(`Compute Engine refused the credentials for project ${project} (${f.httpStatus} ${f.reason ?? ''}): check the account has roles/compute.admin and the Compute Engine API is enabled`, { project });
      }
      if (f.httpStatus === 404) throw new PrerequisiteError(`Compute Engine has no region "${this.region}" in project ${project}: set \`region\` to a valid region`, { region: this.region });
      throw mapApiError(error, { action: 'regions.get', project });
    }
  }

  // ---- network -----------------------------------------------------------------------------------------

  /** Gets a resource by name; undefined when it does not exist. */
  private async find<T>(action: string, get: () => Promise<[T, ...unknown[]]>): Promise<T | undefined> {
    try {
      return (await get())[0];
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw mapApiError(error, { action });
    }
  }

  /**
   * Inserts a network resource and waits for its Operation; a concurrent creation (409) counts as success.
   * Their names are deterministic, so the name is the idempotency key; each call gets a fresh requestId because
   * Compute Engine remembers requestIds for an hour, and a destroy + apply within that hour must create again.
   */
  private async create(action: string, insert: () => Promise<unknown>, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.opTimeoutMs;
    for (;;) {
      let op: Operation;
      try {
        op = operationOf((await insert() as unknown[])[0]);
      } catch (error) {
        if (isAlreadyExists(error)) return;
        // The parent (network) is still being created, e.g. by a concurrent apply: wait for it, not a blind retry.
        if (describeFailure(error).reason === 'resourceNotReady' && Date.now() < deadline) {
          await sleep(this.settings.pollIntervalMs ?? 2000, signal);
          continue;
        }
        throw mapApiError(error, { action });
      }
      await this.wait(op, { action }, signal);
      return;
    }
  }

  private checkOwner(kind: string, name: string, description: string | null | undefined, cluster: string): void {
    if (ownerLabels(description)?.[TAG_KEYS.cluster] !== cluster) {
      throw new CloudApiError(`a ${kind} named ${name} exists in project ${this.project} but was not created by skypool for cluster ${cluster}; delete or rename it, or choose another cluster name`, { kind, name });
    }
  }

  private async ensureSubnet(cluster: string, region: string, signal?: AbortSignal): Promise<NetworkRef> {
    const project = this.project;
    const name = subnetName(cluster, region);
    const owner = ownerDescription({ [TAG_KEYS.cluster]: cluster });
    let subnet = await this.find('subnetworks.get', () => this.clients.subnetworks.get({ project, region, subnetwork: name }));
    if (!subnet) {
      const cidr = region === this.region && this.settings.subnetCidr ? this.settings.subnetCidr : defaultSubnetCidr(cluster, region);
      await this.create(
        'subnetworks.insert',
        () =>
          this.clients.subnetworks.insert({
            project,
            region,
            requestId: randomUUID(),
            subnetworkResource: { name, network: `projects/${project}/global/networks/${networkName(cluster)}`, ipCidrRange: cidr, description: owner, privateIpGoogleAccess: true },
          }),
        signal,
      );
      subnet = await this.find('subnetworks.get', () => this.clients.subnetworks.get({ project, region, subnetwork: name }));
      if (!subnet) throw new CloudApiError(`subnetwork ${name} was created but cannot be read back; retry`, { region });
    } else this.checkOwner('subnetwork', name, subnet.description, cluster);
    const cidr = String(subnet.ipCidrRange);
    return { id: `projects/${project}/regions/${region}/subnetworks/${name}`, cidr, reservedAddresses: reservedAddresses(cidr) };
  }

  async ensureNetwork(cluster: string, signal?: AbortSignal): Promise<NetworkRef> {
    const project = this.project;
    const name = networkName(cluster);
    const owner = ownerDescription({ [TAG_KEYS.cluster]: cluster });
    const existing = await this.find('networks.get', () => this.clients.networks.get({ project, network: name }));
    if (existing) this.checkOwner('network', name, existing.description, cluster);
    else {
      await this.create(
        'networks.insert',
        () =>
          this.clients.networks.insert({
            project,
            requestId: randomUUID(),
            networkResource: { name, description: owner, autoCreateSubnetworks: false, routingConfig: { routingMode: 'REGIONAL' } },
          }),
        signal,
      );
    }
    const ref = await this.ensureSubnet(cluster, this.region, signal);
    const network = `projects/${project}/global/networks/${name}`;
    const tag = networkTag(cluster);
    const rules = [
      {
        name: internalFirewallName(cluster),
        description: owner,
        network,
        direction: 'INGRESS',
        // Swarm: manager API, gossip, VXLAN overlay, and ESP for encrypted overlay networks; only between the cluster's VMs.
        allowed: [{ IPProtocol: 'tcp', ports: ['2377', '7946'] }, { IPProtocol: 'udp', ports: ['7946', '4789'] }, { IPProtocol: 'esp' }],
        sourceTags: [tag],
        targetTags: [tag],
      },
      {
        name: engineFirewallName(cluster),
        description: owner,
        network,
        direction: 'INGRESS',
        allowed: [{ IPProtocol: 'tcp', ports: ['2376'] }],
        sourceRanges: [...(this.settings.engineApiSourceRanges ?? ['0.0.0.0/0'])],
        targetTags: [tag],
      },
    ];
    await Promise.all(
      rules.map(async (rule) => {
        const found = await this.find('firewalls.get', () => this.clients.firewalls.get({ project, firewall: rule.name }));
        if (found) return this.checkOwner('firewall rule', rule.name, found.description, cluster);
        await this.create('firewalls.insert', () => this.clients.firewalls.insert({ project, requestId: randomUUID(), firewallResource: rule }), signal);
      }),
    );
    return ref;
  }

  async deleteNetwork(cluster: string, signal?: AbortSignal): Promise<void> {
    const project = this.project;
    const name = networkName(cluster);
    const remove = async (action: string, del: () => Promise<unknown>) => {
      let op: Operation;
      try {
        op = operationOf((await del() as unknown[])[0]);
      } catch (error) {
        if (isNotFound(error)) return;
        const f = describeFailure(error);
        if (f.reason === 'resourceInUseByAnotherResource') {
          throw new CloudApiError(`cannot delete the network of cluster ${cluster}: ${f.message}; terminate the cluster's instances first`, { action, cloudCode: f.reason });
        }
        throw mapApiError(error, { action });
      }
      await this.wait(op, { action }, signal);
    };
    for (const firewall of [internalFirewallName(cluster), engineFirewallName(cluster)]) {
      const found = await this.find('firewalls.get', () => this.clients.firewalls.get({ project, firewall }));
      if (found && ownerLabels(found.description)?.[TAG_KEYS.cluster] === cluster) await remove('firewalls.delete', () => this.clients.firewalls.delete({ project, firewall }));
    }
    const network = await this.find('networks.get', () => this.clients.networks.get({ project, network: name }));
    if (!network || ownerLabels(network.description)?.[TAG_KEYS.cluster] !== cluster) return;
    for (const url of network.subnetworks ?? []) {
      const parts = url.split('/');
      const region = parts[parts.length - 3]!;
      const subnetwork = parts[parts.length - 1]!;
      await remove('subnetworks.delete', () => this.clients.subnetworks.delete({ project, region, subnetwork }));
    }
    await remove('networks.delete', () => this.clients.networks.delete({ project, network: name }));
  }

  // ---- placement ---------------------------------------------------------------------------------------

  private zonesOf(region: string): Promise<string[]> {
    let zones = this.zonesByRegion.get(region);
    if (!zones) {
      zones = this.clients.regions.get({ project: this.project, region }).then(
        ([r]) => (r.zones ?? []).map((z) => lastSegment(z)!).sort(),
        (error: unknown) => {
          this.zonesByRegion.delete(region);
          throw mapApiError(error, { action: 'regions.get' });
        },
      );
      this.zonesByRegion.set(region, zones);
    }
    return zones;
  }

  private async zoneFor(request: LaunchRequest, region: string): Promise<string> {
    const zone = request.zone ?? request.pool.zones?.[0] ?? (region === this.region ? this.settings.zone : undefined);
    if (zone) return zone;
    const zones = await this.zonesOf(region);
    if (!zones[0]) throw new CloudApiError(`Compute Engine region ${region} lists no zones`, { region });
    return zones[0];
  }

  /** The pool's machine type: as given, else the smallest type of the zone with enough vCPUs and memory. */
  private async machineTypeFor(pool: NodePoolSpec, zone: string): Promise<string> {
    if (pool.instanceType) return pool.instanceType;
    if (!pool.size) return DEFAULT_TYPE;
    const region = regionOfZone(zone);
    let types = this.typesByRegion.get(region);
    if (!types) {
      types = this.clients.machineTypes.list({ project: this.project, zone }).then(
        ([list]) => list as MachineType[],
        (error: unknown) => {
          this.typesByRegion.delete(region);
          throw mapApiError(error, { action: 'machineTypes.list', zone });
        },
      );
      this.typesByRegion.set(region, types);
    }
    const { cpus, memoryGiB } = pool.size;
    const fitting = (await types)
      .filter((t) => (t.guestCpus ?? 0) >= cpus && (t.memoryMb ?? 0) >= memoryGiB * 1024)
      .sort((a, b) => a.guestCpus! - b.guestCpus! || a.memoryMb! - b.memoryMb! || Number(a.isSharedCpu ?? false) - Number(b.isSharedCpu ?? false));
    if (!fitting[0]?.name) {
      throw new CloudApiError(`no Compute Engine machine type in ${zone} has ${cpus} vCPUs and ${memoryGiB} GiB; set pool.instanceType or a smaller size`, { zone, size: pool.size });
    }
    return fitting[0].name;
  }

  // ---- instances ---------------------------------------------------------------------------------------

  private toInstance(vm: GceInstance): Instance | undefined {
    const tags = tagsFromRecord(vm.labels ?? {});
    if (!tags || !vm.name || !vm.zone) return undefined;
    const zone = lastSegment(vm.zone)!;
    const nic = vm.networkInterfaces?.[0];
    const privateIp = nic?.networkIP ?? undefined;
    const publicIp = nic?.accessConfigs?.[0]?.natIP ?? undefined;
    return {
      id: `${zone}/${vm.name}`,
      name: vm.name,
      provider: 'gcp',
      region: regionOfZone(zone),
      zone,
      ...(vm.machineType ? { instanceType: lastSegment(vm.machineType)! } : {}),
      state: mapState(vm.status),
      ...(privateIp ? { privateIp } : {}),
      ...(publicIp ? { publicIp } : {}),
      tags,
      ...(vm.creationTimestamp ? { launchedAt: new Date(vm.creationTimestamp).toISOString() } : {}),
    };
  }

  private parseId(id: string): { zone: string; name: string } {
    const [zone, name, ...rest] = id.split('/');
    if (!zone || !name || rest.length) throw new CloudApiError(`"${id}" is not a gcp instance id (expected <zone>/<name>)`, { id });
    return { zone, name };
  }

  async runInstances(request: LaunchRequest): Promise<Instance[]> {
    request.signal?.throwIfAborted();
    const project = this.project;
    const region = request.pool.region ?? this.region;
    const zone = await this.zoneFor(request, region);
    if (regionOfZone(zone) !== region) throw new CloudApiError(`zone ${zone} is not in region ${region}; fix the pool's zones or region`, { zone, region });
    const machineType = await this.machineTypeFor(request.pool, zone);
    const subnet = request.network.id.includes(`/regions/${region}/`) ? request.network.id : (await this.ensureSubnet(request.cluster, region, request.signal)).id;
    const context: FailureContext = { action: 'instances.insert', zone, instanceType: machineType, project };
    const labels = { ...(request.pool.labels ?? {}), ...tagsToRecord(request.tags) };
    const keys = this.settings.userDataKeys ?? ['user-data'];
    const properties = {
      labels,
      tags: { items: [networkTag(request.cluster)] },
      metadata: { items: keys.map((key) => ({ key, value: request.userData })) },
      disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: this.settings.image ?? UBUNTU, diskSizeGb: String(this.settings.diskSizeGb ?? 20) } }],
      scheduling: { automaticRestart: true, onHostMaintenance: 'MIGRATE' },
    };
    const nic = (networkIP?: string) => ({
      subnetwork: subnet,
      ...(networkIP ? { networkIP } : {}),
      accessConfigs: this.settings.externalIp === false ? [] : [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT' }],
    });

    const fixed = request.nodes.filter((n) => n.privateIp);
    const free = request.nodes.filter((n) => !n.privateIp);
    const launches: Array<() => Promise<void>> = [];
    if (free.length) {
      // One bulkInsert for every node without a fixed address: all-or-nothing (minCount = count).
      launches.push(async () => {
        const action = 'instances.bulkInsert';
        let op: Operation;
        try {
          const [result] = await this.clients.instances.bulkInsert({
            project,
            zone,
            requestId: requestIdFor(request.idempotencyToken, zone, 'bulk'),
            bulkInsertInstanceResourceResource: {
              count: free.length,
              minCount: free.length,
              perInstanceProperties: Object.fromEntries(free.map((n) => [n.name, { name: n.name }])),
              instanceProperties: { ...properties, machineType, networkInterfaces: [nic()] },
            },
          });
          op = operationOf(result);
        } catch (error) {
          if (isAlreadyExists(error) && (await this.sameLaunch(zone, free.map((n) => n.name), request))) return;
          throw mapApiError(error, { ...context, action });
        }
        await this.wait(op, { ...context, action }, request.signal);
      });
    }
    for (const node of fixed) {
      launches.push(async () => {
        let op: Operation;
        try {
          const [result] = await this.clients.instances.insert({
            project,
            zone,
            requestId: requestIdFor(request.idempotencyToken, zone, node.name),
            instanceResource: { ...properties, name: node.name, machineType: `zones/${zone}/machineTypes/${machineType}`, networkInterfaces: [nic(node.privateIp)] },
          });
          op = operationOf(result);
        } catch (error) {
          if (isAlreadyExists(error) && (await this.sameLaunch(zone, [node.name], request))) return;
          throw mapApiError(error, context);
        }
        await this.wait(op, context, request.signal);
      });
    }
    await eachLimited(launches, this.settings.concurrency ?? 8, (launch) => launch());

    // One list call reads back every new VM (addresses are known once the insert Operation is DONE).
    const wanted = new Set(request.nodes.map((n) => n.name));
    const filter = `(labels.${TAG_KEYS.cluster} = "${request.cluster}") (labels.${TAG_KEYS.pool} = "${request.tags.pool}")`;
    let listed: GceInstance[];
    try {
      [listed] = (await this.clients.instances.list({ project, zone, filter, maxResults: 500 })) as unknown as [GceInstance[]];
    } catch (error) {
      throw mapApiError(error, { action: 'instances.list', zone });
    }
    const instances = listed.filter((vm) => vm.name && wanted.has(vm.name)).map((vm) => this.toInstance(vm)).filter((i): i is Instance => i !== undefined);
    const byName = new Map(instances.map((i) => [i.name, i]));
    const missing = request.nodes.filter((n) => !byName.has(n.name)).map((n) => n.name);
    if (missing.length) throw new CloudApiError(`Compute Engine reported success but ${missing.join(', ')} cannot be found in ${zone}; retry the launch`, { zone, missing });
    return request.nodes.map((n) => byName.get(n.name)!);
  }

  /** True when same-named instances already exist from this very launch (same cluster, pool and user-data). */
  private async sameLaunch(zone: string, names: readonly string[], request: LaunchRequest): Promise<boolean> {
    const vms = await Promise.all(
      names.map((instance) => this.find('instances.get', () => this.clients.instances.get({ project: this.project, zone, instance })) as Promise<GceInstance | undefined>),
    );
    const same = vms.every(
      (vm) =>
        vm?.labels?.[TAG_KEYS.cluster] === request.cluster &&
        vm.labels[TAG_KEYS.pool] === request.tags.pool &&
        vm.metadata?.items?.find((i) => i.key === (this.settings.userDataKeys ?? ['user-data'])[0])?.value === request.userData,
    );
    if (!same) {
      throw new CloudApiError(`an instance named ${names.join(' or ')} already exists in ${zone} with other settings; terminate it or pick another cluster/pool name`, { zone, names });
    }
    return true;
  }

  async waitUntilRunning(ids: readonly string[], options: WaitOptions): Promise<Instance[]> {
    const deadline = Date.now() + options.deadlineMs;
    const parsed = ids.map((id) => this.parseId(id));
    const poll = this.settings.pollIntervalMs ?? 2000;
    for (;;) {
      options.signal?.throwIfAborted();
      const current = await eachLimited(parsed, this.settings.concurrency ?? 8, async ({ zone, name }) => {
        const vm = (await this.find('instances.get', () => this.clients.instances.get({ project: this.project, zone, instance: name }))) as GceInstance | undefined;
        if (!vm) throw new CloudApiError(`instance ${zone}/${name} no longer exists (deleted or failed to start)`, { zone, name });
        if (vm.status === 'TERMINATED' || vm.status === 'STOPPING' || vm.status === 'SUSPENDED') {
          throw new CloudApiError(`instance ${zone}/${name} is ${vm.status} instead of starting; check its serial console`, { zone, name, status: vm.status });
        }
        return this.toInstance(vm);
      });
      if (current.every((i) => i?.state === 'running' && i.privateIp)) return current as Instance[];
      if (Date.now() + poll > deadline) {
        const waiting = parsed.filter((_, i) => current[i]?.state !== 'running').map((p) => `${p.zone}/${p.name}`);
        throw new TimeoutError(`Compute Engine instances not running after ${options.deadlineMs} ms: ${waiting.join(', ')}`, { ids: waiting });
      }
      await sleep(poll, options.signal);
    }
  }

  async listInstances(cluster: string, signal?: AbortSignal): Promise<Instance[]> {
    signal?.throwIfAborted();
    const out: Instance[] = [];
    try {
      const pages = this.clients.instances.aggregatedListAsync({
        project: this.project,
        filter: `labels.${TAG_KEYS.cluster} = "${cluster}"`,
        returnPartialSuccess: true,
        maxResults: 500,
      });
      for await (const [, scoped] of pages) {
        for (const vm of (scoped.instances ?? []) as GceInstance[]) {
          const instance = this.toInstance(vm);
          if (instance && instance.tags.cluster === cluster) out.push(instance);
        }
      }
    } catch (error) {
      throw mapApiError(error, { action: 'instances.aggregatedList' });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async terminateInstances(ids: readonly string[], signal?: AbortSignal): Promise<void> {
    const project = this.project;
    await eachLimited(ids, this.settings.concurrency ?? 8, async (id) => {
      const { zone, name } = this.parseId(id);
      let op: Operation;
      try {
        // No requestId: a later delete of a new VM with the same name must not be answered with this one's Operation.
        op = operationOf((await this.clients.instances.delete({ project, zone, instance: name }))[0]);
      } catch (error) {
        if (isNotFound(error)) return;
        throw mapApiError(error, { action: 'instances.delete', zone });
      }
      await this.wait(op, { action: 'instances.delete', zone }, signal);
    });
  }

  async close(): Promise<void> {
    await this.clientsValue?.close();
    this.clientsValue = undefined;
  }
}
