import type { IncomingHttpHeaders } from 'node:http';
import type { SimAuth } from './credentials.js';
import type { SeededRandom } from './random.js';
import type { BucketSet } from './token-bucket.js';

/** The clouds cloudsim simulates. */
export type SimCloud = 'aws' | 'gcp' | 'azure';

export interface SimRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** `http` or `https`: ARM is only served over https. */
  readonly scheme: 'http' | 'https';
  /** Origin the client used (e.g. `https://127.0.0.1:4443`), to build absolute URLs such as Azure-AsyncOperation. */
  readonly origin: string;
}

export interface SimResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/**
 * A fault rule. Matching is by cloud and optionally zone/region and instance type; `times` limits how often it
 * fires (undefined = always). Capacity faults are sync (EC2) or async (GCE operation / Azure LRO failure).
 * Connection faults (`reset`, `truncate`, `stall`) break the HTTP exchange itself, see core/connection-faults.ts.
 */
export interface FaultRule {
  readonly cloud: SimCloud;
  /** `throttle`: the cloud's own throttling answer (EC2 RequestLimitExceeded, GCE rateLimitExceeded, ARM 429). */
  readonly kind: 'capacity' | 'quota' | 'server-error' | 'latency' | 'throttle' | ConnectionFaultKind;
  readonly zone?: string;
  readonly region?: string;
  readonly instanceType?: string;
  /** For capacity: where the error surfaces. Defaults to each cloud's usual (aws sync, gcp/azure async). */
  readonly mode?: 'sync' | 'async';
  /** Probability per matching request (server-error, latency); default 1. */
  readonly probability?: number;
  /**
   * Fires on every Nth matching request only (1st..N-1th pass, Nth hits), e.g. `{ kind: 'throttle', every: 3 }`
   * for a throttle storm that still lets two of three calls through. Counted per rule, in `seen`.
   */
  readonly every?: number;
  /** Matching requests an `every` rule has seen so far (kept by the sim). */
  seen?: number;
  readonly latencyMs?: number;
  /** Connection faults only: a regular expression the request must match, tested on `METHOD /path?query` (a form
   * body stands in for the query, so `Action=DescribeInstances` selects one EC2 action). */
  readonly request?: string;
  /** For `stall`: how long nothing is sent (default 1000 ms). */
  readonly stallMs?: number;
  /** For `stall`: what follows the silence, the answer (default) or a reset connection. */
  readonly after?: 'respond' | 'reset';
  /**
   * For capacity: instances still available per matching request (default 0). A request that may be partly
   * filled (EC2 MinCount/MaxCount, fleets, GCE bulkInsert minCount) gets up to this many; below its minimum it fails.
   */
  readonly available?: number;
  times?: number;
}

/**
 * `reset`: the connection is reset before any response byte. `truncate`: the status, headers and a content-length
 * go out with half of the body, then the connection is cut. `stall`: nothing is sent for `stallMs`.
 */
export type ConnectionFaultKind = 'reset' | 'truncate' | 'stall';

/** Rate limit settings per cloud; any left out take the documented defaults (cloud-apis.md). */
export interface RateLimitSettings {
  readonly enabled?: boolean;
  /** Multiplies every bucket's capacity and refill rate (e.g. 0.1 to provoke throttling in tests). */
  readonly scale?: number;
}

/** cloudsim's live settings: boot time, fault rules, rate limits and VM backing. */
export interface SimSettings {
  readonly seed: number;
  /** Milliseconds a VM stays pending / provisioning before running. */
  readonly bootTimeMs: number;
  readonly rateLimits: Readonly<Record<SimCloud, RateLimitSettings>>;
  readonly faults: FaultRule[];
  /** `virtual`: state only. `local`: each running VM is also a local-provider VM running its user-data. */
  readonly backing: 'virtual' | 'local';
  /**
   * With the `local` backing, how the VMs are wired. `flat` (default): one bridge for every cloud, public address
   * = private address. `realistic`: each cloud network is its own segment behind a 1:1 NAT edge with its firewall
   * enforced, public addresses from 198.18.0.0/15 (see src/cloudsim/network/README.md).
   */
  readonly network?: 'flat' | 'realistic';
}

