/**
 * The Azure provider: official @azure/arm-compute / arm-network / arm-resources clients against real ARM or any
 * endpoint that speaks it (cloudsim). Everything a cluster owns lives in the resource group `skypool-<cluster>`;
 * VM and NIC names derive from node names, so a repeated PUT is the idempotent retry ARM defines.
 */
import { readFileSync } from 'node:fs';
import type { VirtualMachine } from '@azure/arm-compute';
import type { NetworkInterface, PublicIPAddress } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import { CapacityError, CloudApiError, PrerequisiteError, TimeoutError } from '../../src/errors.js';
import {
  type Instance,
  type LaunchRequest,
  type ListOptions,
  type LocationOptions,
  type NetworkRef,
  type NodeLaunch,
  type Provider,
  type ProviderSettings,
  TAG_KEYS,
  tagsToRecord,
  type WaitOptions,
} from '../../src/providers/types.js';
import { retryIdempotentRead } from '../../src/util/connection-drops.js';
import { operatorAddress } from '../../src/util/operator-address.js';
import { sleep, throwIfCancelled, WaitReads } from '../../src/util/poll.js';
import { fetchBootLog } from './boot-log.js';
import { type AzureClients, createClients, staticTokenCredential } from './clients.js';
import { isNotFound, mapAzureError } from './errors.js';
import { addressesOf, type ListingContext, listGroup, scaleSetMembers, scaleSetTags } from './inventory.js';
import { deleteNetwork, ensureNetwork, fabricFirewallProblem, names } from './network.js';
import { preflight } from './preflight.js';
import { ArmPacer } from './rate.js';
import { SizeCatalog } from './sizes.js';
import { throwawaySshPublicKey } from './ssh.js';
import {
  type Addresses,
  computerNamePrefix,
  parseVmId,
  SCALE_SET_MAX,
  scaleSetBody,
  scaleSetName,
  scaleSetOfVm,
  stateOf,
  toInstance,
  vmBody,
  withScaleSetTags,
} from './vms.js';

type VmPoller = ReturnType<AzureClients['compute']['virtualMachines']['createOrUpdate']>;

export interface AzureProviderSettings extends ProviderSettings {
  /** Subscription GUID; default env `AZURE_SUBSCRIPTION_ID`. */
  readonly subscriptionId?: string;
  /** Location for the cluster's resources; default env `AZURE_LOCATION`, else `eastus`. */
  readonly region?: string;
  /** ARM endpoint; default env `SKYPOOL_AZURE_ENDPOINT`, else the SDK's (https://management.azure.com). cloudsim: its `httpsUrl`. */
  readonly endpoint?: string;
  /** Any TokenCredential (e.g. DefaultAzureCredential); default a static token from env `AZURE_ACCESS_TOKEN`. */
  readonly credential?: TokenCredential;
  /** Extra CA for the endpoint (cloudsim's `caCertPem`); NODE_EXTRA_CA_CERTS works too. */
  readonly caCertPem?: string;
  /** Same as `caCertPem`, read from a file (e.g. `skypool sim --ca-out`). */
  readonly caCertFile?: string;
  /** Long-running operation poll interval; default 2000 ms (the SDK's). Use ~20 ms against cloudsim. */
  readonly pollIntervalMs?: number;
  /** A Standard static public IP per VM (Instance.publicIp), so this machine reaches the engine API; default true. */
  readonly publicIp?: boolean;
  /**
   * Who may reach the Docker engine API (2376/tcp, mTLS): a CIDR or service tag; `engineApiSources` wins. Default:
   * the operator's own address with public IPs, else `VirtualNetwork`.
   */
  readonly engineApiSourceCidr?: string;
  /** VNet address space; default `10.X.0.0/16` derived from the cluster name. */
  readonly addressSpace?: string;
  readonly adminUsername?: string;
  /** OpenSSH public key for the admin user; default a throwaway key (nodes are not managed over SSH). */
  readonly sshPublicKey?: string;
  /** Fixed-address VMs created, and VMs deleted, in parallel; default 16. */
  readonly concurrency?: number;
}

