import type { OperationFailure } from './errors.js';
import type { MetadataItem } from './validate.js';

/**
 * In-memory state of the simulated Compute Engine. Times are `SimContext.now()` milliseconds; lifecycle
 * states (PROVISIONING → STAGING → RUNNING, operation PENDING → DONE) are derived from them when read, so
 * nothing here owns a timer and a VM costs a few hundred bytes.
 */
export interface NetworkRec {
  readonly project: string;
  readonly name: string;
  readonly id: string;
  readonly createdAt: number;
  readonly readyAt: number;
  readonly description: string;
  readonly autoCreateSubnetworks: boolean;
  readonly mtu: number;
  readonly routingMode: string;
  /** The `default` network a new project comes with (and its subnetworks and firewall rules, below). */
  readonly builtIn?: boolean;
}

export interface SubnetRec {
  readonly project: string;
  readonly region: string;
  readonly name: string;
  readonly id: string;
  readonly createdAt: number;
  readonly readyAt: number;
  readonly description: string;
  readonly network: string;
  readonly cidr: string;
  readonly base: number;
  readonly size: number;
  /** Addresses in use (uint32), including the ones the subnet reserves. */
  readonly used: Set<number>;
  /** Where the next automatic allocation starts looking. */
  next: number;
  readonly privateIpGoogleAccess: boolean;
  readonly builtIn?: boolean;
}

export interface FirewallRec {
  readonly project: string;
  readonly name: string;
  readonly id: string;
  readonly createdAt: number;
  readonly readyAt: number;
  readonly network: string;
  /** The normalized resource body (without output-only fields). */
  readonly body: Record<string, unknown>;
  readonly builtIn?: boolean;
}

export interface TemplateRec {
  readonly project: string;
  readonly name: string;
  readonly id: string;
  readonly createdAt: number;
  readonly description: string;
  /** InstanceProperties as sent. */
  readonly properties: Record<string, unknown>;
}

/** Properties shared by every VM of one insert / bulkInsert call (stored once, referenced by each VM). */
export interface VmProps {
  readonly project: string;
  readonly zone: string;
  readonly machineType: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly metadata: readonly MetadataItem[];
  readonly tags: readonly string[];
  readonly network: string;
  readonly subnetRegion: string;
  readonly subnet: string;
  readonly externalIp: boolean;
  readonly sourceImage: string;
  readonly diskSizeGb: string;
  readonly description: string;
  readonly canIpForward: boolean;
  /** The boot disk's `autoDelete` (the API's default is false; undefined in state saved before disks = true). */
  readonly bootAutoDelete?: boolean;
  /** The boot disk's `initializeParams.labels`. */
  readonly diskLabels?: Readonly<Record<string, string>>;
}

/** A persistent disk left behind by a deleted instance (boot disks of live instances are derived from them). */
export interface DiskRec {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
  readonly sizeGb: string;
  readonly sourceImage: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt: number;
  /** Labels of the instance it was created with (the sim's record, to find orphans; GCE does not copy them). */
  readonly instanceLabels?: Readonly<Record<string, string>>;
}

export interface VmRec {
  readonly name: string;
  readonly id: string;
  readonly zone: string;
  readonly props: VmProps;
  readonly seq: number;
  readonly createdAt: number;
  /** uint32 private address. */
  ip: number;
  natIp?: number;
  deletedAt?: number;
  goneAt?: number;
  /** `local` backing: set once the backing VM started; `failed` when it could not. */
  backingIp?: string;
  failed?: boolean;
  /** Set by instances.stop: STOPPING, then TERMINATED (stopped) once the local VM is off; the ephemeral natIp is gone. */
  stoppedAt?: number;
  /** Set by instances.start: STAGING again until the boot time has passed and the local VM is up. */
  startedAt?: number;
  /** `local` backing: a stop or start of the VM in flight. */
  backingBusy?: boolean;
  /** `local` backing: the teardown of a deleted VM; its address is free again only once that ended. */
  teardown?: Promise<void>;
}

/** VMs of one project and zone: by name for get, by creation order for stable pagination. */
export class ZoneVms {
  readonly byName = new Map<string, VmRec>();
  order: VmRec[] = [];
  private dead = 0;

  add(vm: VmRec): void {
    this.byName.set(vm.name, vm);
    this.order.push(vm);
  }

  remove(vm: VmRec): void {
    if (this.byName.get(vm.name) !== vm) return;
    this.byName.delete(vm.name);
    this.dead++;
    if (this.dead > 64 && this.dead * 4 > this.order.length) {
      this.order = this.order.filter((v) => this.byName.get(v.name) === v);
      this.dead = 0;
    }
  }

  /** Index of the first VM with `seq` greater than `after` (binary search; `order` is sorted by seq). */
  startAfter(after: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid]!.seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  isLive(vm: VmRec): boolean {
    return this.byName.get(vm.name) === vm;
  }
}

export type OpScope = 'zones' | 'regions' | 'global';

export interface OpRec {
  readonly project: string;
  readonly scope: OpScope;
  /** Zone or region name; empty for global. */
  readonly location: string;
  readonly name: string;
  readonly id: string;
  readonly operationType: string;
  readonly targetLink: string;
  readonly targetId: string;
  readonly createdAt: number;
  readonly doneAt: number;
  readonly failure?: OperationFailure;
  readonly requestId?: string;
  /** What the request asked for, to tell a retry from a different request reusing the requestId. */
  readonly fingerprint?: string;
  readonly bulk?: { readonly target: number; readonly created: number; readonly failed: number };
}

export const opKey = (project: string, scope: OpScope, location: string, name: string) =>
  scope === 'global' ? `${project}/global/${name}` : `${project}/${scope}/${location}/${name}`;

export class GceState {
  readonly networks = new Map<string, NetworkRec>();
  readonly subnets = new Map<string, SubnetRec>();
  readonly firewalls = new Map<string, FirewallRec>();
  readonly templates = new Map<string, TemplateRec>();
  /** `${project}/${zone}/${name}` → a disk no instance uses any more. */
  readonly disks = new Map<string, DiskRec>();
  readonly zones = new Map<string, ZoneVms>();
  readonly operations = new Map<string, OpRec>();
  /** `${project}/${requestId}` → operation key. */
  readonly requestIds = new Map<string, string>();
  /** Projects that have been given their `default` network (once: a deleted one does not come back). */
  readonly defaultsMade = new Set<string>();
  seq = 0;
  natNext = 0;

  zoneVms(project: string, zone: string): ZoneVms {
    const key = `${project}/${zone}`;
    let z = this.zones.get(key);
    if (!z) {
      z = new ZoneVms();
      this.zones.set(key, z);
    }
    return z;
  }

  /** Keeps the operation log bounded: finished operations older than the newest `max` are forgotten. */
  addOperation(op: OpRec, max = 20_000): void {
    const key = opKey(op.project, op.scope, op.location, op.name);
    this.operations.set(key, op);
    if (op.requestId) this.requestIds.set(`${op.project}/${op.requestId}`, key);
    if (this.operations.size > max) {
      const oldest = this.operations.keys().next().value as string;
      const old = this.operations.get(oldest)!;
      this.operations.delete(oldest);
      if (old.requestId) this.requestIds.delete(`${old.project}/${old.requestId}`);
    }
  }
}
