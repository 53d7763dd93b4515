import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { CloudApiError, TimeoutError } from '../../src/errors.js';
import type {
  Instance,
  LaunchRequest,
  ListOptions,
  LocationOptions,
  NetworkRef,
  NodeLaunch,
  Provider,
  ProviderSettings,
  WaitOptions,
} from '../../src/providers/types.js';
import { tagsFromRecord, tagsToRecord } from '../../src/providers/types.js';
import { throwIfCancelled } from '../../src/util/poll.js';
import { cleanupLocalCluster, haltVm, removeClusterDir, type TeardownOptions, teardownVm, vmNames } from './cleanup.js';
import { delay, type RunOptions, type RunResult } from './exec.js';
import {
  attachSubnet,
  bridgeSubnets,
  claimAddress,
  deleteBridge,
  ensureBridge,
  findBridge,
  networkRef,
} from './network.js';
import { clusterDir, DEFAULT_STATE_ROOT, isVmDirName, NETNS_PREFIX, netnsName, vmDir } from './paths.js';
import { checkLocalPrerequisites } from './prerequisites.js';
import { ensureHostMountPoints, PRIVATE_DIRS, PRIVATE_FILES, privatePath, writePrivateFiles } from './private-paths.js';
import { trackNetwork, trackVm } from './signals.js';
import { isAlive, readRecord, recordPath, type VmRecord, writeRecord } from './state.js';
import { checkStateRoot } from './state-root.js';
import {
  interpreterOf,
  readConsoleFile,
  readUserDataFiles,
  startPerBoot,
  startUserData,
  type UserDataResult,
} from './user-data.js';
import { addOnLinkRoutes, createNetns, execInAnchor, setupVm, startAnchor, type Uplink } from './vm.js';

export interface LocalProviderSettings extends ProviderSettings {
  /** Directory holding one directory per VM; default `/run/skypool/local`. Leftovers of VMs that died (e.g. a reboot) are cleaned by listInstances. */
  readonly stateRoot?: string;
  /** Time VM processes get between SIGTERM and SIGKILL on terminate; default 5000 ms. */
  readonly stopGraceMs?: number;
  /** Extra host commands to require in checkPrerequisites (engines add `dockerd`, `docker`). */
  readonly requiredCommands?: readonly string[];
}

export interface LocalNodeLaunch extends NodeLaunch {
  /** Hostname inside the VM; default its name. */
  readonly hostname?: string;
}

/** A launch with what only namespace VMs can be given. */
export interface LocalLaunchRequest extends LaunchRequest {
  readonly nodes: readonly LocalNodeLaunch[];
  /** Other subnets attached to the bridge (see attachSubnet) that the VMs reach directly on their interface. */
  readonly onLinkRoutes?: readonly string[];
  /**
   * Wire the VMs to this router namespace instead of the cluster's bridge (cloudsim's realistic network); `network`
   * then only says which subnet addresses come from, and no bridge is made.
   */
  readonly uplink?: Uplink;
}

/** How long a VM dir without an anchor counts as "being created by another process" rather than a leftover. */
const CREATING_GRACE_MS = 60_000;

function toInstance(record: VmRecord, state: Instance['state']): Instance {
  const tags = tagsFromRecord(record.tags);
  if (!tags)
    throw new CloudApiError(
      `local VM ${record.id} has no valid ownership tags in vm.json: remove it with "skypool down"`,
      { id: record.id },
    );
  return {
    id: record.id,
    name: record.name,
    provider: 'local',
    region: 'local',
    zone: 'local',
    instanceType: 'namespace',
    state,
    privateIp: record.ip,
    publicIp: record.ip,
    tags,
    launchedAt: record.createdAt,
  };
}

/** How to wire a stopped VM when it starts again (its address and subnet stay those of its first boot). */
export interface LocalStartOptions {
  /** As LocalLaunchRequest.onLinkRoutes. */
  readonly onLinkRoutes?: readonly string[];
  /** As LocalLaunchRequest.uplink: a VM launched behind a router namespace starts behind it again. */
  readonly uplink?: Uplink;
}

/**
 * A VM dir whose anchor is not alive is either stopped (stopInstances), being created (by this or another
 * process: young, no anchor recorded yet) or dead (anchor recorded but gone, or too old): a leftover to clean.
 */
