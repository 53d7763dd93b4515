import type { InventoryItem, SimContext } from '../core/types.js';
import { zonesOf } from './catalog.js';
import { type Cidr, formatCidr, parseCidr } from './cidr.js';
import { checkId, Ec2Error, notFound } from './errors.js';
import type {
  Ec2Instance,
  ElasticIp,
  Fleet,
  IdempotencyRecord,
  InternetGateway,
  Launch,
  LaunchTemplate,
  RouteTable,
  SecurityGroup,
  Subnet,
  Volume,
  Vpc,
} from './model.js';
import { NO_TAGS, type Tags, tagsRecord } from './tags.js';
import { settleVolumes, volumeState } from './volumes.js';

export type InstanceState = {
  readonly code: number;
  readonly name: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
};

const PUBLIC_BASE = 0xc6120000; // 198.18.0.0
const PENDING: InstanceState = { code: 0, name: 'pending' };
const RUNNING: InstanceState = { code: 16, name: 'running' };
const SHUTTING_DOWN: InstanceState = { code: 32, name: 'shutting-down' };
const TERMINATED: InstanceState = { code: 48, name: 'terminated' };
const STOPPING: InstanceState = { code: 64, name: 'stopping' };
const STOPPED: InstanceState = { code: 80, name: 'stopped' };

export interface Ec2StoreOptions {
  /** How long terminated instances stay visible in DescribeInstances (EC2: about an hour). */
  readonly terminatedRetentionMs: number;
}

/**
 * All EC2 state of the simulator. Instance state is computed from timestamps when read (no timer per VM),
 * which keeps 10,000 virtual VMs cheap and makes a restored snapshot carry on where it stopped.
 */
export class Ec2Store {
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly gateways = new Map<string, InternetGateway>();
  readonly routeTables = new Map<string, RouteTable>();
  readonly templates = new Map<string, LaunchTemplate>();
  readonly fleets = new Map<string, Fleet>();
  /** Elastic IPs by allocation id. */
  readonly addresses = new Map<string, ElasticIp>();
  readonly instances = new Map<string, Ec2Instance>();
  /** EBS volumes by id (made with instances; see volumes.ts). */
  readonly volumes = new Map<string, Volume>();
  /** Instances in creation order (seq ascending), for paging without sorting. */
  order: Ec2Instance[] = [];
  readonly tokens = new Map<string, IdempotencyRecord>();
  private seq = 0;
  private publicCounter = 0;
  private lastPurge = 0;
  private readonly defaultsMade = new Set<string>();

  constructor(
    private readonly context: SimContext,
    private readonly options: Ec2StoreOptions,
  ) {}

  newId(prefix: string): string {
    return `${prefix}-${this.context.random.hex(17)}`;
  }

  /** Public addresses of virtual VMs come from 198.18.0.0/15 (reserved for benchmarks: never a real host). */
  nextPublicIp(): number {
    this.publicCounter = (this.publicCounter + 1) % 131000;
    return PUBLIC_BASE + this.publicCounter;
  }

  now(): number {
    return Date.now();
  }

  stateOf(instance: Ec2Instance, now = this.now()): InstanceState {
    const boot = this.context.settings.bootTimeMs;
    if (instance.endedAt !== undefined) {
      if (now < instance.endedAt) return PENDING;
      // Asynchronous capacity failures go straight to terminated, as EC2 shows them.
      if (instance.reason === 'Server.InsufficientInstanceCapacity') return TERMINATED;
      return now < instance.endedAt + boot ? SHUTTING_DOWN : TERMINATED;
    }
    if (instance.stoppedAt !== undefined)
      return instance.backingStopping || now < instance.stoppedAt + boot ? STOPPING : STOPPED;
    if (instance.backingPending || now < (instance.startedAt ?? instance.createdAt) + boot) return PENDING;
    return RUNNING;
  }

  /** Drops terminated instances older than the retention, lazily, when someone lists. */
  purge(now = this.now()): void {
    // A full scan per Describe call would dominate at 10,000 VMs; expiry to the second is plenty.
    if (now - this.lastPurge < 1000) return;
    this.lastPurge = now;
    const limit = now - this.options.terminatedRetentionMs - this.context.settings.bootTimeMs;
    let removed = false;
    for (const instance of this.order) {
      if (instance.endedAt !== undefined && instance.endedAt < limit) {
        this.instances.delete(instance.id);
        settleVolumes(this, instance);
        removed = true;
      }
    }
    if (removed) this.order = this.order.filter((i) => this.instances.has(i.id));
  }

  addInstance(launch: Launch, index: number, ip: number, createdAt: number): Ec2Instance {
    const instance: Ec2Instance = {
      id: this.newId('i'),
      seq: ++this.seq,
      launch,
      index,
      ip,
      createdAt,
      tags: launch.tags,
    };
    this.instances.set(instance.id, instance);
    this.order.push(instance);
    return instance;
  }

