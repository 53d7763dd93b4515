import { CloudApiError, IdempotencyConflictError, PrerequisiteError, TimeoutError } from '../../src/errors.js';
import {
  type Instance,
  type LaunchRequest,
  type ListOptions,
  type LocationOptions,
  type NetworkRef,
  type Provider,
  type RegionWaitOptions,
  TAG_KEYS,
  tagsToRecord,
} from '../../src/providers/types.js';
import { throwIfCancelled, WaitReads } from '../../src/util/poll.js';
import { GceApi } from './api.js';
import { describeFailure, type FailureContext, isAlreadyExists, isNotFound, mapApiError } from './errors.js';
import { AGGREGATED_LIST_FIELDS, type GceInstance, LIST_FIELDS, parseInstanceId, toInstance } from './instances.js';
import { networkTag, requestIdFor } from './naming.js';
import { GceNetworks } from './network.js';
import { type Operation, operationOf } from './operations.js';
import { GcePlacement } from './placement.js';
import { checkGcpCredentials } from './preflight.js';
import { type GcpProviderSettings, withEnvironment } from './settings.js';
import { eachLimited, regionOfZone, sleep } from './util.js';

export type { GcpProviderSettings } from './settings.js';

const UBUNTU = 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64';

/**
 * Compute Engine adapter. The cloud's own listing is the state: instances are found by their ownership labels
 * (aggregatedList with a label filter), network resources by their deterministic names. Mutations carry a
 * requestId derived from the launch's idempotency token, and every Operation is waited for with
 * `operations.wait`; capacity errors arrive in the Operation and become CapacityError.
 */
export class GcpProvider implements Provider {
  readonly name = 'gcp' as const;
  private readonly api: GceApi;
  private readonly networks: GceNetworks;
  private readonly placement: GcePlacement;

  constructor(settings: GcpProviderSettings = {}) {
    this.api = new GceApi(withEnvironment(settings));
    this.networks = new GceNetworks(this.api);
    this.placement = new GcePlacement(this.api);
  }

  engineApiSources(signal?: AbortSignal): Promise<readonly string[]> {
    return this.api.engineApiSources(signal);
  }

  async checkPrerequisites(): Promise<void> {
    const project = this.api.project;
    checkGcpCredentials(this.api.settings);
    try {
      await this.api.read(() => this.api.clients.regions.get({ project, region: this.api.region }));
    } catch (error) {
      const f = describeFailure(error);
      if (f.httpStatus === 401 || f.httpStatus === 403) {
        throw new PrerequisiteError(
          `Compute Engine refused the credentials for project ${project} (${f.httpStatus} ${f.reason ?? ''}): check the account has roles/compute.admin and the Compute Engine API is enabled`,
          { project },
        );
      }
      if (f.httpStatus === 404)
        throw new PrerequisiteError(
          `Compute Engine has no region "${this.api.region}" in project ${project}: set \`region\` to a valid region`,
          { region: this.api.region },
        );
      throw mapApiError(error, { action: 'regions.get', project });
    }
  }

  ensureNetwork(cluster: string, options: LocationOptions = {}): Promise<NetworkRef> {
    return this.networks.ensureNetwork(cluster, options.region ?? this.api.region, options.signal);
  }

  fabricFirewallProblem(cluster: string): Promise<string | undefined> {
    return this.networks.fabricFirewallProblem(cluster);
  }

  /** The VPC network is global: deleting it removes the subnets of every region (idempotent per region asked). */
  deleteNetwork(cluster: string, options: LocationOptions = {}): Promise<void> {
    return this.networks.deleteNetwork(cluster, options.signal);
  }

