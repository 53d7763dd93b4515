import type { NodePoolSpec, ProviderName, Role } from '../spec/schema.js';
import type { WaitOptions } from '../util/poll.js';

/**
 * The provider-neutral contract every cloud adapter (providers/<cloud>/) implements. Modelled on SkyPilot's
 * provisioner verbs: the core never imports a cloud SDK, and the cloud's own listing (by ownership tags) is
 * the state: nothing here keeps a local inventory.
 */

/** Ownership tags carried by every resource skypool creates. */
export interface OwnershipTags {
  readonly cluster: string;
  readonly pool: string;
  readonly role: Role;
  /** `poolSpecHash` of the pool the VM was made from. */
  readonly specHash: string;
  /**
   * The fabric /16 of the VM's cloud network (provider + region), e.g. `100.64.0.0/16`; absent on VMs of older
   * releases. Written label-safe (`100-64-0-0-16`: GCE label values allow no `.` or `/`), read in either form.
   */
  readonly fabric?: string;
  /**
   * The idempotency token of the create call that made the VM: a second process whose call the cloud refused as a
   * parameter mismatch finds the first one's VMs by it, whatever names the cloud gave them (EC2 names by id).
   */
  readonly launch?: string;
}

/** Tag/label keys as written on the cloud. GCE allows only lowercase `[a-z0-9_-]`, so all clouds use these. */
export const TAG_KEYS = {
  cluster: 'skypool-cluster',
  pool: 'skypool-pool',
  role: 'skypool-role',
  specHash: 'skypool-spec-hash',
  // Same key as FABRIC_TAG (src/fabric/addresses.ts).
  fabric: 'skypool-fabric',
  launch: 'skypool-launch',
} as const satisfies Record<keyof OwnershipTags, string>;

export function tagsToRecord(tags: OwnershipTags): Record<string, string> {
  return {
    [TAG_KEYS.cluster]: tags.cluster,
    [TAG_KEYS.pool]: tags.pool,
    [TAG_KEYS.role]: tags.role,
    [TAG_KEYS.specHash]: tags.specHash,
    ...(tags.fabric ? { [TAG_KEYS.fabric]: tags.fabric.replace(/[./]/g, '-') } : {}),
    ...(tags.launch ? { [TAG_KEYS.launch]: tags.launch } : {}),
  };
}