  /** Index in `order` of the first instance with seq > `afterSeq` (binary search). */
  indexAfter(afterSeq: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Every account has a default VPC per region (172.31.0.0/16, one /20 per zone); made on first use. */
  ensureDefaults(region: string): void {
    if (this.defaultsMade.has(region)) return;
    this.defaultsMade.add(region);
    if ([...this.vpcs.values()].some((v) => v.region === region && v.isDefault)) return;
    const vpc = this.createVpc(region, parseCidr('172.31.0.0/16')!, NO_TAGS, true);
    for (const [i, zone] of zonesOf(region).entries()) {
      this.createSubnet(vpc, zone.name, parseCidr(`172.31.${i * 16}.0/20`)!, NO_TAGS, true);
    }
    const igw: InternetGateway = { id: this.newId('igw'), region, vpcId: vpc.id, isDefault: true, tags: NO_TAGS };
    this.gateways.set(igw.id, igw);
    this.mainRouteTable(vpc.id)?.routes.push({ destination: '0.0.0.0/0', gatewayId: igw.id });
  }

  createVpc(region: string, cidr: Cidr, tags: Tags, isDefault = false): Vpc {
    const vpc: Vpc = { id: this.newId('vpc'), region, cidr, isDefault, defaultGroupId: this.newId('sg'), tags };
    this.vpcs.set(vpc.id, vpc);
    this.groups.set(vpc.defaultGroupId, {
      id: vpc.defaultGroupId,
      region,
      vpcId: vpc.id,
      name: 'default',
      description: 'default VPC security group',
      ingress: [{ id: this.newId('sgr'), protocol: '-1', from: -1, to: -1, groupId: vpc.defaultGroupId }],
      egress: [{ id: this.newId('sgr'), protocol: '-1', from: -1, to: -1, cidr: '0.0.0.0/0' }],
      tags: NO_TAGS,
    });
    const rtb: RouteTable = { id: this.newId('rtb'), region, vpcId: vpc.id, main: true, routes: [], tags: NO_TAGS };
    this.routeTables.set(rtb.id, rtb);
    return vpc;
  }

  createSubnet(vpc: Vpc, zone: string, cidr: Cidr, tags: Tags, isDefault = false): Subnet {
    const subnet: Subnet = {
      id: this.newId('subnet'),
      region: vpc.region,
      vpcId: vpc.id,
      zone,
      cidr,
      isDefault,
      mapPublicIp: isDefault,
      used: new Set(),
      next: 4,
      tags,
    };
    this.subnets.set(subnet.id, subnet);
    return subnet;
  }

  mainRouteTable(vpcId: string): RouteTable | undefined {
    for (const rtb of this.routeTables.values()) if (rtb.vpcId === vpcId && rtb.main) return rtb;
    return undefined;
  }

  /** Looks a resource up by id in the caller's region, with EC2's malformed / not-found errors. */
  find<T extends { region: string }>(
    map: Map<string, T>,
    id: string,
    region: string,
    prefix: string,
    kind: string,
    what: string,
  ): T {
    checkId(id, prefix, kind);
    const found = map.get(id);
    if (!found || found.region !== region) throw notFound(kind, what, [id]);
    return found;
  }

  vpc(id: string, region: string): Vpc {
    return this.find(this.vpcs, id, region, 'vpc', 'VpcID', 'vpc ID');
  }

  subnet(id: string, region: string): Subnet {
    return this.find(this.subnets, id, region, 'subnet', 'SubnetID', 'subnet ID');
  }

  group(id: string, region: string): SecurityGroup {
    checkId(id, 'sg', 'GroupId');
    const found = this.groups.get(id);
    if (!found || found.region !== region)
      throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return found;
  }

  defaultSubnet(region: string, zone?: string): Subnet {
    this.ensureDefaults(region);
    for (const s of this.subnets.values())
      if (s.region === region && s.isDefault && (!zone || s.zone === zone)) return s;
    throw new Ec2Error('MissingInput', 'No subnets found for the default VPC. Please specify a subnet.');
  }

  inventory(): InventoryItem[] {
    const items: InventoryItem[] = [];
    const add = (
      type: string,
      r: { id: string; region: string; tags: Tags },
      extra: { zone?: string; state?: string } = {},
    ) => items.push({ cloud: 'aws', type, id: r.id, region: r.region, ...extra, tags: tagsRecord(r.tags) });
    for (const v of this.vpcs.values()) if (!v.isDefault) add('vpc', v);
    for (const s of this.subnets.values()) if (!s.isDefault) add('subnet', s, { zone: s.zone });
    for (const g of this.groups.values()) {
      const vpc = this.vpcs.get(g.vpcId);
      if (g.name !== 'default' && vpc) add('security-group', g);
    }
    for (const g of this.gateways.values()) if (!g.isDefault) add('internet-gateway', g);
    for (const t of this.templates.values()) add('launch-template', t);
    for (const a of this.addresses.values()) add('elastic-ip', a);
    const now = this.now();
    for (const v of this.volumes.values()) {
      const state = volumeState(this, v, now);
      if (state === 'deleted') continue;
      const instance = v.instanceId === undefined ? undefined : this.instances.get(v.instanceId);
      add('volume', v, { zone: v.zone, state });
      if (instance)
        items[items.length - 1] = {
          ...items[items.length - 1]!,
          origin: { type: 'instance', id: instance.id, tags: tagsRecord(instance.tags) },
        };
    }
    for (const i of this.instances.values()) {
      const state = this.stateOf(i, now);
      if (state.name !== 'terminated')
        add(
          'instance',
          { id: i.id, region: i.launch.region, tags: i.tags },
          { zone: i.launch.zone, state: state.name },
        );
    }
    return items;
  }

  snapshot(): unknown {
    const launches = new Map<string, Launch>();
    for (const i of this.order) launches.set(i.launch.reservationId, i.launch);
    const cidr = (c: Cidr) => formatCidr(c);
    return {
      version: 1,
      seq: this.seq,
      vpcs: [...this.vpcs.values()].map((v) => ({ ...v, cidr: cidr(v.cidr) })),
      subnets: [...this.subnets.values()].map((s) => ({ ...s, cidr: cidr(s.cidr), used: [...s.used] })),
      groups: [...this.groups.values()],
      gateways: [...this.gateways.values()],
      routeTables: [...this.routeTables.values()],
      templates: [...this.templates.values()],
      fleets: [...this.fleets.values()],
      addresses: [...this.addresses.values()],
      volumes: [...this.volumes.values()],
      launches: [...launches.values()],
      instances: this.order.map((i) => ({
        ...i,
        launch: i.launch.reservationId,
        tags: i.tags === i.launch.tags ? undefined : i.tags,
      })),
      tokens: [...this.tokens],
    };
  }

  restore(raw: unknown): void {
    const state = raw as SnapshotV1;
    if (state?.version !== 1) return;
    const cidr = (text: string) => parseCidr(text)!;
    this.seq = state.seq;
    for (const v of state.vpcs) this.vpcs.set(v.id, { ...v, cidr: cidr(v.cidr) });
    for (const s of state.subnets) this.subnets.set(s.id, { ...s, cidr: cidr(s.cidr), used: new Set(s.used) });
    for (const g of state.groups) this.groups.set(g.id, g);
    for (const g of state.gateways) this.gateways.set(g.id, g);
    for (const r of state.routeTables) this.routeTables.set(r.id, r);
    for (const t of state.templates) this.templates.set(t.id, t);
    for (const f of state.fleets ?? []) this.fleets.set(f.id, f);
    for (const a of state.addresses ?? []) this.addresses.set(a.id, a);
    for (const v of state.volumes ?? []) this.volumes.set(v.id, v);
    const launches = new Map(state.launches.map((l) => [l.reservationId, l]));
    this.order = state.instances.map((i) => {
      const launch = launches.get(i.launch)!;
      // A local-backing start in flight died with the old process: the instance is not coming up.
      const lost = i.backingPending
        ? { backingPending: false, endedAt: i.endedAt ?? Date.now(), reason: i.reason ?? 'Server.InternalError' }
        : i.backingStopping
          ? { backingStopping: false }
          : {};
      const instance: Ec2Instance = { ...i, ...lost, launch, tags: i.tags ?? launch.tags };
      this.instances.set(instance.id, instance);
      return instance;
    });
    for (const [k, v] of state.tokens) this.tokens.set(k, v);
    for (const v of this.vpcs.values()) if (v.isDefault) this.defaultsMade.add(v.region);
  }
}

type Json<T, K extends keyof T, R> = Omit<T, K> & R;
interface SnapshotV1 {
  version: 1;
  seq: number;
  vpcs: Array<Json<Vpc, 'cidr', { cidr: string }>>;
  subnets: Array<Json<Subnet, 'cidr' | 'used', { cidr: string; used: number[] }>>;
  groups: SecurityGroup[];
  gateways: InternetGateway[];
  routeTables: RouteTable[];
  templates: LaunchTemplate[];
  fleets?: Fleet[];
  addresses?: ElasticIp[];
  volumes?: Volume[];
  launches: Launch[];
  instances: Array<Json<Ec2Instance, 'launch' | 'tags', { launch: string; tags?: Tags }>>;
  tokens: Array<[string, IdempotencyRecord]>;
}