async function vmPhase(dir: string, record: VmRecord | undefined): Promise<'stopped' | 'creating' | 'dead'> {
  if (record?.stoppedAt) return 'stopped';
  if (record?.anchorPid) return 'dead';
  // vm.json is written whole (rename), so one that is there but not valid is no VM being made: a leftover.
  if (!record && existsSync(recordPath(dir))) return 'dead';
  const since = record ? Date.parse(record.createdAt) : ((await stat(dir).catch(() => undefined))?.mtimeMs ?? 0);
  return Date.now() - since < CREATING_GRACE_MS ? 'creating' : 'dead';
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * A VM name is unique on the host, so a launch of an existing name answers with that VM when it is the same
 * request (same token, or same user-data and address) and refuses otherwise: silently keeping a VM booted
 * with other user-data (another certificate, another join token) would hide the mismatch.
 */
function sameRequest(record: VmRecord, request: LaunchRequest, wantedIp: string | undefined): Instance {
  const same =
    record.idempotencyToken === request.idempotencyToken ||
    (record.userDataSha256 === sha256(request.userData) && (wantedIp === undefined || wantedIp === record.ip));
  if (!same) {
    throw new CloudApiError(
      `local VM "${record.name}" of cluster "${record.cluster}" already runs with other user-data or address (${record.ip}): ` +
        'terminate it first or launch under another name',
      { id: record.id, ip: record.ip },
    );
  }
  return toInstance(record, 'running');
}

/** A local "VM": network + UTS + mount namespaces on the cluster's bridge, with no route off the machine. */
export class LocalProvider implements Provider {
  readonly name = 'local' as const;
  readonly stateRoot: string;
  private readonly teardown: TeardownOptions;
  private readonly requiredCommands: readonly string[];
  private prerequisitesChecked = false;

  constructor(settings: LocalProviderSettings = {}) {
    this.stateRoot = settings.stateRoot ?? DEFAULT_STATE_ROOT;
    this.teardown = { graceMs: settings.stopGraceMs ?? 5_000 };
    this.requiredCommands = settings.requiredCommands ?? [];
  }

  async checkPrerequisites(): Promise<void> {
    checkLocalPrerequisites(this.requiredCommands);
    await checkStateRoot(this.stateRoot);
    this.prerequisitesChecked = true;
  }

  /** Refuses a state root others could write before trusting anything in it (see checkStateRoot). */
  private trustedStateRoot(create = false): Promise<void> {
    return checkStateRoot(this.stateRoot, { create });
  }

  private async prerequisites(): Promise<void> {
    if (!this.prerequisitesChecked) await this.checkPrerequisites();
  }

  /** One bridge per cluster; the region is always `local`. */
  async ensureNetwork(cluster: string, options: LocationOptions = {}): Promise<NetworkRef> {
    const { signal } = options;
    await this.prerequisites();
    throwIfCancelled(signal);
    const { network, created } = await ensureBridge(cluster);
    if (created) trackNetwork(this.stateRoot, cluster, true);
    return network;
  }

  async deleteNetwork(cluster: string, options: LocationOptions = {}): Promise<void> {
    throwIfCancelled(options.signal);
    await this.trustedStateRoot();
    const remaining = await vmNames(this.stateRoot, cluster);
    if (remaining.length > 0) {
      throw new CloudApiError(
        `the local network of cluster "${cluster}" is still used by ${remaining.length} VM(s) (${remaining.join(', ')}): terminate them first`,
        { cluster, vms: remaining },
      );
    }
    await deleteBridge(cluster);
    await removeClusterDir(this.stateRoot, cluster);
    trackNetwork(this.stateRoot, cluster, false);
  }

  /**
   * Puts another subnet on the cluster's bridge, for VMs that must get addresses of a network the provider did
   * not choose (cloudsim's local backing); launches whose `network` is this ref get addresses in it. Refuses a
   * subnet that overlaps a host route on another device.
   */
  async attachSubnet(cluster: string, cidr: string): Promise<NetworkRef> {
    await this.prerequisites();
    const { network, created } = await attachSubnet(cluster, cidr);
    if (created) trackNetwork(this.stateRoot, cluster, true);
    return network;
  }

  /** Lets a running VM reach subnets attached to its bridge after it started. */
  async addOnLinkRoutes(cluster: string, node: string, cidrs: readonly string[]): Promise<void> {
    await addOnLinkRoutes(netnsName(cluster, node), cidrs);
  }

  async runInstances(request: LocalLaunchRequest): Promise<Instance[]> {
    await this.prerequisites();
    throwIfCancelled(request.signal);
    interpreterOf(request.userData); // refuse what cannot run before creating anything
    if (request.uplink) return this.launchAll(request, networkRef(request.cluster, request.network.cidr));
    const bridge =
      (await findBridge(request.cluster)) ??
      (await this.ensureNetwork(request.cluster, request.signal ? { signal: request.signal } : {}));
    const attached =
      bridge.cidr === request.network.cidr || (await bridgeSubnets(bridge.id))?.includes(request.network.cidr);
    const network = attached ? networkRef(request.cluster, request.network.cidr) : bridge;
    if (!attached) {
      throw new CloudApiError(
        `the bridge of cluster "${request.cluster}" has ${network.cidr}, not ${request.network.cidr}: call ensureNetwork again`,
        {
          cluster: request.cluster,
        },
      );
    }
    return this.launchAll(request, network);
  }

  private async launchAll(request: LocalLaunchRequest, network: NetworkRef): Promise<Instance[]> {
    await this.trustedStateRoot(true);
    await mkdir(clusterDir(this.stateRoot, request.cluster), { recursive: true });
    const results = await Promise.allSettled(request.nodes.map((node) => this.launchOne(request, network, node)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<Instance>).value);
  }

  /** Creates one VM, or returns it when a VM of that name exists (same name = same VM, never a duplicate). */
  private async launchOne(
    request: LocalLaunchRequest,
    network: NetworkRef,
    launch: LocalNodeLaunch,
  ): Promise<Instance> {
    const { cluster } = request;
    const { name: node, privateIp: wantedIp } = launch;
    const dir = vmDir(this.stateRoot, cluster, node);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await mkdir(dir); // the VM dir is the claim on the name
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const existing = await this.awaitExisting(dir);
        if (existing) return sameRequest(existing, request, wantedIp);
        await teardownVm(this.stateRoot, cluster, node, this.teardown); // a leftover of a crash: replace it
        continue;
      }
      trackVm(this.stateRoot, cluster, node, true);
      try {
        return await this.create(request, network, dir, launch);
      } catch (err) {
        await teardownVm(this.stateRoot, cluster, node, { graceMs: 1_000 }).catch(() => undefined);
        trackVm(this.stateRoot, cluster, node, false);
        throw err;
      }
    }
    throw new CloudApiError(
      `could not claim the local VM name "${node}" in cluster "${cluster}": another process keeps creating it`,
      { cluster, node },
    );
  }

  /** The VM in `dir` once it is alive; undefined when it is a dead leftover. Waits while another process creates it. */
  private async awaitExisting(dir: string): Promise<VmRecord | undefined> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const record = await readRecord(dir);
      if (await isAlive(record)) return record;
      if ((await vmPhase(dir, record)) === 'dead') return undefined;
      await delay(50);
    }
    return undefined;
  }

  private async create(
    request: LocalLaunchRequest,
    network: NetworkRef,
    dir: string,
    launch: LocalNodeLaunch,
  ): Promise<Instance> {
    const { cluster } = request;
    const { name: node, privateIp: wantedIp } = launch;
    const hostname = launch.hostname ?? node;
    const id = netnsName(cluster, node);
    const ip = await claimAddress(this.stateRoot, cluster, network, node, wantedIp);
    let record: VmRecord = {
      id,
      name: node,
      ...(hostname !== node ? { hostname } : {}),
      cluster,
      tags: tagsToRecord(request.tags),
      ip,
      cidr: network.cidr,
      bridge: network.id,
      idempotencyToken: request.idempotencyToken,
      userDataSha256: sha256(request.userData),
      createdAt: new Date().toISOString(),
    };
    await writeRecord(dir, record);
    throwIfCancelled(request.signal);
    const prefixLength = Number(network.cidr.split('/')[1]);
    const onLinkRoutes = (request.onLinkRoutes ?? []).filter((cidr) => cidr !== network.cidr);
    await createNetns({ cluster, node, ip, prefixLength, bridge: network.id, onLinkRoutes, uplink: request.uplink });
    await ensureHostMountPoints();
    await writePrivateFiles(dir, hostname, ip);
    const anchorPid = await startAnchor(id);
    record = { ...record, anchorPid };
    await writeRecord(dir, record);
    await setupVm(anchorPid, dir, hostname);
    throwIfCancelled(request.signal);
    const userDataPid = await startUserData(anchorPid, dir, request.userData);
    record = { ...record, userDataPid };
    await writeRecord(dir, record);
    return toInstance(record, 'running');
  }

  async waitUntilRunning(ids: readonly string[], options: WaitOptions): Promise<Instance[]> {
    await this.trustedStateRoot();
    const { deadline } = options;
    for (;;) {
      throwIfCancelled(options.signal);
      const found = await Promise.all(ids.map((id) => this.findById(id)));
      const alive = await Promise.all(found.map((f) => isAlive(f?.record)));
      if (alive.every(Boolean)) return found.map((f) => toInstance(f!.record!, 'running'));
      if (Date.now() >= deadline) {
        const missing = ids.filter((_, i) => !alive[i]);
        throw new TimeoutError(`local VMs not running by the deadline: ${missing.join(', ')}`, {
          ids: missing,
        });
      }
      await delay(100);
    }
  }

  async listInstances(cluster: string, options: ListOptions = {}): Promise<Instance[]> {
    throwIfCancelled(options.signal);
    await this.trustedStateRoot();
    const instances: Instance[] = [];
    for (const node of await vmNames(this.stateRoot, cluster)) {
      const dir = vmDir(this.stateRoot, cluster, node);
      const record = await readRecord(dir);
      if (await isAlive(record)) {
        instances.push(toInstance(record!, record?.stoppedAt ? 'stopped' : 'running'));
        continue;
      }
      const phase = await vmPhase(dir, record);
      if (phase === 'stopped') {
        instances.push(toInstance(record!, 'stopped'));
      } else if (phase === 'creating') {
        if (record) instances.push(toInstance(record, 'pending'));
      } else {
        // A VM whose anchor died (host reboot, kill, crash mid-create) is terminated: clean its remains.
        await teardownVm(this.stateRoot, cluster, node, this.teardown);
      }
    }
    return instances.sort((a, b) => a.name.localeCompare(b.name));
  }

  async terminateInstances(ids: readonly string[], options: LocationOptions = {}): Promise<void> {
    throwIfCancelled(options.signal);
    await this.trustedStateRoot();
    const targets = (await Promise.all(ids.map((id) => this.findById(id)))).filter((t) => t !== undefined);
    const results = await Promise.allSettled(
      targets.map(async ({ cluster, node }) => {
        await teardownVm(this.stateRoot, cluster, node, this.teardown);
        trackVm(this.stateRoot, cluster, node, false);
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Stops VMs as a cloud's stop does: every process of the VM ends (containers first) and its network namespace
   * goes, while its VM dir (the "disk": private paths, vm.json, console log) and address stay for startInstances.
   * Stopping a stopped VM does nothing; an unknown id is ignored, as terminateInstances does.
   */
  async stopInstances(ids: readonly string[], options: LocationOptions = {}): Promise<void> {
    throwIfCancelled(options.signal);
    await this.trustedStateRoot();
    const targets = (await Promise.all(ids.map((id) => this.findById(id)))).filter((t) => t !== undefined);
    const results = await Promise.allSettled(
      targets.map(async ({ cluster, node, record }) => {
        if (!record) throw new CloudApiError(`local VM ${netnsName(cluster, node)} has no vm.json: cannot stop it`, {});
        const dir = vmDir(this.stateRoot, cluster, node);
        // Marked first: a listing meanwhile sees a VM that is stopping, not a dead one to clean up.
        const stopping: VmRecord = record.stoppedAt ? record : { ...record, stoppedAt: new Date().toISOString() };
        if (stopping !== record) await writeRecord(dir, stopping);
        await haltVm(dir, cluster, node, stopping, this.teardown);
        const { anchorPid: _anchor, userDataPid: _boot, ...stopped } = stopping;
        await writeRecord(dir, stopped);
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Starts stopped VMs as a reboot does: a fresh network namespace with the same address, the same private paths,
   * and the scripts in /var/lib/cloud/scripts/per-boot run (the user-data does not run again). A running VM is
   * left as it is.
   */
  async startInstances(ids: readonly string[], options: LocalStartOptions & LocationOptions = {}): Promise<Instance[]> {
    throwIfCancelled(options.signal);
    await this.trustedStateRoot();
    const started = await Promise.all(
      ids.map(async (id) => {
        const found = await this.findById(id);
        if (!found?.record) throw new CloudApiError(`no local VM ${id} to start`, { id });
        const { cluster, node, record } = found;
        if (await isAlive(record)) return toInstance(record, 'running');
        if (!record.stoppedAt)
          throw new CloudApiError(`local VM ${id} is not stopped (it died): it cannot start again`, { id });
        const dir = vmDir(this.stateRoot, cluster, node);
        const prefixLength = Number(record.cidr.split('/')[1]);
        await createNetns({
          cluster,
          node,
          ip: record.ip,
          prefixLength,
          bridge: record.bridge,
          onLinkRoutes: (options.onLinkRoutes ?? []).filter((c) => c !== record.cidr),
          uplink: options.uplink,
        });
        const anchorPid = await startAnchor(id);
        const { stoppedAt: _stopped, ...rest } = record;
        let running: VmRecord = { ...rest, anchorPid };
        await writeRecord(dir, running);
        await setupVm(anchorPid, dir, record.hostname ?? node);
        running = { ...running, userDataPid: startPerBoot(anchorPid, dir) };
        await writeRecord(dir, running);
        return toInstance(running, 'running');
      }),
    );
    return started;
  }

  /** The VM's console: its user-data output from the start (see readConsoleFile); empty for an unknown VM. */
  async readConsole(instance: Pick<Instance, 'id'>, signal?: AbortSignal): Promise<string> {
    throwIfCancelled(signal);
    await this.trustedStateRoot();
    const found = await this.findById(instance.id);
    if (!found) return '';
    return readConsoleFile(vmDir(this.stateRoot, found.cluster, found.node));
  }

  /** Output and exit code of a VM's user-data so far (poll it with a deadline; show `log` in errors). */
  readUserDataResult(cluster: string, node: string): Promise<UserDataResult> {
    return readUserDataFiles(vmDir(this.stateRoot, cluster, node));
  }

  /** Runs a command inside a VM (e.g. `docker info`), as a cloud VM's shell would. */
  async execInVm(cluster: string, node: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    await this.trustedStateRoot();
    const record = await readRecord(vmDir(this.stateRoot, cluster, node));
    if (!record || !(await isAlive(record))) {
      throw new CloudApiError(`local VM ${netnsName(cluster, node)} is not running`, { cluster, node });
    }
    return execInAnchor(record.anchorPid!, argv, options);
  }

  /**
   * Where a file the VM sees at `pathInVm` lives on the host, for the paths the VM owns privately
   * (/etc/skypool, /var/lib/skypool, /var/log/skypool, /etc/docker, ...). Other host paths are shared with
   * the VM as they are, except /tmp and /run, which are the VM's own tmpfs and not reachable from the host.
   */
  hostPathOf(cluster: string, node: string, pathInVm: string): string {
    const path = posix.normalize(pathInVm);
    const owner = [...PRIVATE_DIRS, ...PRIVATE_FILES].find((p) => path === p || path.startsWith(`${p}/`));
    if (!owner) {
      throw new CloudApiError(`${pathInVm} is not private to a local VM: use a path under ${PRIVATE_DIRS.join(', ')}`, {
        path: pathInVm,
      });
    }
    return privatePath(vmDir(this.stateRoot, cluster, node), path);
  }

  /** Removes every VM and the bridge of a cluster, whatever state they are in. */
  cleanupCluster(cluster: string): Promise<void> {
    return cleanupLocalCluster(cluster, this.stateRoot, this.teardown);
  }

  /** Finds a VM by id (`skypool-<cluster>-<node>`); cluster names may contain '-', so the VM dirs decide. */
  private async findById(
    id: string,
  ): Promise<{ cluster: string; node: string; record: VmRecord | undefined } | undefined> {
    if (!id.startsWith(NETNS_PREFIX)) return undefined;
    const clusters = await readdir(this.stateRoot, { withFileTypes: true }).catch(() => []);
    for (const c of clusters) {
      if (!c.isDirectory() || !isVmDirName(c.name) || !id.startsWith(`${NETNS_PREFIX}${c.name}-`)) continue;
      const node = id.slice(`${NETNS_PREFIX}${c.name}-`.length);
      if (!isVmDirName(node)) continue;
      const nodes = await vmNames(this.stateRoot, c.name);
      if (nodes.includes(node))
        return { cluster: c.name, node, record: await readRecord(vmDir(this.stateRoot, c.name, node)) };
    }
    return undefined;
  }
}
