import type { ArmErrorBody } from './errors.js';

/**
 * In-memory ARM state. Records are kept compact (the benchmark holds 10,000+ VMs): lifecycle is computed lazily
 * from timestamps (no timers), tag objects and repeated strings are interned, addresses are numbers.
 */
export type Tags = Readonly<Record<string, string>>;

export interface Lifecycle {
  /** Bumped on every accepted PUT/DELETE; async operation tokens name the generation they follow. */
  gen: number;
  /** Monotonic ms (context.now) when the current create/update finishes. */
  readyAt: number;
  /** Monotonic ms when a pending delete completes; set while provisioningState is Deleting. */
  deleteAt?: number;
  failed?: ArmErrorBody;
  updating?: boolean;
  /** Wall-clock ms, for timeCreated. */
  readonly createdAt: number;
}

export type ProvisioningState = 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';

export function provisioningState(r: Lifecycle, now: number, pending = false): ProvisioningState {
  if (r.deleteAt !== undefined) return 'Deleting';
  if (now < r.readyAt || pending) return r.updating ? 'Updating' : 'Creating';
  if (r.failed) return 'Failed';
  return 'Succeeded';
}

export interface ResourceGroupRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  readonly vnets: Map<string, VnetRecord>;
  readonly nsgs: Map<string, NsgRecord>;
  readonly nics: Map<string, NicRecord>;
  readonly publicIps: Map<string, PublicIpRecord>;
  readonly vms: Map<string, VmRecord>;
  readonly vmss: Map<string, VmssRecord>;
  readonly disks: Map<string, DiskRecord>;
  /** VMs in insertion order for paging; rebuilt after any change. */
  vmList?: VmRecord[];
}

export interface SubnetRecord extends Lifecycle {
  readonly name: string;
  addressPrefix: string;
  base: number;
  size: number;
  nsgId?: string;
  /** Addresses taken by NICs. */
  readonly used: Set<number>;
}

export interface VnetRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  addressPrefixes: string[];
  readonly subnets: Map<string, SubnetRecord>;
  readonly guid: string;
}

export interface SecurityRule {
  readonly name: string;
  readonly properties: Record<string, unknown>;
}

export interface NsgRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  rules: Map<string, SecurityRule & Lifecycle>;
  readonly guid: string;
}

export interface NicRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  /** Subnet resource id (interned: every NIC of a subnet shares the string). */
  subnetId: string;
  ip: number;
  ipConfigName: string;
  allocation: 'Static' | 'Dynamic';
  nsgId?: string;
  /** Resource id of the VM using this NIC. */
  vmId?: string;
  publicIpId?: string;
  /** A public IP the NIC was made with inline (a VM's networkInterfaceConfigurations): deleted with the NIC. */
  publicIpDelete?: boolean;
  readonly seq: number;
}

export interface PublicIpRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  readonly sku: 'Basic' | 'Standard';
  allocation: 'Static' | 'Dynamic';
  zones?: string[];
  /** With the `local` backing, the backing VM's address once it runs (the host reaches it there). */
  address: number;
  /** Id of the NIC IP configuration using the address. */
  ipConfigurationId?: string;
  /** A Dynamic address released by a deallocate: gone until its VM starts again (with a new one). */
  released?: boolean;
  readonly seq: number;
}

export interface VmRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  size: string;
  zone?: string;
  /** NIC resource ids in the VM's casing; deleteOption per NIC. */
  nics: readonly string[];
  nicDelete: boolean;
  computerName: string;
  adminUsername: string;
  /** sha1 of the decoded customData, to detect an illegal change without keeping the bytes. */
  customDataHash?: string;
  sshKeys?: readonly { path: string; keyData: string }[];
  image: string;
  osDiskDelete: boolean;
  vmssId?: string;
  readonly seq: number;
  /** Only with the `local` backing: the backing VM is still starting (or powering off or on). */
  backingPending?: boolean;
  /** Set by powerOff (`stopped`: still allocated) or deallocate; absent while the VM runs. */
  power?: 'stopped' | 'deallocated';
  /** Serialized JSON of a settled VM (see compute.ts `vmText`), valid for generation `jsonGen` in scope `jsonScope`. */
  json?: string;
  jsonGen?: number;
  jsonScope?: string;
}

/** A managed disk (so far: the OS disk a VM is created with). */
export interface DiskRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  readonly zone?: string;
  readonly sizeGB: number;
  readonly sku: string;
  /** Resource id of the VM it is attached to. */
  managedBy?: string;
  /** Tags of the VM it was created with (the sim's own record, for finding orphans; Azure does not copy them). */
  readonly vmTags?: Tags;
  readonly seq: number;
}

