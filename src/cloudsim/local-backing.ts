import { createHash, randomBytes } from 'node:crypto';
import {
  createProvider,
  inSubnet,
  installCleanupOnSignals,
  type LocalProvider,
  netnsName,
  trackCleanup,
} from '../../providers/local/index.js';
import { CloudApiError } from '../errors.js';
import type { NetworkRef } from '../providers/types.js';
import type { NodePoolSpec } from '../spec/schema.js';
import { sleep } from '../util/poll.js';
import type { SimCloud, VmBacking, VmNetworkView } from './core/types.js';
import type { RealisticNetwork } from './network/realistic.js';

/**
 * The `local` backing of cloudsim: every simulated VM of every cloud becomes a namespace VM of the local
 * provider that runs its user-data. All of them sit on ONE bridge owned by the sim, to which each cloud subnet
 * a VM lives in is attached (the host takes the subnet's first address), and every VM gets on-link routes to
 * every attached subnet: VMs of EC2, Compute Engine and ARM reach each other without a router, so a cluster
 * spread over the three "clouds" forms one pool. Still no default route and no NAT: nothing leaves the machine.
 *
 * With `network: 'realistic'` each cloud network is instead its own segment behind an edge namespace (1:1 NAT to
 * public addresses in 198.18.0.0/15, the cloud's firewall as packet filters) and the host reaches VMs only at
 * their public addresses; see network/README.md.
 */

export interface LocalVmBackingOptions {
  /** Local "cluster" that holds the backing VMs and names the bridge; default `cloudsim-<random>` (≤ 24 characters). */
  readonly name?: string;
  /** State root of the local provider; default its own (`/run/skypool/local`). */
  readonly stateRoot?: string;
  /** On SIGINT/SIGTERM remove the backing VMs and the bridge, then exit; default true. */
  readonly cleanupOnSignals?: boolean;
  /** Time VM processes get between SIGTERM and SIGKILL when a VM stops; default 2000 ms. */
  readonly stopGraceMs?: number;
  /**
   * Told why a VM could not start (the cloud API only says it failed, as a real cloud would); default: one line
   * on stderr.
   */
  readonly onStartError?: (vm: { cloud: SimCloud; id: string }, error: Error) => void;
  /** `flat` (default): one bridge for all clouds. `realistic`: a segment per cloud network, NAT and firewalls. */
  readonly network?: 'flat' | 'realistic';
}

export interface LocalVmBacking extends VmBacking {
  /** The local cluster name of the backing VMs (see `ip netns list`, `skypool-<name>-...`). */
  readonly name: string;
  close(): Promise<void>;
}

const POOL: NodePoolSpec = { name: 'cloudsim', provider: 'local', count: 1, role: 'worker' };
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Local VM name of a simulated VM: the cloud and its id when short and plain (EC2, GCE), else a hash of the id (ARM). */
export function backingVmName(cloud: SimCloud, id: string): string {
  const plain = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return plain && plain.length <= 24 ? `${cloud}-${plain}` : `${cloud}-${sha256(`${cloud}\n${id}`).slice(0, 16)}`;
}

/** The name a cloud gave the VM as hostname, when it is a valid one; otherwise the VM's local name. */
const hostnameOf = (name: string, fallback: string): string =>
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name) ? name : fallback;

let signalUsers = 0;
let releaseSignals: (() => void) | undefined;

/** Signal cleanup while at least one backing lives; left alone when someone else (the CLI) had installed it. */
function holdSignalCleanup(): () => void {
  if (signalUsers++ === 0) {
    const before = process.listenerCount('SIGTERM');
    const uninstall = installCleanupOnSignals();
    releaseSignals = process.listenerCount('SIGTERM') > before ? uninstall : undefined;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--signalUsers === 0) {
      releaseSignals?.();
      releaseSignals = undefined;
    }
  };
}