/** `100-64-0-0-16` or `100.64.0.0/16` -> `100.64.0.0/16`; undefined for anything else. */
function fabricFromTag(value: string | undefined): string | undefined {
  const m = value && /^(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[/-](\d{1,2})$/.exec(value);
  return m ? `${m[1]}.${m[2]}.${m[3]}.${m[4]}/${m[5]}` : undefined;
}

export function tagsFromRecord(record: Readonly<Record<string, string | undefined>>): OwnershipTags | undefined {
  const cluster = record[TAG_KEYS.cluster];
  const pool = record[TAG_KEYS.pool];
  const role = record[TAG_KEYS.role];
  const specHash = record[TAG_KEYS.specHash];
  if (!cluster || !pool || (role !== 'manager' && role !== 'worker') || !specHash) return undefined;
  const fabric = fabricFromTag(record[TAG_KEYS.fabric]);
  const launch = record[TAG_KEYS.launch];
  return { cluster, pool, role, specHash, ...(fabric ? { fabric } : {}), ...(launch ? { launch } : {}) };
}

/**
 * Lifecycle of a VM as every provider reports it. `stopped` is a VM powered off (or being powered off) that keeps
 * its disk and its name: still a member of its pool, never replaced by a plan. `stopping` is a VM going away
 * (being terminated or deleted).
 */
export type InstanceState = 'pending' | 'running' | 'stopped' | 'stopping' | 'terminated';

/** One VM as a provider lists it. */
export interface Instance {
  /** The cloud's id (EC2 instance id, GCE instance name, Azure VM resource id, local VM name). */
  readonly id: string;
  /** Unique within the cluster; also the VM's hostname and engine node name. */
  readonly name: string;
  readonly provider: ProviderName;
  readonly region?: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly state: InstanceState;
  /** Address other nodes of the pool reach it on. */
  readonly privateIp?: string;
  /** Address the SDK on this machine reaches the engine API on (the private one for local). */
  readonly publicIp?: string;
  readonly tags: OwnershipTags;
  readonly launchedAt?: string;
}

/** The cluster's network on one provider in one region. */
export interface NetworkRef {
  readonly id: string;
  /** The region the network is in (networks are per provider and region); absent where the provider has one. */
  readonly region?: string;
  /** CIDR of the subnet nodes get addresses from, e.g. `10.213.0.0/24`. */
  readonly cidr: string;
  /** First addresses of the subnet that the provider keeps for itself (gateway etc.). */
  readonly reservedAddresses?: readonly string[];
}

/** One node of a launch request. */
export interface NodeLaunch {
  readonly name: string;
  /** When set the provider must give the node this address (used for certificates with the IP in the SAN). */
  readonly privateIp?: string;
}

/** What `runInstances` launches: nodes of one pool with the same user-data. */
export interface LaunchRequest {
  readonly cluster: string;
  readonly pool: NodePoolSpec;
  readonly tags: OwnershipTags;
  readonly network: NetworkRef;
  /** The nodes to launch with this exact user-data; providers batch them into as few API calls as they can. */
  readonly nodes: readonly NodeLaunch[];
  /** Rendered user-data (cloud-init / shell), identical bytes on every provider. */
  readonly userData: string;
  /**
   * Idempotency token for the create call(s): the same token with the same request never makes duplicates
   * (EC2 ClientToken, GCE requestId, Azure resource name).
   */
  readonly idempotencyToken: string;
  readonly zone?: string;
  readonly signal?: AbortSignal;
}

export type { WaitOptions } from '../util/poll.js';

/** Where a verb acts: the region (default: the provider's own, see ProviderSettings.region) and its signal. */
export interface LocationOptions {
  readonly region?: string;
  readonly signal?: AbortSignal;
}

/** Which regions a listing covers: default the provider's own region; providers that list globally may list all. */
export interface ListOptions {
  readonly regions?: readonly string[];
  readonly signal?: AbortSignal;
}

/**
 * waitUntilRunning's options: the deadline, the region of the ids (default: the provider's own) and, when the
 * caller knows it, the cluster they belong to: a provider may then read a large batch with one listing by the
 * cluster's tag per poll (paginated) instead of by id.
 */
export type RegionWaitOptions = WaitOptions & { readonly region?: string; readonly cluster?: string };

/** The contract each provider adapter implements (see the module comment). */
export interface Provider {
  readonly name: ProviderName;
  /** Fails with PrerequisiteError before anything is created when the provider cannot work here. */
  checkPrerequisites(): Promise<void>;
  /** Creates (or finds, by tags) the cluster's network in the region; idempotent. One network per provider and region. */
  ensureNetwork(cluster: string, options?: LocationOptions): Promise<NetworkRef>;
  /**
   * Sources (IPv4 CIDRs) the cluster's firewall lets reach the engine API (2376/tcp): the `engineApiSources`
   * setting, else the operator's own address. Providers without such a firewall (local) leave it out.
   */
  readonly engineApiSources?: (signal?: AbortSignal) => Promise<readonly string[]>;
  /**
   * Why the cluster's firewall in the region does not let the fabric's WireGuard port (51820/udp) in from
   * anywhere, naming the rule that should (for the error of a node that failed to join); undefined when it does.
   */
  fabricFirewallProblem?(cluster: string, options?: LocationOptions): Promise<string | undefined>;
  /** Launches the nodes; returns them, possibly still pending. Throws CapacityError / QuotaError / CloudApiError. */
  runInstances(request: LaunchRequest): Promise<Instance[]>;
  /**
   * Polls until every id is running (with addresses) or the deadline passes (TimeoutError): one listing per poll
   * for the whole batch, and a throttled poll is waited out, never the end of the wait.
   */
  waitUntilRunning(ids: readonly string[], options: RegionWaitOptions): Promise<Instance[]>;
  /** Every non-terminated instance carrying `skypool-cluster=<cluster>` in the regions asked for (Instance.region set). */
  listInstances(cluster: string, options?: ListOptions): Promise<Instance[]>;
  /** Terminates the instances (ids of one region); idempotent (already gone is fine). */
  terminateInstances(ids: readonly string[], options?: LocationOptions): Promise<void>;
  /** Deletes the network of the region if it exists; idempotent. */
  deleteNetwork(cluster: string, options?: LocationOptions): Promise<void>;
  /** Releases clients, sockets and timers; the provider is unusable afterwards. */
  close?(): Promise<void>;

  // Optional capabilities (declared here, never found by duck typing in the core).

  /**
   * For clouds whose launch call answers before capacity is placed (EC2: an instance goes pending → terminated
   * with `Server.InsufficientInstanceCapacity`): waits until the launched instances are placed and resolves with
   * them, or fails with a CapacityError naming the zone and the cloud's reason. The provisioning queue calls it
   * inside the launch, so such a failure moves the launch to the pool's next zone like a synchronous one (GCE and
   * Azure report theirs in the Operation / LRO their runInstances waits for, and leave this out).
   */
  awaitPlacement?(ids: readonly string[], options: RegionWaitOptions): Promise<Instance[]>;

  /**
   * The VM's console output so far (EC2 GetConsoleOutput with Latest, GCE serial port 1, Azure boot diagnostics'
   * serial log, the local VM's boot log): where a node prints its public identity (src/bootstrap/node-identity.ts).
   * Empty while the cloud has none yet.
   */
  readConsole?(instance: Pick<Instance, 'id' | 'name' | 'region' | 'zone'>, signal?: AbortSignal): Promise<string>;
  /** Output and exit code of a VM's user-data so far (local): lets a failed boot end a wait at once. */
  readUserDataResult?(cluster: string, node: string): Promise<UserDataResult>;
  /** Runs a command inside a VM, no shell (local): engines without a network API are driven through it. */
  execInVm?(cluster: string, node: string, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

/** How far a VM's boot script got, read back from the VM (providers that can). */
export interface UserDataResult {
  /** True once the script has exited. */
  readonly done: boolean;
  readonly exitCode?: number;
  /** The end of the script's output, with secrets redacted. */
  readonly log: string;
}

/** Options of a command run inside a VM. */
export interface ExecOptions {
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  readonly allowFailure?: boolean;
}

/** The outcome of a command run inside a VM. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options every provider factory accepts; each provider extends it with its own (endpoint, credentials...). */
export interface ProviderSettings {
  /** Region used when a pool names none. */
  readonly region?: string;
  /**
   * IPv4 CIDRs allowed to reach the engine API (2376/tcp, mutual TLS). Default: this machine's own address as
   * the cloud sees it (127.0.0.1/32 for a cloud on loopback), or SKYPOOL_ENGINE_API_CIDR. Set by the core from
   * the spec's `adminCidrs` / `--admin-cidr`.
   */
  readonly engineApiSources?: readonly string[];
  /**
   * Where to ask for this machine's public address when no engine API sources are given: a URL answering the
   * caller's IPv4 address as plain text. Default https://checkip.amazonaws.com/ (plain http only to loopback).
   */
  readonly operatorAddressUrl?: string;
}

export type ProviderFactory = (settings?: ProviderSettings & Record<string, unknown>) => Promise<Provider> | Provider;