/** Counts of API calls per cloud and action, for tests that assert "N calls made". */
export class Meter {
  private readonly counts = new Map<string, number>();
  /** Counts one call of `action` on `cloud` with its outcome. */
  record(cloud: SimCloud, action: string, outcome: 'ok' | 'throttled' | 'error'): void {
    const key = `${cloud}\t${action}\t${outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  /** Call counts so far, per cloud, action and outcome. */
  snapshot(): Array<{ cloud: SimCloud; action: string; outcome: string; count: number }> {
    return [...this.counts].map(([key, count]) => {
      const [cloud, action, outcome] = key.split('\t') as [SimCloud, string, string];
      return { cloud, action, outcome, count };
    });
  }
  /** Forgets every count. */
  reset(): void {
    this.counts.clear();
  }
}

/** A live resource as the admin endpoint lists it. */
export interface InventoryItem {
  readonly cloud: SimCloud;
  readonly type: string;
  readonly id: string;
  readonly region?: string;
  readonly zone?: string;
  readonly state?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * For a resource a cloud made implicitly with another (a VM's boot disk or root volume): that resource, with
   * its tags when this one was made. The clouds do not copy VM tags to such disks (GCE, Azure), so an orphaned
   * disk is found by its origin.
   */
  readonly origin?: { readonly type: string; readonly id?: string; readonly tags?: Readonly<Record<string, string>> };
}

/** One ingress rule of a VM's cloud firewall with its sources resolved to CIDRs; the first rule that matches decides. */
export interface IngressRule {
  readonly action: 'allow' | 'deny';
  /** `all`, `tcp`, `udp`, `icmp` or an IP protocol number. */
  readonly protocol: string;
  /** Inclusive port ranges for tcp/udp; undefined = every port. */
  readonly ports?: ReadonlyArray<readonly [number, number]>;
  /** Source CIDRs (an empty list matches nothing). */
  readonly sources: readonly string[];
}

/** What the realistic network needs of one VM (the cloud model is the truth; the backing follows it). */
export interface VmNetworkView {
  readonly cloud: SimCloud;
  readonly id: string;
  /** The cloud network the VM is on (VPC, VPC network, VNet): one isolated segment each. */
  readonly network: string;
  readonly privateIp: string;
  /** Its 1:1 NAT address, if it has one. */
  readonly publicIp?: string;
  /**
   * Inbound filters in the order a packet meets them (Azure: the subnet's NSG, then the NIC's); each must allow
   * the packet. A filter is a rule list ending in an implied deny. No filter = everything is allowed in.
   */
  readonly ingress: ReadonlyArray<readonly IngressRule[]>;
}

/** Hooks for the `local` backing: the sim asks the host to really run a VM's user-data. */
export interface VmBacking {
  /**
   * `privateIp` is the address the sim allocated (or the client asked for) and `subnetCidr` the cloud subnet it
   * belongs to; `name` becomes the VM's hostname.
   */
  start(vm: {
    cloud: SimCloud;
    id: string;
    name: string;
    privateIp?: string;
    subnetCidr?: string;
    userData: string;
    tags: Readonly<Record<string, string>>;
    /** Cloud network of the VM (same key as VmNetworkView.network); the realistic network needs it. */
    network?: string;
  }): Promise<{ privateIp: string }>;
  /** Stops one VM of the backing (the simulated cloud terminated it). */
  stop(vm: { cloud: SimCloud; id: string }): Promise<void>;
  /**
   * Powers one VM off and keeps its disk (EC2 StopInstances, GCE instances.stop, ARM deallocate/powerOff): its
   * processes end, its files and private address stay for powerOn.
   */
  powerOff?(vm: { cloud: SimCloud; id: string }): Promise<void>;
  /**
   * Boots a VM powerOff stopped, as a cloud-init image reboots: the user-data (per instance) does not run again,
   * the per-boot scripts (/var/lib/cloud/scripts/per-boot) do. Same private address and cloud network as before.
   */
  powerOn?(vm: { cloud: SimCloud; id: string; subnetCidr: string; network?: string }): Promise<void>;
  /**
   * The VM's console so far (what its boot printed, from the start); empty when the VM is unknown or printed
   * nothing. Serves EC2 GetConsoleOutput, GCE getSerialPortOutput and Azure's boot diagnostics log.
   */
  console?(vm: { cloud: SimCloud; id: string }): Promise<string>;
  /** Removes every VM the backing still runs (and what it set up for them); called by the sim's stop() for a backing it made. */
  close?(): Promise<void>;
  /** Realistic network: where the backing reads the clouds' addresses and firewalls. */
  observe?(view: () => readonly VmNetworkView[]): void;
  /** Realistic network: the sim answered a request, so addresses or firewall rules may have changed. */
  changed?(): void;
}

export interface SimContext {
  readonly settings: SimSettings;
  readonly random: SeededRandom;
  readonly buckets: BucketSet;
  readonly meter: Meter;
  /** Monotonic milliseconds; injectable for tests. */
  now(): number;
  /** Consumes the first matching fault rule of `kind`, if any. */
  takeFault(match: {
    cloud: SimCloud;
    kind: FaultRule['kind'];
    zone?: string;
    region?: string;
    instanceType?: string;
    /** `METHOD /path?query`, for rules with a `request` pattern. */
    request?: string;
  }): FaultRule | undefined;
  readonly backing?: VmBacking;
  /** Credentials and own host names every service checks before anything else. */
  readonly auth: SimAuth;
}

/** One simulated cloud API. The server offers each request to every service; the first that claims it answers. */
export interface CloudService {
  readonly cloud: SimCloud;
  /** True if this request is for this service (by path, content type, scheme). */
  claims(request: SimRequest): boolean;
  handle(request: SimRequest): Promise<SimResponse>;
  inventory(): InventoryItem[];
  /** Plain JSON state for persistence; `restore` takes what `snapshot` gave. */
  snapshot(): unknown;
  restore(state: unknown): void;
  /** Stops timers (boot transitions etc.). */
  close?(): Promise<void>;
  /** Every VM that exists (pending or running) with its addresses and ingress rules, for the realistic network. */
  networkView?(): VmNetworkView[];
}

export type CloudServiceFactory = (context: SimContext) => CloudService;