class Backing implements LocalVmBacking {
  /** Subnets attached to the bridge, in order, with the provider's ref for launches into them. */
  private readonly subnets = new Map<string, NetworkRef>();
  /** Running VMs by `<cloud> <id>`: they get routes to subnets attached later. */
  private readonly running = new Map<string, string>();
  /** The start of each VM in flight, so that a stop right after a launch waits for it. */
  private readonly starting = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Realistic network: local cluster (address claims, VM dirs) per cloud network, so ranges may overlap. */
  private readonly clusters = new Map<string, string>();
  /** Realistic network: the local VM id of each started VM by `<cloud> <id>`. */
  private readonly behindEdge = new Map<string, string>();
  private view: () => readonly VmNetworkView[] = () => [];
  private syncing: Promise<void> | undefined;
  private syncAgain = false;

  constructor(
    readonly name: string,
    private readonly provider: LocalProvider,
    private readonly releaseSignals: () => void,
    private readonly onStartError: NonNullable<LocalVmBackingOptions['onStartError']>,
    private readonly net?: RealisticNetwork,
  ) {
    if (net) trackCleanup(this.closeNet, true);
  }

  /** On Ctrl-C / SIGTERM the local provider removes the VMs, then this removes the network they hung off. */
  private readonly closeNet = async (): Promise<void> => {
    await this.net?.close();
  };

  observe(view: () => readonly VmNetworkView[]): void {
    this.view = view;
  }

  changed(): void {
    if (this.net && this.clusters.size > 0 && !this.closed) void this.sync().catch(() => undefined);
  }

  /**
   * Brings the network in line with the clouds' view; calls while one runs fold into one more pass, and the
   * promise settles after a pass that started after the call. The pass loop checks for more work and lets go of
   * `syncing` in one step: a call that came between the two would otherwise get the finishing pass's promise, and
   * its VM's address and firewall would wait for whatever change came next (the host could not reach a new VM at
   * its public address).
   */
  private sync(): Promise<void> {
    const net = this.net;
    if (!net || this.closed) return Promise.resolve();
    this.syncAgain = true;
    if (this.syncing) return this.syncing;
    const running = (async () => {
      try {
        while (this.syncAgain && !this.closed) {
          this.syncAgain = false;
          await net.sync(this.view());
        }
      } catch (error) {
        process.stderr.write(
          `cloudsim realistic network: could not apply addresses and firewalls: ${(error as Error).message}\n`,
        );
        throw error;
      } finally {
        this.syncing = undefined;
      }
    })();
    this.syncing = running;
    return running;
  }