export interface VmssRecord extends Lifecycle {
  readonly name: string;
  readonly location: string;
  tags: Tags;
  faultDomains: number;
  zones?: string[];
  sku?: { name?: string; tier?: string; capacity?: number };
  singlePlacementGroup?: boolean;
  /** virtualMachineProfile as sent (members are built from it when sku.capacity changes). */
  profile?: Record<string, unknown>;
  readonly seq: number;
}

export class Interner {
  private readonly tags = new Map<string, Tags>();
  private readonly strings = new Map<string, string>();

  tagsOf(value: unknown): Tags {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return EMPTY_TAGS;
    const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v ?? '')] as const);
    if (entries.length === 0) return EMPTY_TAGS;
    const key = JSON.stringify(entries);
    let tags = this.tags.get(key);
    if (!tags) {
      tags = Object.freeze(Object.fromEntries(entries));
      this.tags.set(key, tags);
    }
    return tags;
  }

  string(value: string): string {
    let s = this.strings.get(value);
    if (s === undefined) {
      s = value;
      this.strings.set(value, s);
    }
    return s;
  }
}

export const EMPTY_TAGS: Tags = Object.freeze({});

/** A deterministic v4-shaped UUID from the seed and a sequence number (so vmIds need no storage). */
export function derivedUuid(seed: number, seq: number, salt = 0): string {
  let out = '';
  let state = (seed ^ Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < 4; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out += ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  }
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-4${out.slice(13, 16)}-a${out.slice(17, 20)}-${out.slice(20, 32)}`;
}

export class ArmStore {
  /** subscription (lower) → resource group (lower) → record. */
  readonly subscriptions = new Map<string, Map<string, ResourceGroupRecord>>();
  readonly intern = new Interner();
  private gen = 0;
  private seq = 0;
  private publicAddresses = 0;
  /** Bumped whenever a VM is added or removed anywhere, to invalidate subscription-wide list caches. */
  vmVersion = 0;
  private allVms?: { version: number; sub: string; list: Array<readonly [ResourceGroupRecord, VmRecord]> };

  nextGen(): number {
    return ++this.gen;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /**
   * Public addresses come from 20.64.0.0/10 (a Microsoft range), in order, never reused; on the realistic network
   * from 198.19.0.0/17 of the sim's internet instead (routed to the VM; never a real host).
   */
  nextPublicAddress(internet = false): number {
    return (internet ? 0xc6130000 : 0x14400000) + ++this.publicAddresses;
  }

  groups(sub: string): Map<string, ResourceGroupRecord> {
    const key = sub.toLowerCase();
    let map = this.subscriptions.get(key);
    if (!map) {
      map = new Map();
      this.subscriptions.set(key, map);
    }
    return map;
  }

  group(sub: string, rg: string): ResourceGroupRecord | undefined {
    return this.subscriptions.get(sub.toLowerCase())?.get(rg.toLowerCase());
  }

  vmsChanged(rg: ResourceGroupRecord): void {
    rg.vmList = undefined;
    this.vmVersion++;
  }

  listVms(rg: ResourceGroupRecord): VmRecord[] {
    rg.vmList ??= [...rg.vms.values()];
    return rg.vmList;
  }

  /** Every VM of the subscription with its group, cached until a VM is added or removed. */
  listAllVms(sub: string): Array<readonly [ResourceGroupRecord, VmRecord]> {
    const key = sub.toLowerCase();
    if (this.allVms && this.allVms.version === this.vmVersion && this.allVms.sub === key) return this.allVms.list;
    const list: Array<readonly [ResourceGroupRecord, VmRecord]> = [];
    for (const rg of this.groups(sub).values()) for (const vm of rg.vms.values()) list.push([rg, vm]);
    this.allVms = { version: this.vmVersion, sub: key, list };
    return list;
  }

  /** For persistence: the highest counters, so restored state never reuses a generation or sequence. */
  counters(): { gen: number; seq: number; publicAddresses: number } {
    return { gen: this.gen, seq: this.seq, publicAddresses: this.publicAddresses };
  }

  setCounters(c: { gen: number; seq: number; publicAddresses?: number }): void {
    this.gen = Math.max(this.gen, c.gen);
    this.seq = Math.max(this.seq, c.seq);
    this.publicAddresses = Math.max(this.publicAddresses, c.publicAddresses ?? 0);
  }
}

export function newResourceGroup(
  name: string,
  location: string,
  tags: Tags,
  gen: number,
  now: number,
): ResourceGroupRecord {
  return {
    name,
    location,
    tags,
    gen,
    readyAt: now,
    createdAt: Date.now(),
    vnets: new Map(),
    nsgs: new Map(),
    nics: new Map(),
    publicIps: new Map(),
    vms: new Map(),
    vmss: new Map(),
    disks: new Map(),
  };
}