  async runInstances(request: LaunchRequest): Promise<Instance[]> {
    throwIfCancelled(request.signal);
    const project = this.api.project;
    const region = request.pool.region ?? this.api.region;
    const zone = await this.placement.zoneFor(request, region);
    if (regionOfZone(zone) !== region)
      throw new CloudApiError(`zone ${zone} is not in region ${region}; fix the pool's zones or region`, {
        zone,
        region,
      });
    const machineType = await this.placement.machineTypeFor(request.pool, zone);
    const subnet = request.network.id.includes(`/regions/${region}/`)
      ? request.network.id
      : (await this.networks.ensureSubnet(request.cluster, region, request.signal)).id;
    const context: FailureContext = { action: 'instances.insert', zone, instanceType: machineType, project };
    const labels = { ...(request.pool.labels ?? {}), ...tagsToRecord(request.tags) };
    const keys = this.api.settings.userDataKeys ?? ['user-data'];
    const properties = {
      labels,
      tags: { items: [networkTag(request.cluster)] },
      metadata: { items: keys.map((key) => ({ key, value: request.userData })) },
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: {
            sourceImage: this.api.settings.image ?? UBUNTU,
            diskSizeGb: String(this.api.settings.diskSizeGb ?? 20),
          },
        },
      ],
      scheduling: { automaticRestart: true, onHostMaintenance: 'MIGRATE' },
    };
    const nic = (networkIP?: string) => ({
      subnetwork: subnet,
      ...(networkIP ? { networkIP } : {}),
      accessConfigs: this.api.settings.externalIp === false ? [] : [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT' }],
    });

    // A create whose Operation is awaited; a name conflict is fine when the VMs are this very launch's.
    const launch = (action: string, names: string[], create: () => Promise<unknown>) => async () => {
      let op: Operation;
      try {
        // The requestId is the launch's, the same in every attempt: a repeat is answered with the first Operation.
        op = operationOf(((await this.api.call(create, request.signal)) as unknown[])[0]);
      } catch (error) {
        if (isAlreadyExists(error) && (await this.sameLaunch(zone, names, request))) return;
        throw mapApiError(error, { ...context, action });
      }
      await this.api.wait(op, { ...context, action }, request.signal);
    };
    const fixed = request.nodes.filter((n) => n.privateIp);
    const free = request.nodes.filter((n) => !n.privateIp);
    const launches: Array<() => Promise<void>> = [];
    if (free.length) {
      // One bulkInsert for every node without a fixed address: all-or-nothing (minCount = count).
      launches.push(
        launch(
          'instances.bulkInsert',
          free.map((n) => n.name),
          () =>
            this.api.clients.instances.bulkInsert({
              project,
              zone,
              requestId: requestIdFor(request.idempotencyToken, zone, 'bulk'),
              bulkInsertInstanceResourceResource: {
                count: free.length,
                minCount: free.length,
                perInstanceProperties: Object.fromEntries(free.map((n) => [n.name, { name: n.name }])),
                instanceProperties: { ...properties, machineType, networkInterfaces: [nic()] },
              },
            }),
        ),
      );
    }
    for (const node of fixed) {
      launches.push(
        launch('instances.insert', [node.name], () =>
          this.api.clients.instances.insert({
            project,
            zone,
            requestId: requestIdFor(request.idempotencyToken, zone, node.name),
            instanceResource: {
              ...properties,
              name: node.name,
              machineType: `zones/${zone}/machineTypes/${machineType}`,
              networkInterfaces: [nic(node.privateIp)],
            },
          }),
        ),
      );
    }
    await eachLimited(launches, this.api.concurrency, (launch) => launch());

    // One list call reads back every new VM (addresses are known once the insert Operation is DONE).
    const wanted = new Set(request.nodes.map((n) => n.name));
    const filter = `(labels.${TAG_KEYS.cluster} = "${request.cluster}") (labels.${TAG_KEYS.pool} = "${request.tags.pool}")`;
    let listed: GceInstance[];
    try {
      [listed] = (await this.api.read(() =>
        this.api.clients.instances.list(
          { project, zone, filter, maxResults: this.api.settings.listPageSize ?? 500 },
          LIST_FIELDS,
        ),
      )) as unknown as [GceInstance[]];
    } catch (error) {
      throw mapApiError(error, { action: 'instances.list', zone });
    }
    const instances = listed
      .filter((vm) => vm.name && wanted.has(vm.name))
      .map((vm) => toInstance(vm))
      .filter((i): i is Instance => i !== undefined);
    const byName = new Map(instances.map((i) => [i.name, i]));
    const missing = request.nodes.filter((n) => !byName.has(n.name)).map((n) => n.name);
    // GCE answers a requestId it saw before with that earlier operation: when its VM is gone (a never-joined VM
    // replaced after a crash), the token belongs to the gone VM and the caller moves to the next generation.
    if (missing.length)
      throw new IdempotencyConflictError(
        `Compute Engine reported success but ${missing.join(', ')} cannot be found in ${zone}: the request id belongs to an earlier VM of that name`,
        { zone, missing },
      );
    return request.nodes.map((n) => byName.get(n.name)!);
  }

  /** True when same-named instances already exist from this very launch (same cluster, pool and user-data). */
  private async sameLaunch(zone: string, names: readonly string[], request: LaunchRequest): Promise<boolean> {
    const vms = await Promise.all(
      names.map(
        (instance) =>
          this.api.find('instances.get', () =>
            this.api.clients.instances.get({ project: this.api.project, zone, instance }),
          ) as Promise<GceInstance | undefined>,
      ),
    );
    const same = vms.every(
      (vm) =>
        vm?.labels?.[TAG_KEYS.cluster] === request.cluster &&
        vm.labels[TAG_KEYS.pool] === request.tags.pool &&
        vm.metadata?.items?.find((i) => i.key === (this.api.settings.userDataKeys ?? ['user-data'])[0])?.value ===
          request.userData,
    );
    if (!same) {
      throw new CloudApiError(
        `an instance named ${names.join(' or ')} already exists in ${zone} with other settings; terminate it or pick another cluster/pool name`,
        { zone, names },
      );
    }
    return true;
  }

  /**
   * Reads the given instances with as few calls as possible: one `instances.get` for a single VM, else
   * `instances.list` per zone with a name filter, 50 names per call (a poll of 100 VMs is 2 reads, not 100).
   */
  private async readInstances(ids: readonly string[], cluster?: string): Promise<Map<string, GceInstance>> {
    const byZone = new Map<string, string[]>();
    for (const id of ids) {
      const { zone, name } = parseInstanceId(id);
      const names = byZone.get(zone);
      if (names) names.push(name);
      else byZone.set(zone, [name]);
    }
    const found = new Map<string, GceInstance>();
    // More than one name batch in a zone: one listing of the zone by the cluster's label (500 a page) instead.
    const byLabel = cluster ? [...byZone].filter(([, names]) => names.length > 50) : [];
    await eachLimited(byLabel, this.api.concurrency, async ([zone, names]) => {
      const wanted = new Set(names);
      try {
        const [list] = (await this.api.read(() =>
          this.api.clients.instances.list(
            {
              project: this.api.project,
              zone,
              filter: `labels.${TAG_KEYS.cluster} = "${cluster}"`,
              maxResults: 500,
            },
            LIST_FIELDS,
          ),
        )) as unknown as [GceInstance[]];
        for (const vm of list) if (vm.name && wanted.has(vm.name)) found.set(`${zone}/${vm.name}`, vm);
      } catch (error) {
        throw mapApiError(error, { action: 'instances.list', zone });
      }
    });
    const listed = new Set(byLabel.map(([zone]) => zone));
    const batches = [...byZone]
      .filter(([zone]) => !listed.has(zone))
      .flatMap(([zone, names]) =>
        Array.from({ length: Math.ceil(names.length / 50) }, (_, i) => ({
          zone,
          names: names.slice(i * 50, i * 50 + 50),
        })),
      );
    await eachLimited(batches, this.api.concurrency, async ({ zone, names }) => {
      if (names.length === 1) {
        const vm = (await this.api.find('instances.get', () =>
          this.api.clients.instances.get({ project: this.api.project, zone, instance: names[0]! }),
        )) as GceInstance | undefined;
        if (vm) found.set(`${zone}/${names[0]}`, vm);
        return;
      }
      const filter = names.map((n) => `(name = "${n}")`).join(' OR ');
      try {
        const [list] = (await this.api.read(() =>
          this.api.clients.instances.list(
            {
              project: this.api.project,
              zone,
              filter,
              maxResults: this.api.settings.listPageSize ?? 500,
            },
            LIST_FIELDS,
          ),
        )) as unknown as [GceInstance[]];
        for (const vm of list) if (vm.name) found.set(`${zone}/${vm.name}`, vm);
      } catch (error) {
        throw mapApiError(error, { action: 'instances.list', zone });
      }
    });
    return found;
  }

  async waitUntilRunning(ids: readonly string[], options: RegionWaitOptions): Promise<Instance[]> {
    const { deadline } = options;
    const poll = this.api.settings.pollIntervalMs ?? 2000;
    const reads = new WaitReads(poll);
    for (;;) {
      throwIfCancelled(options.signal);
      const vms = await reads.read(() => this.readInstances(ids, options.cluster), options.signal);
      if (!vms) continue;
      const current = ids.map((id) => {
        const vm = vms.get(id);
        if (!vm) throw new CloudApiError(`instance ${id} no longer exists (deleted or failed to start)`, { id });
        if (vm.status === 'TERMINATED' || vm.status === 'STOPPING' || vm.status === 'SUSPENDED') {
          throw new CloudApiError(`instance ${id} is ${vm.status} instead of starting; check its serial console`, {
            id,
            status: vm.status,
          });
        }
        return toInstance(vm);
      });
      if (current.every((i) => i?.state === 'running' && i.privateIp)) return current as Instance[];
      if (Date.now() + poll > deadline) {
        const waiting = ids.filter((_, i) => current[i]?.state !== 'running');
        throw new TimeoutError(`Compute Engine instances not running by the deadline: ${waiting.join(', ')}`, {
          ids: waiting,
        });
      }
      await sleep(poll, options.signal);
    }
  }

  /** aggregatedList covers every zone: every region's instances, whatever `regions` says (a superset is safe). */
  async listInstances(cluster: string, options: ListOptions = {}): Promise<Instance[]> {
    const { signal } = options;
    throwIfCancelled(signal);
    let out: Instance[] = [];
    try {
      // A dropped connection mid-way starts the listing over: pages are not resumable across a new iterator.
      out = await this.api.read(async () => {
        const found: Instance[] = [];
        const pages = this.api.clients.instances.aggregatedListAsync(
          {
            project: this.api.project,
            filter: `labels.${TAG_KEYS.cluster} = "${cluster}"`,
            returnPartialSuccess: true,
            maxResults: this.api.settings.listPageSize ?? 500,
          },
          AGGREGATED_LIST_FIELDS,
        );
        for await (const [, scoped] of pages) {
          for (const vm of (scoped.instances ?? []) as GceInstance[]) {
            const instance = toInstance(vm);
            if (instance && instance.tags.cluster === cluster) found.push(instance);
          }
        }
        return found;
      }, signal);
    } catch (error) {
      throw mapApiError(error, { action: 'instances.aggregatedList' });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Ids name their zone, so the region option is not needed. */
  async terminateInstances(ids: readonly string[], options: LocationOptions = {}): Promise<void> {
    const { signal } = options;
    const project = this.api.project;
    await eachLimited(ids, this.api.concurrency, async (id) => {
      const { zone, name } = parseInstanceId(id);
      let op: Operation;
      try {
        // No requestId: a later delete of a new VM with the same name must not be answered with this one's Operation.
        op = operationOf(
          (await this.api.call(() => this.api.clients.instances.delete({ project, zone, instance: name }), signal))[0],
        );
      } catch (error) {
        if (isNotFound(error)) return;
        throw mapApiError(error, { action: 'instances.delete', zone });
      }
      await this.api.wait(op, { action: 'instances.delete', zone }, signal);
    });
  }

  /** Serial port 1 from its first byte the buffer still holds (Compute Engine keeps the last 1 MiB). */
  async readConsole(instance: Pick<Instance, 'id'>, signal?: AbortSignal): Promise<string> {
    throwIfCancelled(signal);
    const { zone, name } = parseInstanceId(instance.id);
    try {
      const [out] = await this.api.read(
        () =>
          this.api.clients.instances.getSerialPortOutput({ project: this.api.project, zone, instance: name, port: 1 }),
        signal,
      );
      return out.contents ?? '';
    } catch (error) {
      if (isNotFound(error)) return '';
      throw mapApiError(error, { action: 'instances.getSerialPortOutput', zone });
    }
  }

  close(): Promise<void> {
    return this.api.close();
  }
}