  /** Subnet attachment and route bookkeeping run one at a time so that no VM misses a route. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.catch(() => undefined).finally(() => this.inFlight.delete(promise));
    return promise;
  }

  start(vm: Parameters<VmBacking['start']>[0]): Promise<{ privateIp: string }> {
    const key = `${vm.cloud} ${vm.id}`;
    const started = this.track(
      this.startVm(key, vm).catch((error: Error) => {
        this.onStartError({ cloud: vm.cloud, id: vm.id }, error);
        throw error;
      }),
    );
    this.starting.set(key, started);
    void started.catch(() => undefined).finally(() => this.starting.get(key) === started && this.starting.delete(key));
    return started;
  }

  private async startVm(key: string, vm: Parameters<VmBacking['start']>[0]): Promise<{ privateIp: string }> {
    if (this.closed) throw new CloudApiError(`cloudsim is stopping: VM ${vm.id} cannot start`, { id: vm.id });
    const { privateIp: ip, subnetCidr: cidr } = vm;
    if (!ip || !cidr || !inSubnet(ip, cidr)) {
      throw new CloudApiError(
        `cloudsim gave VM ${vm.id} no address in a subnet (${ip ?? 'no address'} in ${cidr ?? 'no subnet'}): the local backing needs both`,
        { id: vm.id, cloud: vm.cloud },
      );
    }
    const node = backingVmName(vm.cloud, vm.id);
    if (this.net) return this.startBehindEdge(this.net, key, node, vm, ip, cidr);
    const { network, routes } = await this.serial(async () => {
      let ref = this.subnets.get(cidr);
      if (!ref) {
        ref = await this.provider.attachSubnet(this.name, cidr);
        this.subnets.set(cidr, ref);
        for (const other of this.running.values())
          await this.provider.addOnLinkRoutes(this.name, other, [cidr]).catch(() => undefined);
      }
      return { network: ref, routes: [...this.subnets.keys()] };
    });
    const [instance] = await this.provider.runInstances({
      cluster: this.name,
      pool: POOL,
      tags: { cluster: this.name, pool: vm.cloud, role: 'worker', specHash: 'cloudsim' },
      network,
      nodes: [{ name: node, privateIp: ip, hostname: hostnameOf(vm.name, node) }],
      // A VM launched without user-data still boots; there is just nothing to run.
      userData: vm.userData.trim() === '' ? '#!/bin/sh\n' : vm.userData,
      idempotencyToken: `cloudsim ${key}`,
      onLinkRoutes: routes,
    });
    await this.serial(async () => {
      const later = [...this.subnets.keys()].filter((c) => !routes.includes(c));
      await this.provider.addOnLinkRoutes(this.name, node, later);
      this.running.set(key, node);
    });
    return { privateIp: instance?.privateIp ?? ip };
  }

  /** Realistic network: the VM hangs off its cloud network's edge, whose NAT and filter are in place first. */
  private async startBehindEdge(
    net: RealisticNetwork,
    key: string,
    node: string,
    vm: Parameters<VmBacking['start']>[0],
    ip: string,
    cidr: string,
  ): Promise<{ privateIp: string }> {
    const segment = vm.network ?? `${vm.cloud}:default`;
    const { cluster, uplink } = await this.serial(async () => {
      const edge = await net.edge(segment, cidr);
      let cluster = this.clusters.get(segment);
      if (!cluster) {
        cluster = `${this.name}-n${this.clusters.size + 1}`;
        this.clusters.set(segment, cluster);
      }
      return { cluster, uplink: edge };
    });
    await this.sync();
    const [instance] = await this.provider.runInstances({
      cluster,
      pool: POOL,
      tags: { cluster, pool: vm.cloud, role: 'worker', specHash: 'cloudsim' },
      network: { id: uplink.netns, cidr },
      nodes: [{ name: node, privateIp: ip, hostname: hostnameOf(vm.name, node) }],
      userData: vm.userData.trim() === '' ? '#!/bin/sh\n' : vm.userData,
      idempotencyToken: `cloudsim ${key}`,
      uplink,
    });
    this.behindEdge.set(key, netnsName(cluster, node));
    await this.sync();
    return { privateIp: instance?.privateIp ?? ip };
  }

  async console(vm: { cloud: SimCloud; id: string }): Promise<string> {
    const key = `${vm.cloud} ${vm.id}`;
    const id = this.behindEdge.get(key) ?? netnsName(this.name, backingVmName(vm.cloud, vm.id));
    return this.provider.readConsole({ id });
  }

  stop(vm: { cloud: SimCloud; id: string }): Promise<void> {
    const key = `${vm.cloud} ${vm.id}`;
    return this.track(
      (async () => {
        await this.starting.get(key)?.catch(() => undefined);
        this.running.delete(key);
        const id = this.behindEdge.get(key) ?? netnsName(this.name, backingVmName(vm.cloud, vm.id));
        this.behindEdge.delete(key);
        await this.untilHalted(vm, 'terminate', () => this.provider.terminateInstances([id]));
        if (this.net) await this.sync().catch(() => undefined);
      })(),
    );
  }

  powerOff(vm: { cloud: SimCloud; id: string }): Promise<void> {
    const key = `${vm.cloud} ${vm.id}`;
    return this.track(
      (async () => {
        await this.starting.get(key)?.catch(() => undefined);
        if (this.closed) return;
        this.running.delete(key);
        const id = this.behindEdge.get(key) ?? netnsName(this.name, backingVmName(vm.cloud, vm.id));
        await this.untilHalted(vm, 'stop', () => this.provider.stopInstances([id]));
        if (this.net) await this.sync().catch(() => undefined);
      })(),
    );
  }

