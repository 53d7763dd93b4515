import { createHash } from 'node:crypto';
import type { _InstanceType, Instance as Ec2Instance, Filter, Reservation } from '@aws-sdk/client-ec2';
import { CapacityError, CloudApiError, PrerequisiteError, SkypoolError, TimeoutError } from '../../src/errors.js';
import {
  type Instance,
  type InstanceState,
  type LaunchRequest,
  type ListOptions,
  type LocationOptions,
  type NetworkRef,
  type NodeLaunch,
  type OwnershipTags,
  type Provider,
  type ProviderSettings,
  type RegionWaitOptions,
  TAG_KEYS,
  tagsFromRecord,
  tagsToRecord,
} from '../../src/providers/types.js';
import { operatorAddress } from '../../src/util/operator-address.js';
import { sleep, WaitReads } from '../../src/util/poll.js';
import { Ec2Calls } from './calls.js';
import { DEFAULT_INSTANCE_TYPE, findUbuntuImage, listInstanceTypes, pickInstanceType } from './catalog.js';
import {
  type ClusterNetwork,
  deleteClusterNetwork,
  ensureClusterNetwork,
  fabricFirewallProblem,
  inCidr,
  type NetworkSettings,
} from './network.js';
import { awsDefaultRegion, missingRegionError } from './preflight.js';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from './sdk.js';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsProviderSettings extends ProviderSettings {
  /** EC2 endpoint, e.g. a cloudsim's `httpUrl`; default: the SDK's (AWS_ENDPOINT_URL_EC2 or the region's). */
  readonly endpoint?: string;
  /** Default: the SDK's credential chain (env, profile, SSO, instance role). */
  readonly credentials?: AwsCredentials;
  /** Who may reach the Docker engine API on 2376/tcp (mTLS); `engineApiSources` wins. Default: the operator's address. */
  readonly engineApiCidr?: string;
  /** Poll interval of waitUntilRunning and deleteNetwork; default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** How long deleteNetwork waits for instances to be gone; default 10 minutes. */
  readonly deleteTimeoutMs?: number;
  /** SDK attempts per call (its standard retry mode); default 3. */
  readonly maxAttempts?: number;
  /** Instances per DescribeInstances page (5-1000); default 1000. */
  readonly listPageSize?: number;
  /** AMI to launch instead of the newest Canonical Ubuntu 24.04 amd64 image. */
  readonly imageId?: string;
}

const STATES: Readonly<Record<string, InstanceState>> = {
  pending: 'pending',
  running: 'running',
  'shutting-down': 'stopping',
  stopping: 'stopped',
  stopped: 'stopped',
  terminated: 'terminated',
};

/** ClientToken for one RunInstances call: ≤ 64 ASCII chars, the same for a retried request. */
export const clientTokenFor = (token: string, part: string): string =>
  createHash('sha256').update(`${token}\n${part}`).digest('hex');

/**
 * The node name of an instance launched without a Name tag: `<cluster>-<pool>-<id without "i-">`, the name the node
 * gives itself at boot from its hostname (the instance id, HostnameType=resource-name).
 */
export const nameOf = (tags: OwnershipTags, instanceId: string): string =>
  `${tags.cluster}-${tags.pool}-${instanceId.replace(/^i-/, '')}`;

const instancesOf = (reservations: readonly Reservation[] | undefined): Ec2Instance[] =>
  (reservations ?? []).flatMap((r) => r.Instances ?? []);

/**
 * skypool on EC2 through @aws-sdk/client-ec2. The cloud is the only state: instances and network are found
 * by the `skypool-*` tags; caches (clients, AMI, instance types, network ids) only save lookups.
 */
export class AwsProvider implements Provider {
  readonly name = 'aws' as const;
  private readonly clients = new Map<string, EC2Client>();
  private readonly images = new Map<string, Promise<string>>();
  private readonly typeLists = new Map<string, Promise<Awaited<ReturnType<typeof listInstanceTypes>>>>();
  /** VPC id → network pieces, with the cluster they belong to. */
  private readonly networks = new Map<string, { cluster: string; region: string; net: ClusterNetwork }>();
  /** Region of every instance id this process launched or listed: terminate and wait find it without being told. */
  private readonly regionOfId = new Map<string, string>();
  private readonly ensuring = new Map<string, Promise<ClusterNetwork>>();
  private readonly network: Omit<NetworkSettings, 'engineApiCidrs'>;
  private sources?: Promise<readonly string[]>;

