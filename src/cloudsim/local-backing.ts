import { createHash, randomBytes } from 'node:crypto';
import {
  createProvider,
  inSubnet,
  installCleanupOnSignals,
  type LocalProvider,
  netnsName,
} from '../../providers/local/index.js';
import { CloudApiError } from '../errors.js';
import type { NetworkRef } from '../providers/types.js';
import type { NodePoolSpec } from '../spec/schema.js';
import type { SimCloud, VmBacking } from './core/types.js';

/**
 * The `local` backing of cloudsim: every simulated VM of every cloud becomes a namespace VM of the local
 * provider that runs its user-data. All of them sit on ONE bridge owned by the sim, to which each cloud subnet
 * a VM lives in is attached (the host takes the subnet's first address), and every VM gets on-link routes to
 * every attached subnet: VMs of EC2, Compute Engine and ARM reach each other without a router, so a cluster
 * spread over the three "clouds" forms one pool. Still no default route and no NAT: nothing leaves the machine.
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

  constructor(
    readonly name: string,
    private readonly provider: LocalProvider,
    private readonly releaseSignals: () => void,
    private readonly onStartError: NonNullable<LocalVmBackingOptions['onStartError']>,
  ) {}

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

  stop(vm: { cloud: SimCloud; id: string }): Promise<void> {
    const key = `${vm.cloud} ${vm.id}`;
    return this.track(
      (async () => {
        await this.starting.get(key)?.catch(() => undefined);
        this.running.delete(key);
        await this.provider.terminateInstances([netnsName(this.name, backingVmName(vm.cloud, vm.id))]);
      })(),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      const left = await this.provider.listInstances(this.name);
      await this.provider.terminateInstances(left.map((i) => i.id));
      await this.provider.deleteNetwork(this.name);
    } catch {
      // Whatever state a VM is in (half-created, anchor dead), this removes it and the bridge.
      await this.provider.cleanupCluster(this.name);
    } finally {
      this.running.clear();
      this.subnets.clear();
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
  const release = options.cleanupOnSignals === false ? () => undefined : holdSignalCleanup();
  const report =
    options.onStartError ??
    ((vm, error) =>
      process.stderr.write(`cloudsim local backing: ${vm.cloud} VM ${vm.id} did not start: ${error.message}\n`));
  return new Backing(name, provider, release, report);
}