  powerOn(vm: { cloud: SimCloud; id: string; subnetCidr: string; network?: string }): Promise<void> {
    const key = `${vm.cloud} ${vm.id}`;
    const started = this.track(
      (async () => {
        if (this.closed) throw new CloudApiError(`cloudsim is stopping: VM ${vm.id} cannot start`, { id: vm.id });
        const node = backingVmName(vm.cloud, vm.id);
        const net = this.net;
        if (net) {
          const id = this.behindEdge.get(key);
          if (!id) throw new CloudApiError(`cloudsim has no stopped VM ${vm.id} to start`, { id: vm.id });
          const uplink = await this.serial(() => net.edge(vm.network ?? `${vm.cloud}:default`, vm.subnetCidr));
          // NAT and filters for the VM's (new) public address are in place before it sends anything.
          await this.sync();
          await this.provider.startInstances([id], { uplink });
          await this.sync();
          return;
        }
        const routes = await this.serial(async () => [...this.subnets.keys()]);
        await this.provider.startInstances([netnsName(this.name, node)], { onLinkRoutes: routes });
        await this.serial(async () => {
          const later = [...this.subnets.keys()].filter((c) => !routes.includes(c));
          await this.provider.addOnLinkRoutes(this.name, node, later);
          this.running.set(key, node);
        });
      })().catch((error: Error) => {
        this.onStartError({ cloud: vm.cloud, id: vm.id }, error);
        throw error;
      }),
    );
    this.starting.set(key, started);
    void started.catch(() => undefined).finally(() => this.starting.get(key) === started && this.starting.delete(key));
    return started;
  }

  /**
   * A cloud's stop or terminate always ends; a local one can fail for a moment (a busy machine: processes still
   * closing files past their grace time), so it is tried again for up to a minute instead of leaving the VM's
   * namespace behind a cloud that already says TERMINATED (the next start of the VM then found it in the way).
   */
  private async untilHalted(vm: { cloud: SimCloud; id: string }, what: string, halt: () => Promise<unknown>) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await halt();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          process.stderr.write(
            `cloudsim local backing: ${vm.cloud} VM ${vm.id}: ${what} failed: ${(error as Error).message}\n`,
          );
          throw error;
        }
        await sleep(500);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.syncing?.catch(() => undefined);
      if (this.net) {
        // VMs first (they are the clients of the edges), then the edges, the internet and the host's routes.
        for (const cluster of this.clusters.values()) await this.provider.cleanupCluster(cluster);
        await this.net.close();
        trackCleanup(this.closeNet, false);
        return;
      }
      try {
        const left = await this.provider.listInstances(this.name);
        await this.provider.terminateInstances(left.map((i) => i.id));
        await this.provider.deleteNetwork(this.name);
      } catch {
        // Whatever state a VM is in (half-created, anchor dead), this removes it and the bridge.
        await this.provider.cleanupCluster(this.name);
      }
    } finally {
      this.running.clear();
      this.subnets.clear();
      this.clusters.clear();
      this.behindEdge.clear();
      this.releaseSignals();
    }
  }
}

/**
 * Creates the `local` backing (needs root on Linux, like the local provider). `startCloudSim({ backing: 'local' })`
 * makes one itself and closes it on stop(); pass your own as `vmBacking` to choose its options.
 */
export async function createLocalVmBacking(options: LocalVmBackingOptions = {}): Promise<LocalVmBacking> {
  const name = options.name ?? `cloudsim-${randomBytes(4).toString('hex')}`;
  const provider = createProvider({
    ...(options.stateRoot ? { stateRoot: options.stateRoot } : {}),
    stopGraceMs: options.stopGraceMs ?? 2_000,
  });
  await provider.checkPrerequisites();
  const net =
    options.network === 'realistic'
      ? await (await import('./network/realistic.js')).RealisticNetwork.create(name)
      : undefined;
  const release = options.cleanupOnSignals === false ? () => undefined : holdSignalCleanup();
  const report =
    options.onStartError ??
    ((vm, error) =>
      process.stderr.write(`cloudsim local backing: ${vm.cloud} VM ${vm.id} did not start: ${error.message}\n`));
  return new Backing(name, provider, release, report, net);
}