  constructor(private readonly settings: AwsProviderSettings = {}) {
    this.network = {
      pollIntervalMs: settings.pollIntervalMs ?? 2000,
      deleteTimeoutMs: settings.deleteTimeoutMs ?? 600_000,
    };
  }

  private get defaultRegion(): string | undefined {
    return awsDefaultRegion(this.settings);
  }

  private regionOf(region?: string): string {
    const r = region ?? this.defaultRegion;
    if (!r) throw missingRegionError();
    return r;
  }

  private ec2(region?: string, signal?: AbortSignal): Ec2Calls {
    const r = this.regionOf(region);
    let client = this.clients.get(r);
    if (!client) {
      client = new EC2Client({
        region: r,
        ...(this.settings.endpoint ? { endpoint: this.settings.endpoint } : {}),
        ...(this.settings.credentials ? { credentials: this.settings.credentials } : {}),
        maxAttempts: this.settings.maxAttempts ?? 3,
        // The SDK's own client-side rate limiter: after a throttling answer it slows this client to the rate EC2
        // grants instead of retrying at full speed (a network phase makes a dozen calls per attempt).
        retryMode: 'adaptive',
      });
      this.clients.set(r, client);
    }
    return new Ec2Calls(client, r, signal);
  }

  async checkPrerequisites(): Promise<void> {
    // Without a default region the credentials are checked in us-east-1; each verb then names the pool's region.
    const ec2 = this.ec2(this.defaultRegion ?? 'us-east-1');
    try {
      await ec2.client.config.credentials();
    } catch (cause) {
      throw new PrerequisiteError(
        'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass credentials to the aws provider',
        { env: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE'], cause: (cause as Error).message },
      );
    }
    try {
      await ec2.call('DescribeAvailabilityZones', new DescribeAvailabilityZonesCommand({}));
    } catch (error) {
      const code = SkypoolError.isInstance(error) ? error.details.code : undefined;
      if (
        code === 'AuthFailure' ||
        code === 'UnauthorizedOperation' ||
        code === 'MissingAuthenticationToken' ||
        code === 'InvalidClientTokenId'
      ) {
        throw new PrerequisiteError(
          `AWS refused the credentials in ${ec2.region} (${String(code)}): check AWS_ACCESS_KEY_ID/AWS_PROFILE and the IAM permissions for EC2`,
          { region: ec2.region, code },
        );
      }
      if (!SkypoolError.isInstance(error) || !code) {
        throw new PrerequisiteError(
          `cannot reach EC2 in ${ec2.region}${this.settings.endpoint ? ` at ${this.settings.endpoint}` : ''}: ${(error as Error).message}; check the endpoint option / AWS_ENDPOINT_URL_EC2 and the network`,
          { region: ec2.region },
        );
      }
      throw error;
    }
  }

  async ensureNetwork(cluster: string, options: LocationOptions = {}): Promise<NetworkRef> {
    const ec2 = this.ec2(options.region, options.signal);
    return { ...(await this.ensureOnce(cluster, ec2)).ref, region: ec2.region };
  }

  engineApiSources(signal?: AbortSignal): Promise<readonly string[]> {
    const given = this.settings.engineApiSources ?? (this.settings.engineApiCidr ? [this.settings.engineApiCidr] : []);
    const endpoint = this.settings.endpoint ?? process.env.AWS_ENDPOINT_URL_EC2 ?? process.env.AWS_ENDPOINT_URL;
    this.sources ??= operatorAddress({
      endpoints: [endpoint],
      override: given,
      ...(this.settings.operatorAddressUrl ? { lookupUrl: this.settings.operatorAddressUrl } : {}),
      ...(signal ? { signal } : {}),
    });
    this.sources.catch(() => {
      this.sources = undefined; // a failed lookup is retried next time
    });
    return this.sources;
  }

  /** CreateVpc has no ClientToken: concurrent callers in this process share one ensure instead of racing to two VPCs. */
  private ensureOnce(cluster: string, ec2: Ec2Calls): Promise<ClusterNetwork> {
    const key = `${ec2.region}/${cluster}`;
    let pending = this.ensuring.get(key);
    if (!pending) {
      pending = this.engineApiSources()
        .then((engineApiCidrs) => ensureClusterNetwork(ec2, cluster, { ...this.network, engineApiCidrs }))
        .then((net) => {
          this.networks.set(net.vpcId, { cluster, region: ec2.region, net });
          return net;
        })
        .finally(() => this.ensuring.delete(key));
      this.ensuring.set(key, pending);
    }
    return pending;
  }

  fabricFirewallProblem(cluster: string, options: LocationOptions = {}): Promise<string | undefined> {
    return fabricFirewallProblem(this.ec2(options.region, options.signal), cluster);
  }

  async deleteNetwork(cluster: string, options: LocationOptions = {}): Promise<void> {
    const ec2 = this.ec2(options.region, options.signal);
    await deleteClusterNetwork(ec2, cluster, this.network, options.signal);
    for (const [id, entry] of this.networks)
      if (entry.cluster === cluster && entry.region === ec2.region) this.networks.delete(id);
  }

  /** The network behind a NetworkRef, found by tags when this process did not create it. */
  private async clusterNetwork(ec2: Ec2Calls, cluster: string, ref: NetworkRef): Promise<ClusterNetwork> {
    const known = this.networks.get(ref.id);
    if (known?.cluster === cluster) return known.net;
    const net = await this.ensureOnce(cluster, ec2);
    if (net.vpcId !== ref.id)
      throw new CloudApiError(
        `network ${ref.id} is not the network of cluster ${cluster} (${net.vpcId}) in ${ec2.region}: run ensureNetwork again`,
        { cluster, network: ref.id },
      );
    return net;
  }

  private async instanceTypeFor(ec2: Ec2Calls, request: LaunchRequest): Promise<string> {
    if (request.pool.instanceType) return request.pool.instanceType;
    if (!request.pool.size) return DEFAULT_INSTANCE_TYPE;
    let types = this.typeLists.get(ec2.region);
    if (!types) {
      types = listInstanceTypes(ec2);
      this.typeLists.set(ec2.region, types);
      types.catch(() => this.typeLists.delete(ec2.region));
    }
    return pickInstanceType(await types, request.pool.size, ec2.region);
  }

  private imageFor(ec2: Ec2Calls): Promise<string> {
    if (this.settings.imageId) return Promise.resolve(this.settings.imageId);
    let image = this.images.get(ec2.region);
    if (!image) {
      image = findUbuntuImage(ec2);
      this.images.set(ec2.region, image);
      image.catch(() => this.images.delete(ec2.region));
    }
    return image;
  }

  /**
   * Nodes without a fixed address go out in ONE RunInstances (MinCount = MaxCount = n: all or nothing) with no Name
   * tag: EC2 names them itself (HostnameType=resource-name makes the guest hostname the instance id) and
   * Instance.name is derived from the ownership tags and the id (see nameOf), so no per-instance CreateTags follows.
   * A node with a fixed address needs its own call (EC2 allows an address only for a single instance) and keeps
   * its planned name in a Name tag.
   */
  async runInstances(request: LaunchRequest): Promise<Instance[]> {
    const ec2 = this.ec2(request.pool.region ?? request.network.region, request.signal);
    const net = await this.clusterNetwork(ec2, request.cluster, request.network);
    const [instanceType, imageId] = await Promise.all([this.instanceTypeFor(ec2, request), this.imageFor(ec2)]);
    const zone = request.zone ?? request.pool.zones?.[0];
    const subnetFor = (node?: NodeLaunch) => {
      const subnets = [...net.subnets.values()];
      const subnet = node?.privateIp
        ? subnets.find((s) => inCidr(node.privateIp!, s.cidr))
        : zone
          ? net.subnets.get(zone)
          : subnets.sort((a, b) => a.cidr.localeCompare(b.cidr))[0];
      if (!subnet) {
        throw new CloudApiError(
          node?.privateIp
            ? `address ${node.privateIp} of ${node.name} is in no subnet of the cluster network ${net.ref.cidr}: pick one inside it`
            : `the cluster network has no subnet in zone ${zone}: use one of ${[...net.subnets.keys()].join(', ')}`,
          { zone, network: net.vpcId },
        );
      }
      return subnet;
    };
    const ownership = tagsToRecord(request.tags);
    const launch = async (nodes: readonly NodeLaunch[], fixed: NodeLaunch | undefined, part: string) => {
      const subnet = subnetFor(fixed);
      const tags = Object.entries({ ...ownership, ...(fixed ? { Name: fixed.name } : {}) }).map(([Key, Value]) => ({
        Key,
        Value,
      }));
      const out = await ec2.call(
        'RunInstances',
        new RunInstancesCommand({
          ImageId: imageId,
          InstanceType: instanceType as _InstanceType,
          MinCount: nodes.length,
          MaxCount: nodes.length,
          SubnetId: subnet.id,
          SecurityGroupIds: [net.securityGroupId],
          PrivateIpAddress: fixed?.privateIp,
          UserData: Buffer.from(request.userData, 'utf8').toString('base64'),
          // The guest's hostname is its instance id (the node name derives from it, see nameOf).
          PrivateDnsNameOptions: { HostnameType: 'resource-name' },
          // IMDSv2 only, hop limit 1: containers on the node (one hop further) cannot reach the metadata service.
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tags },
            { ResourceType: 'volume', Tags: tags.filter((t) => t.Key !== 'Name') },
          ],
          ClientToken: clientTokenFor(request.idempotencyToken, part),
        }),
        { zone: subnet.zone, instanceType },
      );
      return (out.Instances ?? []).sort((a, b) => (a.AmiLaunchIndex ?? 0) - (b.AmiLaunchIndex ?? 0));
    };
    const batch = request.nodes.filter((n) => !n.privateIp);
    const single = request.nodes.filter((n) => n.privateIp);
    const launched = await Promise.all([
      ...(batch.length ? [launch(batch, undefined, zone ? `batch/${zone}` : 'batch')] : []),
      ...single.map((node) => launch([node], node, `node/${node.name}`)),
    ]);
    return launched
      .flat()
      .map((i) => this.toInstance(i, ec2.region))
      .filter((i): i is Instance => i !== undefined);
  }

  private toInstance(i: Ec2Instance, region: string): Instance | undefined {
    const record = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    const tags = tagsFromRecord(record);
    if (!tags || !i.InstanceId) return undefined;
    this.regionOfId.set(i.InstanceId, region);
    return {
      id: i.InstanceId,
      name: record.Name || nameOf(tags, i.InstanceId),
      provider: 'aws',
      region,
      zone: i.Placement?.AvailabilityZone,
      instanceType: i.InstanceType,
      state: STATES[i.State?.Name ?? ''] ?? 'pending',
      privateIp: i.PrivateIpAddress,
      publicIp: i.PublicIpAddress,
      tags,
      launchedAt: i.LaunchTime?.toISOString(),
    };
  }

  /** DescribeInstances by id, in chunks of the 200 values EC2 takes per filter. */
  private async describeIds(ec2: Ec2Calls, ids: readonly string[], extra: Filter[] = []): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    for (let k = 0; k < ids.length; k += 200)
      out.push(...(await this.describe(ec2, [{ Name: 'instance-id', Values: ids.slice(k, k + 200) }, ...extra])));
    return out;
  }

  /** DescribeInstances with filters, following NextToken. */
  private async describe(ec2: Ec2Calls, filters: Filter[]): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const page = await ec2.call(
        'DescribeInstances',
        new DescribeInstancesCommand({
          Filters: filters,
          MaxResults: this.settings.listPageSize ?? 1000,
          NextToken: token,
        }),
      );
      out.push(...instancesOf(page.Reservations));
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** The region of ids: the one asked for, else where this process saw them, else the default. One region per call. */
  private regionOfIds(ids: readonly string[], region?: string): string | undefined {
    if (region) return region;
    const seen = new Set(ids.map((id) => this.regionOfId.get(id)).filter((r): r is string => r !== undefined));
    if (seen.size > 1)
      throw new CloudApiError(
        `instances ${ids.join(', ')} are in several regions (${[...seen].join(', ')}): one region per call`,
        {
          regions: [...seen],
        },
      );
    return [...seen][0];
  }

  /** EC2 places capacity after RunInstances answers: a pending instance may end terminated for want of it. */
  awaitPlacement(ids: readonly string[], options: RegionWaitOptions): Promise<Instance[]> {
    return this.waitUntilRunning(ids, options);
  }

  async waitUntilRunning(ids: readonly string[], options: RegionWaitOptions): Promise<Instance[]> {
    const ec2 = this.ec2(this.regionOfIds(ids, options.region), options.signal);
    const { deadline, cluster } = options;
    const wanted = new Set(ids);
    const reads = new WaitReads(this.network.pollIntervalMs);
    // One listing per poll: by id up to the 200 values one filter takes, else by the cluster's tag (1,000 a page).
    const read =
      cluster && ids.length > 200
        ? async () =>
            (await this.describe(ec2, [{ Name: `tag:${TAG_KEYS.cluster}`, Values: [cluster] }])).filter(
              (i) => i.InstanceId && wanted.has(i.InstanceId),
            )
        : () => this.describeIds(ec2, ids);
    let last: Ec2Instance[] = [];
    for (;;) {
      // A filter, not InstanceIds: freshly launched ids may not be visible yet (eventual consistency) and must not fail the wait.
      const page = await reads.read(read, options.signal);
      if (!page) continue;
      last = page;
      const failed = last.find((i) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down');
      if (failed) {
        const reason = failed.StateReason?.Code ?? '';
        const details = {
          id: failed.InstanceId,
          zone: failed.Placement?.AvailabilityZone,
          instanceType: failed.InstanceType,
          reason,
        };
        if (reason.includes('InsufficientInstanceCapacity')) {
          throw new CapacityError(
            `EC2 ran out of ${failed.InstanceType} capacity in ${failed.Placement?.AvailabilityZone} while ${failed.InstanceId} was starting: try another zone or type`,
            details,
          );
        }
        throw new CloudApiError(
          `instance ${failed.InstanceId} stopped while starting (${reason || failed.State?.Name}): ${failed.StateReason?.Message ?? 'see the EC2 console'}`,
          details,
        );
      }
      const ready = last.filter((i) => i.State?.Name === 'running' && i.PrivateIpAddress);
      if (ready.length >= wanted.size)
        return ready.map((i) => this.toInstance(i, ec2.region)).filter((i): i is Instance => i !== undefined);
      if (Date.now() > deadline) {
        const up = new Set(ready.map((i) => i.InstanceId));
        const waiting = ids.filter((id) => !up.has(id));
        throw new TimeoutError(`EC2 instances not running by the deadline: ${waiting.join(', ')}`, {
          ids: waiting,
        });
      }
      await sleep(this.network.pollIntervalMs, options.signal);
    }
  }

  /** DescribeInstances by tag in each region asked for and the provider's own (pools without a region use it). */
  async listInstances(cluster: string, options: ListOptions = {}): Promise<Instance[]> {
    const given = options.regions ?? [];
    const own = this.defaultRegion;
    const regions = [...new Set([...given, ...(own ? [own] : given.length ? [] : [this.regionOf()])])];
    const perRegion = await Promise.all(
      regions.map(async (region) => {
        const ec2 = this.ec2(region, options.signal);
        const found = await this.describe(ec2, [
          { Name: `tag:${TAG_KEYS.cluster}`, Values: [cluster] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ]);
        return found.map((i) => this.toInstance(i, ec2.region)).filter((i): i is Instance => i !== undefined);
      }),
    );
    return perRegion.flat();
  }

  async terminateInstances(ids: readonly string[], options: LocationOptions = {}): Promise<void> {
    if (!ids.length) return;
    if (!options.region) {
      // Ids this process saw in several regions: one call per region.
      const byRegion = new Map<string | undefined, string[]>();
      for (const id of ids)
        byRegion.set(this.regionOfId.get(id), [...(byRegion.get(this.regionOfId.get(id)) ?? []), id]);
      if (byRegion.size > 1) {
        for (const [region, some] of byRegion)
          await this.terminateInstances(some, { ...options, ...(region ? { region } : {}) });
        return;
      }
    }
    const signal = options.signal;
    const ec2 = this.ec2(this.regionOfIds(ids, options.region), signal);
    // Only ids that still exist and are not already going: TerminateInstances fails whole on one unknown id.
    const live = await this.describeIds(ec2, ids, [
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    const targets = live.map((i) => i.InstanceId!).filter(Boolean);
    for (let k = 0; k < targets.length; k += 1000) {
      await ec2.call('TerminateInstances', new TerminateInstancesCommand({ InstanceIds: targets.slice(k, k + 1000) }));
    }
  }

  /** GetConsoleOutput with Latest (the live console, its last 64 KB); empty until EC2 has any. */
  async readConsole(instance: Pick<Instance, 'id' | 'region'>, signal?: AbortSignal): Promise<string> {
    const ec2 = this.ec2(instance.region, signal);
    const out = await ec2.call(
      'GetConsoleOutput',
      new GetConsoleOutputCommand({ InstanceId: instance.id, Latest: true }),
    );
    return out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '';
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}