const DEFAULT_SIZE = { cpus: 2, memoryGiB: 4 };

/** Runs `fn` over `items` with at most `limit` in flight; every outcome is kept. */
async function settleAll<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]!) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `items` in consecutive slices of at most `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class AzureProvider implements Provider {
  readonly name = 'azure' as const;
  private readonly subscriptionId: string | undefined;
  private readonly region: string;
  private readonly credential: TokenCredential | undefined;
  private readonly pollIntervalMs: number;
  private readonly sshPublicKey: string;
  private readonly endpoint: string | undefined;
  private readonly publicIp: boolean;
  private clientsCache?: AzureClients;
  private sizesCache?: SizeCatalog;
  /** Paces calls by ARM's buckets, from the remaining-tokens headers of every answer. */
  private readonly pacer = new ArmPacer();
  /** VMs the last listing found: how many pages the next one will read. */
  private lastVmCount = 0;

  constructor(private readonly settings: AzureProviderSettings = {}) {
    this.subscriptionId = settings.subscriptionId ?? process.env.AZURE_SUBSCRIPTION_ID;
    this.region = settings.region ?? process.env.AZURE_LOCATION ?? 'eastus';
    const token = process.env.AZURE_ACCESS_TOKEN;
    this.credential = settings.credential ?? (token ? staticTokenCredential(token) : undefined);
    this.pollIntervalMs = settings.pollIntervalMs ?? 2000;
    this.endpoint = settings.endpoint ?? process.env.SKYPOOL_AZURE_ENDPOINT;
    this.publicIp = settings.publicIp ?? true;
    this.sshPublicKey = settings.sshPublicKey ?? throwawaySshPublicKey();
  }

  async checkPrerequisites(): Promise<void> {
    preflight({
      ...this.settings,
      subscriptionId: this.subscriptionId,
      credential: this.credential,
      endpoint: this.endpoint,
    });
  }

  private get clients(): AzureClients {
    if (!this.clientsCache) {
      if (!this.subscriptionId || !this.credential)
        throw new PrerequisiteError(
          'Azure provider is not configured: call checkPrerequisites() for what is missing',
          {},
        );
      this.clientsCache = createClients({
        subscriptionId: this.subscriptionId,
        credential: this.credential,
        endpoint: this.endpoint,
        caCertPem: this.caCertPem,
        policy: this.pacer.policy,
      });
    }
    return this.clientsCache;
  }

  private get caCertPem(): string | undefined {
    return (
      this.settings.caCertPem ?? (this.settings.caCertFile ? readFileSync(this.settings.caCertFile, 'utf8') : undefined)
    );
  }

  private get sizes(): SizeCatalog {
    this.sizesCache ??= new SizeCatalog(this.clients.compute);
    return this.sizesCache;
  }

  private poll(signal?: AbortSignal) {
    return { updateIntervalInMs: this.pollIntervalMs, ...(signal ? { abortSignal: signal } : {}) };
  }

  private sources?: Promise<readonly string[]>;

  engineApiSources(signal?: AbortSignal): Promise<readonly string[]> {
    const given =
      this.settings.engineApiSources ??
      (this.settings.engineApiSourceCidr
        ? [this.settings.engineApiSourceCidr]
        : this.publicIp
          ? []
          : ['VirtualNetwork']);
    this.sources ??=
      given.length > 0
        ? Promise.resolve(given)
        : operatorAddress({
            endpoints: [this.endpoint],
            ...(this.settings.operatorAddressUrl ? { lookupUrl: this.settings.operatorAddressUrl } : {}),
            ...(signal ? { signal } : {}),
          });
    this.sources.catch(() => {
      this.sources = undefined;
    });
    return this.sources;
  }

  /** One VNet (and NSG) per region in the cluster's resource group. */
  async ensureNetwork(cluster: string, options: LocationOptions = {}): Promise<NetworkRef> {
    const { signal } = options;
    return ensureNetwork(
      this.clients,
      cluster,
      {
        region: options.region ?? this.region,
        addressSpace: this.settings.addressSpace,
        engineApiSources: await this.engineApiSources(signal),
        pollIntervalMs: this.pollIntervalMs,
      },
      signal,
    );
  }

  fabricFirewallProblem(cluster: string, options: LocationOptions = {}): Promise<string | undefined> {
    return fabricFirewallProblem(this.clients, cluster, options.region ?? this.region, options.signal);
  }

  /** Deletes the cluster's resource group: the networks of every region (idempotent per region asked). */
  deleteNetwork(cluster: string, options: LocationOptions = {}): Promise<void> {
    return deleteNetwork(this.clients, cluster, this.pollIntervalMs, options.signal);
  }

  /**
   * Nodes without a fixed address: one Flexible scale set per launch (up to 1,000 VMs each), whose VMs make their own
   * NIC and public IP, so one write for the batch; the VMs name themselves (computer name prefix + 6 characters), as
   * EC2's do. A node with a fixed private address: its NIC (and public IP) first, then one VM PUT. Returns once every
   * VM has settled; a capacity failure removes all of the launch (the caller fails over to another zone with another
   * token) and a failed VM's operation says why.
   */
  async runInstances(request: LaunchRequest): Promise<Instance[]> {
    const region = request.pool.region ?? request.network.region ?? this.region;
    const group = names.group(request.cluster);
    const signal = request.signal;
    const size = request.pool.instanceType ?? (await this.pickSize(region, request));
    const ctx = { operation: 'runInstances', region, zone: request.zone, instanceType: size };
    const pinned = request.nodes.filter((n) => n.privateIp);
    const parts = chunks(
      request.nodes.filter((n) => !n.privateIp),
      SCALE_SET_MAX,
    );
    const scaleSets = parts.map((_, i) => scaleSetName(request, i));
    // Every launch settles before any failure is acted on: a set still being PUT would outlive its removal.
    const outcomes = await Promise.allSettled([
      this.launchPinned(group, region, size, request, pinned, ctx),
      ...parts.map((part, i) => this.launchScaleSet(group, region, size, request, part.length, i, ctx)),
    ]);
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [mapAzureError(o.reason, ctx)] : []));
    if (failures.length > 0) {
      const capacity = failures.find((f) => f instanceof CapacityError);
      if (capacity) {
        // All-or-nothing: the caller fails over to another zone, and a VM's zone is immutable.
        await Promise.all([
          this.removeNodes(
            group,
            pinned.map((n) => n.name),
            signal,
          ),
          ...scaleSets.map((name) => this.removeScaleSet(group, name, signal)),
        ]);
        throw capacity;
      }
      throw failures[0]!;
    }
    const none: Addresses = { nics: new Map(), publicIps: new Map() };
    const vms = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
    return vms.flatMap((vm) => {
      const instance = toInstance(vm, none);
      return instance ? [instance] : [];
    });
  }

  /** One scale set of `capacity` VMs; resolves with its VMs once its operation has succeeded. */
  private async launchScaleSet(
    group: string,
    region: string,
    size: string,
    request: LaunchRequest,
    capacity: number,
    part: number,
    ctx: { operation: string; region: string; zone?: string; instanceType: string },
  ): Promise<VirtualMachine[]> {
    const signal = request.signal;
    const name = scaleSetName(request, part);
    const body = scaleSetBody(request, {
      region,
      size,
      adminUsername: this.settings.adminUsername ?? 'skypool',
      sshPublicKey: this.sshPublicKey,
      subnetId: request.network.id,
      publicIp: this.publicIp,
      capacity,
      computerNamePrefix: computerNamePrefix(request, part),
    });
    await this.pacer.take('writes', 1, signal);
    const poller = this.clients.compute.virtualMachineScaleSets.createOrUpdate(group, name, body, this.poll(signal));
    try {
      await poller.pollUntilDone();
    } catch (error) {
      throw mapAzureError(error, ctx);
    }
    const tags = body.tags ?? {};
    const vms = (await this.scaleSetVms(group, name, signal)).map((vm) => withScaleSetTags(vm, () => tags));
    const failed = vms.find((vm) => vm.provisioningState === 'Failed');
    if (failed) {
      // Removed, so that the next launch of these nodes makes them again (a PUT of the same set would not).
      await this.removeScaleSet(group, name, signal);
      throw new CloudApiError(`Azure VM ${failed.name} of scale set ${name} failed to provision; launch again`, {
        ...ctx,
        scaleSet: name,
      });
    }
    return vms;
  }

  /** The VMs of one scale set; none if its group is gone. */
  private async scaleSetVms(group: string, scaleSet: string, signal?: AbortSignal): Promise<VirtualMachine[]> {
    try {
      return await scaleSetMembers(this.listing(signal), group, scaleSet, false);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw mapAzureError(error, { operation: 'virtualMachines.list' });
    }
  }

  /** The group's scale sets' tags by lower-cased name; none if the group is gone. */
  private async scaleSetTagsOf(group: string, signal?: AbortSignal): Promise<Map<string, Record<string, string>>> {
    try {
      return await scaleSetTags(this.listing(signal), group);
    } catch (error) {
      if (isNotFound(error)) return new Map();
      throw mapAzureError(error, { operation: 'virtualMachineScaleSets.list' });
    }
  }

  /** Deletes a scale set's VMs (their NICs, public IPs and disks go with them), then the scale set. */
  private async removeScaleSet(group: string, scaleSet: string, signal?: AbortSignal): Promise<void> {
    const vms = await this.scaleSetVms(group, scaleSet, signal);
    await this.removeNodes(
      group,
      vms.flatMap((vm) => (vm.name ? [vm.name] : [])),
      signal,
    );
    try {
      await this.clients.compute.virtualMachineScaleSets.delete(group, scaleSet, this.poll(signal));
    } catch (error) {
      if (!isNotFound(error)) throw mapAzureError(error, { operation: 'virtualMachineScaleSets.delete' });
    }
  }

  /** Nodes with a fixed private address: NIC (and public IP) first, then one VM PUT each; resolves once all settled. */
  private async launchPinned(
    group: string,
    region: string,
    size: string,
    request: LaunchRequest,
    nodes: readonly NodeLaunch[],
    ctx: { operation: string; region: string; zone?: string; instanceType: string },
  ): Promise<VirtualMachine[]> {
    if (nodes.length === 0) return [];
    const signal = request.signal;
    const { compute } = this.clients;
    const pollers = new Map<string, VmPoller>();
    const outcomes = await settleAll(nodes, this.settings.concurrency ?? 16, async (node) => {
      const nicId = await this.ownNic(group, region, request, node, signal);
      const body = vmBody(request, node, {
        region,
        size,
        adminUsername: this.settings.adminUsername ?? 'skypool',
        sshPublicKey: this.sshPublicKey,
        nicId,
      });
      await this.pacer.take('writes', 1, signal);
      const poller = compute.virtualMachines.createOrUpdate(group, node.name, body, this.poll(signal));
      await poller.submitted();
      pollers.set(node.name, poller);
    });
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (rejected) throw rejected.reason;
    const vms = await this.settle(
      group,
      nodes.map((n) => n.name),
      signal,
    );
    const failed = nodes.filter((n) => vms.get(n.name.toLowerCase())?.provisioningState === 'Failed');
    // The operation of a failed VM holds the reason (AllocationFailed...): one status read each.
    const failures = await Promise.all(
      failed.map((n) =>
        (pollers.get(n.name) ?? Promise.reject(new Error(`VM ${n.name} failed to provision`))).then(
          () => new CloudApiError(`Azure VM ${n.name} failed to provision; terminate it and launch again`, ctx),
          (error: unknown) => mapAzureError(error, ctx),
        ),
      ),
    );
    const capacity = failures.find((f) => f instanceof CapacityError);
    if (capacity ?? failures[0]) throw capacity ?? failures[0];
    return nodes.flatMap((n) => {
      const vm = vms.get(n.name.toLowerCase());
      return vm ? [vm] : [];
    });
  }

  /** The NIC (and public IP) of a node with a fixed private address, made before its VM. */
  private async ownNic(
    group: string,
    region: string,
    request: LaunchRequest,
    node: LaunchRequest['nodes'][number],
    signal?: AbortSignal,
  ): Promise<string> {
    const { network } = this.clients;
    const tags = tagsToRecord(request.tags);
    let pipId: string | undefined;
    if (this.publicIp) {
      await this.pacer.take('writes', 1, signal);
      const pip = await network.publicIPAddresses.beginCreateOrUpdateAndWait(
        group,
        names.publicIp(node.name),
        {
          location: region,
          tags,
          sku: { name: 'Standard', tier: 'Regional' },
          publicIPAllocationMethod: 'Static',
          ...(request.zone ? { zones: [request.zone] } : {}),
        },
        this.poll(signal),
      );
      pipId = pip.id;
    }
    await this.pacer.take('writes', 1, signal);
    const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(
      group,
      names.nic(node.name),
      {
        location: region,
        tags,
        ipConfigurations: [
          {
            name: 'ipconfig1',
            subnet: { id: request.network.id },
            privateIPAllocationMethod: 'Static',
            privateIPAddress: node.privateIp,
            ...(pipId ? { publicIPAddress: { id: pipId } } : {}),
          },
        ],
      },
      this.poll(signal),
    );
    return nic.id!;
  }

  /** The group's VMs by lower-cased name, one paged listing; read tokens are waited for first. */
  private async listVms(group: string, signal?: AbortSignal): Promise<Map<string, VirtualMachine>> {
    await sleep(this.pacer.readDelayMs(Math.max(1, Math.ceil(this.lastVmCount / 50))), signal);
    const vms = new Map<string, VirtualMachine>();
    try {
      for await (const vm of this.clients.compute.virtualMachines.list(group, { abortSignal: signal }))
        if (vm.name) vms.set(vm.name.toLowerCase(), vm);
    } catch (error) {
      if (!isNotFound(error)) throw mapAzureError(error, { operation: 'virtualMachines.list' });
    }
    this.lastVmCount = vms.size;
    return vms;
  }

  /** Lists the group's VMs until none of `vmNames` is still Creating (or missing: just created, not yet listed). */
  private async settle(group: string, vmNames: readonly string[], signal?: AbortSignal) {
    const reads = new WaitReads(this.pollIntervalMs);
    for (;;) {
      const vms = await reads.read(() => this.listVms(group, signal), signal);
      if (vms) {
        const pending = vmNames.some((n) => {
          const state = vms.get(n.toLowerCase())?.provisioningState;
          return state === undefined || state === 'Creating';
        });
        if (!pending) return vms;
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  private async pickSize(region: string, request: LaunchRequest): Promise<string> {
    try {
      return await this.sizes.pickSize(region, request.pool.size ?? DEFAULT_SIZE, request.zone, request.signal);
    } catch (error) {
      throw mapAzureError(error, { operation: 'resourceSkus.list', region });
    }
  }

  /**
   * Deletes the VMs (their NICs and disks go with them), then any NIC left without a VM and the public IPs, which
   * Azure keeps until their NIC is gone.
   */
  private async removeNodes(group: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<void> {
    const { compute, network } = this.clients;
    const outcomes = await settleAll(nodeNames, this.settings.concurrency ?? 16, async (name) => {
      await compute.virtualMachines.delete(group, name, this.poll(signal));
      // A scale set's VM made its NIC and public IP itself, deleted with it.
      if (scaleSetOfVm(name)) return;
      await network.networkInterfaces.beginDeleteAndWait(group, names.nic(name), this.poll(signal));
      if (this.publicIp)
        await network.publicIPAddresses.beginDeleteAndWait(group, names.publicIp(name), this.poll(signal));
    });
    const failed = outcomes.find((o) => o.status === 'rejected' && !isNotFound(o.reason));
    if (failed && failed.status === 'rejected') throw mapAzureError(failed.reason, { operation: 'terminateInstances' });
  }

  /** What the inventory reads need: the clients, the subscription, whether VMs have public IPs. */
  private listing(signal?: AbortSignal): ListingContext {
    return {
      clients: this.clients,
      subscriptionId: this.subscriptionId!,
      publicIp: this.publicIp,
      ...(signal ? { signal } : {}),
    };
  }

  /**
   * Every VM of the cluster's resource group, whatever its region (a superset of `regions` is safe), with its
   * addresses and power state (see listGroup for the reads).
   */
  async listInstances(cluster: string, options: ListOptions = {}): Promise<Instance[]> {
    const { signal } = options;
    const group = names.group(cluster);
    try {
      // The SDK retries a reset connection but not a body cut short while it was read: a list is asked again.
      const { vms, addresses, power } = await retryIdempotentRead(
        () => listGroup(this.listing(signal), group),
        signal ? { signal } : {},
      );
      return vms.flatMap((vm) => {
        const instance =
          vm.tags?.[TAG_KEYS.cluster] === cluster
            ? toInstance(vm, addresses, power.get(vm.id?.toLowerCase() ?? ''))
            : undefined;
        return instance && instance.state !== 'terminated' ? [instance] : [];
      });
    } catch (error) {
      if (isNotFound(error)) return [];
      throw mapAzureError(error, { operation: 'listInstances', region: this.region });
    }
  }

  /**
   * One VM listing of the group per poll for the whole batch; the NICs and public IPs (where the addresses are) are
   * listed only once every VM has succeeded. Reads wait for the read bucket, and a throttled poll is waited out.
   */
  async waitUntilRunning(ids: readonly string[], options: WaitOptions): Promise<Instance[]> {
    const { deadline, signal } = options;
    const wanted = ids.map((id) => {
      const ref = parseVmId(id);
      if (!ref) throw new CloudApiError(`"${id}" is not an Azure VM resource id`, { id });
      return { id, ...ref };
    });
    const groups = [...new Set(wanted.map((w) => w.group))];
    const reads = new WaitReads(this.pollIntervalMs);
    // Scale sets' tags (one read per group), for VMs that carry none of their own.
    const setTags = new Map<string, Map<string, Record<string, string>>>();
    if (wanted.some((w) => scaleSetOfVm(w.name)))
      for (const group of groups) setTags.set(group, await this.scaleSetTagsOf(group, signal));
    const listAll = async () => {
      const all = new Map<string, VirtualMachine>();
      for (const group of groups)
        for (const [name, vm] of await this.listVms(group, signal))
          all.set(
            `${group.toLowerCase()}/${name}`,
            withScaleSetTags(vm, (set) => setTags.get(group)?.get(set)),
          );
      return all;
    };
    let ready: Instance[] = [];
    for (;;) {
      throwIfCancelled(signal);
      const vms = await reads.read(listAll, signal);
      if (vms) {
        const mine = wanted.map((w) => vms.get(`${w.group.toLowerCase()}/${w.name.toLowerCase()}`));
        const failed = mine.find((vm) => vm?.provisioningState === 'Failed');
        if (failed)
          throw new CloudApiError(`Azure VM ${failed.name} failed to provision; terminate it and launch again`, {
            id: failed.id,
          });
        if (mine.every((vm) => vm && stateOf(vm.provisioningState) === 'running')) {
          const addresses = await reads.read(() => this.addressesOfGroups(groups, signal), signal);
          if (addresses) {
            ready = mine
              .map((vm) => toInstance(vm!, addresses))
              .filter(
                (i): i is Instance =>
                  i?.state === 'running' && i.privateIp !== undefined && (!this.publicIp || i.publicIp !== undefined),
              );
            if (ready.length === wanted.length) return ready;
          }
        }
      }
      if (Date.now() >= deadline) {
        const up = new Set(ready.map((r) => r.id.toLowerCase()));
        const missing = wanted.filter((w) => !up.has(w.id.toLowerCase())).map((w) => w.name);
        throw new TimeoutError(`Azure VMs not running by the deadline: ${missing.join(', ')}`, { ids: missing });
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  /** NICs and public IPs of the groups (two paged listings each), mapped to skypool's errors. */
  private async addressesOfGroups(groups: readonly string[], signal?: AbortSignal): Promise<Addresses> {
    const nics = new Map<string, NetworkInterface>();
    const publicIps = new Map<string, PublicIPAddress>();
    for (const group of groups) {
      try {
        await sleep(this.pacer.readDelayMs(2), signal);
        const found = await addressesOf(this.listing(signal), group);
        for (const [k, v] of found.nics) nics.set(k, v);
        for (const [k, v] of found.publicIps) publicIps.set(k, v);
      } catch (error) {
        if (!isNotFound(error)) throw mapAzureError(error, { operation: 'waitUntilRunning' });
      }
    }
    return { nics, publicIps };
  }

  /** Ids are resource ids (global), so the region option is not needed. */
  async terminateInstances(ids: readonly string[], options: LocationOptions = {}): Promise<void> {
    const { signal } = options;
    const byGroup = new Map<string, string[]>();
    for (const id of ids) {
      const ref = parseVmId(id);
      if (!ref) throw new CloudApiError(`"${id}" is not an Azure VM resource id`, { id });
      byGroup.set(ref.group, [...(byGroup.get(ref.group) ?? []), ref.name]);
    }
    for (const [group, vmNames] of byGroup) {
      try {
        await this.removeNodes(group, vmNames, signal);
        await this.removeEmptyScaleSets(group, vmNames, signal);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  /** Deletes the scale sets of these (deleted) VMs that have no VM left: an empty one would outlive its pool. */
  private async removeEmptyScaleSets(group: string, vmNames: readonly string[], signal?: AbortSignal): Promise<void> {
    const scaleSets = [...new Set(vmNames.flatMap((name) => scaleSetOfVm(name) ?? []))];
    await Promise.all(
      scaleSets.map(async (scaleSet) => {
        if ((await this.scaleSetVms(group, scaleSet, signal)).length === 0)
          await this.removeScaleSet(group, scaleSet, signal);
      }),
    );
  }

  /**
   * Boot diagnostics' serial log: retrieveBootDiagnosticsData gives a short-lived SAS URI of the blob, which is
   * read without the ARM token. Empty while the VM has none yet.
   */
  async readConsole(instance: Pick<Instance, 'id'>, signal?: AbortSignal): Promise<string> {
    const ref = parseVmId(instance.id);
    if (!ref) throw new CloudApiError(`"${instance.id}" is not an Azure VM resource id`, { id: instance.id });
    let uri: string | undefined;
    try {
      const data = await this.clients.compute.virtualMachines.retrieveBootDiagnosticsData(ref.group, ref.name, {
        sasUriExpirationTimeInMinutes: 5,
        ...(signal ? { abortSignal: signal } : {}),
      });
      uri = data.serialConsoleLogBlobUri;
    } catch (error) {
      if (isNotFound(error)) return '';
      throw mapAzureError(error, { operation: 'retrieveBootDiagnosticsData' });
    }
    if (!uri) return '';
    const caCertPem = this.caCertPem;
    return fetchBootLog(uri, { ...(caCertPem ? { extraCaPem: caCertPem } : {}), ...(signal ? { signal } : {}) });
  }

  async close(): Promise<void> {
    this.clientsCache = undefined;
    this.sizesCache = undefined;
  }
}

export { staticTokenCredential } from './clients.js';

export function createProvider(settings: AzureProviderSettings = {}): AzureProvider {
  return new AzureProvider(settings);
}
