import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { renderUserData } from '../../bootstrap/user-data.js';
import { EngineError } from '../../errors.js';
import type { VolumeApi } from '../../fabric/volumes.js';
import type { Role } from '../../spec/schema.js';
import { pollUntil } from '../../util/poll.js';
import type {
  BootstrapInput,
  DrainResult,
  EngineClientTls,
  EngineDriver,
  EngineEndpoint,
  EngineNode,
  EngineSettings,
  HostRequirements,
  JoinTokens,
  NodeAvailability,
  ServiceEngine,
  WaitOptions,
  WorkloadKind,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.js';
import { call, DockerClients } from './api.js';
import { detectRoutingMesh } from './mesh.js';

export { notes } from './mesh.js';

import {
  type ApiNode,
  type ApiTask,
  assertNotLastManager,
  inspectNode,
  LIVE_TASK_STATES,
  toEngineNode,
  updateNodeSpec,
} from './nodes.js';
import {
  type ApiService,
  findService,
  type PublishingOptions,
  rescheduledSpec,
  upsertService,
  validateWorkload,
  WORKLOAD_LABEL,
  workloadStatus,
} from './services.js';

interface SwarmInfo {
  Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string };
}

interface ApiSwarm {
  Version: { Index: number };
  Spec: Record<string, unknown>;
  JoinTokens: { Worker: string; Manager: string };
}

const LOAD_TIMEOUT_MS = 120_000;

/** Swarm label holding when skypool last rotated the join tokens (ISO 8601). */
export const TOKENS_ROTATED_LABEL = 'skypool.tokens-rotated-at';

/** A definite verdict about a workload (not a transient API failure): ends a wait at once. */
class WorkloadError extends EngineError {}

export const requirements: HostRequirements = {
  commands: ['dockerd', 'docker', 'openssl', 'wg'],
  packages: ['docker.io', 'openssl', 'wireguard-tools', 'wireguard-go'],
  ports: [
    { port: 51820, protocol: 'udp', why: 'fabric (WireGuard): every engine port below rides inside it' },
    { port: 2376, protocol: 'tcp', why: 'engine API (mTLS), from the SDK' },
    { port: 2377, protocol: 'tcp', why: 'swarm control plane' },
    { port: 7946, protocol: 'tcp', why: 'swarm gossip' },
    { port: 7946, protocol: 'udp', why: 'swarm gossip' },
    { port: 4789, protocol: 'udp', why: 'overlay (VXLAN) data' },
  ],
};

/** Nodes make their own keys and print their identity on the console (see EngineDriver.nodeIdentity). */
export const nodeIdentity = 'console' as const;

export const workloadKinds: readonly WorkloadKind[] = ['service'];

export function createEngine(settings: EngineSettings): SwarmDriver {
  return new SwarmDriver(settings.tls, detectRoutingMesh(settings), { unlockKeyFile: settings.unlockKeyFile });
}

/** Docker Swarm through the Engine API of each node (dockerode over mTLS). */
export class SwarmDriver implements EngineDriver {
  readonly engine = 'swarm' as const;
  readonly nodeIdentity = 'console' as const;
  readonly requirements = requirements;
  private readonly clients: DockerClients;
  readonly services: ServiceEngine;

  /** File with the swarm's autolock key: read to unlock a restarted manager. */
  private readonly unlockKeyFile: string | undefined;

  constructor(
    tls: EngineClientTls,
    /** False without IPVS: services get dnsrr endpoints and host-mode ports instead of the mesh. */
    readonly routingMesh = true,
    options: { unlockKeyFile?: string | undefined } = {},
  ) {
    this.clients = new DockerClients(tls);
    this.unlockKeyFile = options.unlockKeyFile;
    this.services = {
      runService: (manager, workload) => this.runWorkload(manager, workload, { routingMesh: this.routingMesh }),
      services: (manager, name) => this.workloads(manager, name),
      waitService: (manager, name, options) => this.waitWorkload(manager, name, options),
      rescheduleService: (manager, name) => this.rescheduleWorkload(manager, name),
    };
  }

  /** Engine API calls dockerode has no method for (the autolock key); JSON in and out. */
  private dial<T>(endpoint: EngineEndpoint, path: string, method: 'GET' | 'POST', body?: object): Promise<T> {
    const modem = this.docker(endpoint).modem as {
      dial(options: object, callback: (error: unknown, data: unknown) => void): void;
    };
    return new Promise((resolve, reject) =>
      modem.dial(
        {
          path,
          method,
          options: body ?? {},
          statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error', 503: 'node is not part of a swarm' },
        },
        (error, data) => (error ? reject(error) : resolve(data as T)),
      ),
    );
  }

  /** The swarm's autolock key (secret: stored 0600, never printed); undefined when autolock is off. */
  async unlockKey(manager: EngineEndpoint): Promise<string | undefined> {
    const answer = await call(manager, 'reading the swarm unlock key', () =>
      this.dial<{ UnlockKey?: string }>(manager, '/swarm/unlockkey', 'GET'),
    );
    return answer.UnlockKey || undefined;
  }

  /** A restarted manager of an autolocked swarm waits, locked, for its key: give it the stored one. */
  private async unlockIfLocked(endpoint: EngineEndpoint): Promise<void> {
    const key = this.unlockKeyFile ? (await readFile(this.unlockKeyFile, 'utf8').catch(() => '')).trim() : '';
    if (!key)
      throw new EngineError(
        `the swarm manager ${endpoint.name} is locked (autolock) and no unlock key is stored in ${this.unlockKeyFile}: ` +
          'run `docker swarm unlock` on it with the key you saved',
        { node: endpoint.name },
      );
    await this.dial(endpoint, '/swarm/unlock', 'POST', { UnlockKey: key });
  }

  private docker(endpoint: EngineEndpoint): Docker {
    return this.clients.get(endpoint);
  }

  renderUserData(input: BootstrapInput): string {
    const role = input.role === 'manager' ? (input.first ? 'manager-init' : 'manager-join') : 'worker';
    if (!input.fabricPrefix)
      throw new EngineError(`cannot render the swarm user-data of pool ${input.pool}: no fabric prefix`, {
        pool: input.pool,
      });
    return renderUserData({
      engine: 'swarm',
      role,
      cluster: input.cluster,
      pool: input.pool,
      caPem: input.caPem,
      fabricPrefix: input.fabricPrefix,
      ...(input.deadlineSeconds ? { deadlineSeconds: input.deadlineSeconds } : {}),
    });
  }

  /** The engine API's volumes: the SDK -> node channel (fabric peers, the join volume). */
  nodeChannel(endpoint: EngineEndpoint): VolumeApi {
    // Short calls: the core retries them while a new node's dockerd starts.
    return this.clients.get(endpoint, 5_000) as unknown as VolumeApi;
  }

  async waitReady(endpoint: EngineEndpoint, role: Role, options: WaitOptions): Promise<void> {
    const docker = this.clients.get(endpoint, 3_000);
    await pollUntil(
      async () => {
        const info = (await docker.info()) as SwarmInfo;
        if (info.Swarm?.LocalNodeState === 'locked') {
          await this.unlockIfLocked(endpoint);
          return undefined;
        }
        const active = info.Swarm?.LocalNodeState === 'active';
        if (!active) return undefined;
        if (role === 'worker') return true;
        if (info.Swarm?.ControlAvailable !== true || !info.Swarm.NodeID) return undefined;
        // A manager being demoted (its spec says worker; an interrupted migration or scale-down asked for it)
        // still reports ControlAvailable until it leaves Raft, then loses its control socket mid-call: it is no
        // manager to talk to. Nor is one Raft cannot reach. Either way the caller asks the next manager.
        const self = await inspectNode(docker, info.Swarm.NodeID);
        return self.Spec.Role === 'manager' && self.ManagerStatus?.Reachability === 'reachable' ? true : undefined;
      },
      {
        ...options,
        what: `the engine API of ${endpoint.name} (${endpoint.host}:2376) to answer as a swarm ${role}`,
        hint: 'the node may still be booting, or its user-data failed (see /var/log/skypool on the VM)',
      },
    );
  }

  async joinTokens(manager: EngineEndpoint): Promise<JoinTokens> {
    const swarm = await call(
      manager,
      'reading the join tokens',
      () => this.docker(manager).swarmInspect() as Promise<ApiSwarm>,
    );
    return { worker: swarm.JoinTokens.Worker, manager: swarm.JoinTokens.Manager };
  }

  async rotateJoinTokens(manager: EngineEndpoint): Promise<void> {
    const docker = this.docker(manager);
    await call(manager, 'rotating the join tokens', async () => {
      const swarm = (await docker.swarmInspect()) as ApiSwarm;
      // The swarm itself records when: the engine, not this machine, is the state a later apply reads.
      const labels = { ...((swarm.Spec.Labels as Record<string, string> | undefined) ?? {}) };
      labels[TOKENS_ROTATED_LABEL] = new Date().toISOString();
      await docker.swarmUpdate({
        _query: { version: swarm.Version.Index, rotateWorkerToken: true, rotateManagerToken: true },
        _body: { ...swarm.Spec, Labels: labels },
      });
    });
  }

  /**
   * Replaces the swarm's root CA with `ca` (the swarm keeps its key, in the autolocked Raft store) and, unless
   * `wait: false`, waits until every node has a certificate from it: swarm re-issues node certificates in place,
   * nothing restarts.
   */
  async rotateCa(
    manager: EngineEndpoint,
    ca: { certPem: string; keyPem: string },
    options: WaitOptions & { readonly wait?: boolean },
  ): Promise<{ nodes: number }> {
    const docker = this.docker(manager);
    await call(manager, 'rotating the swarm CA', async () => {
      const swarm = (await docker.swarmInspect()) as ApiSwarm;
      const caConfig = (swarm.Spec.CAConfig as Record<string, unknown> | undefined) ?? {};
      await docker.swarmUpdate({
        _query: { version: swarm.Version.Index },
        _body: {
          ...swarm.Spec,
          CAConfig: {
            ...caConfig,
            SigningCACert: ca.certPem,
            SigningCAKey: ca.keyPem,
            ForceRotate: Number(caConfig.ForceRotate ?? 0) + 1,
          },
        },
      });
    });
    if (options.wait === false) return { nodes: 0 };
    return this.waitCaRotation(manager, ca.certPem, options);
  }

  /** Waits until the swarm's root is `certPem` and every node holds a certificate from it. */
  async waitCaRotation(manager: EngineEndpoint, certPem: string, options: WaitOptions): Promise<{ nodes: number }> {
    const docker = this.docker(manager);
    const want = certPem.trim();
    return pollUntil(
      async () => {
        const swarm = (await docker.swarmInspect()) as ApiSwarm & { TLSInfo?: { TrustRoot?: string } };
        if (swarm.TLSInfo?.TrustRoot?.trim() !== want) return undefined;
        const nodes = (await docker.listNodes()) as { Description?: { TLSInfo?: { TrustRoot?: string } } }[];
        const done = nodes.every((n) => n.Description?.TLSInfo?.TrustRoot?.trim() === want);
        return done ? { nodes: nodes.length } : undefined;
      },
      {
        ...options,
        what: 'every swarm node to hold a certificate from the new CA',
        hint: 'a node that is down gets its certificate when it comes back; run rotate-ca again to wait for it',
      },
    );
  }

  /** The swarm's root CA certificate (PEM). */
  async caCertificate(manager: EngineEndpoint): Promise<string | undefined> {
    const swarm = (await call(manager, 'reading the swarm', () => this.docker(manager).swarmInspect())) as {
      TLSInfo?: { TrustRoot?: string };
    };
    return swarm.TLSInfo?.TrustRoot || undefined;
  }

  async lastTokenRotation(manager: EngineEndpoint): Promise<Date | undefined> {
    const swarm = await call(
      manager,
      'reading the swarm',
      () => this.docker(manager).swarmInspect() as Promise<ApiSwarm>,
    );
    const at = (swarm.Spec.Labels as Record<string, string> | undefined)?.[TOKENS_ROTATED_LABEL];
    const time = at ? Date.parse(at) : Number.NaN;
    return Number.isNaN(time) ? undefined : new Date(time);
  }

  async listNodes(manager: EngineEndpoint): Promise<EngineNode[]> {
    const nodes = await call(
      manager,
      'listing the swarm nodes',
      () => this.docker(manager).listNodes() as Promise<ApiNode[]>,
    );
    return nodes.map(toEngineNode);
  }

  async setNodeLabels(
    manager: EngineEndpoint,
    nodeId: string,
    labels: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    return call(manager, `labelling node ${nodeId}`, () =>
      updateNodeSpec(this.docker(manager), nodeId, (spec) => {
        const current = spec.Labels ?? {};
        if (Object.entries(labels).every(([k, v]) => current[k] === v)) return undefined;
        return { ...spec, Labels: { ...current, ...labels } };
      }),
    );
  }

  async setAvailability(manager: EngineEndpoint, nodeId: string, availability: NodeAvailability): Promise<boolean> {
    return call(manager, `setting node ${nodeId} to ${availability}`, () =>
      updateNodeSpec(this.docker(manager), nodeId, (spec) =>
        spec.Availability === availability ? undefined : { ...spec, Availability: availability },
      ),
    );
  }

  async clusterRecord(manager: EngineEndpoint, key: string): Promise<string | undefined> {
    const swarm = await call(
      manager,
      'reading the swarm',
      () => this.docker(manager).swarmInspect() as Promise<ApiSwarm>,
    );
    return (swarm.Spec.Labels as Record<string, string> | undefined)?.[key];
  }

  async setClusterRecord(manager: EngineEndpoint, key: string, value: string | undefined): Promise<void> {
    const docker = this.docker(manager);
    await call(manager, `writing the swarm label ${key}`, async () => {
      const swarm = (await docker.swarmInspect()) as ApiSwarm;
      const labels = { ...((swarm.Spec.Labels as Record<string, string> | undefined) ?? {}) };
      if (labels[key] === value) return;
      if (value === undefined) delete labels[key];
      else labels[key] = value;
      await docker.swarmUpdate({ _query: { version: swarm.Version.Index }, _body: { ...swarm.Spec, Labels: labels } });
    });
  }

  async drainNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<DrainResult> {
    const docker = this.docker(manager);
    const started = Date.now();
    const node = toEngineNode(await call(manager, `inspecting node ${nodeId}`, () => inspectNode(docker, nodeId)));
    const before = await call(
      manager,
      'listing tasks',
      () => docker.listTasks({ filters: { node: [nodeId] } }) as Promise<ApiTask[]>,
    );
    const moved = before.filter((t) => t.DesiredState === 'running' && LIVE_TASK_STATES.has(t.Status.State)).length;
    await call(manager, `draining ${node.name}`, () =>
      updateNodeSpec(docker, nodeId, (spec) =>
        spec.Availability === 'drain' ? undefined : { ...spec, Availability: 'drain' },
      ),
    );
    await pollUntil(
      async () => {
        const [tasks, services] = await Promise.all([
          docker.listTasks() as Promise<ApiTask[]>,
          docker.listServices() as unknown as Promise<ApiService[]>,
        ]);
        if (tasks.some((t) => t.NodeID === nodeId && LIVE_TASK_STATES.has(t.Status.State))) return undefined;
        const settled = services.every((s) => {
          const want = s.Spec.Mode.Replicated?.Replicas;
          if (want === undefined) return true; // global services have nothing to move
          const running = tasks.filter(
            (t) => t.ServiceID === s.ID && t.DesiredState === 'running' && t.Status.State === 'running',
          );
          return running.length >= want;
        });
        return settled ? true : undefined;
      },
      {
        ...options,
        what: `the tasks of ${node.name} to run on other nodes`,
        hint: 'check that the other nodes have room and the image',
      },
    );
    return { node: node.name, durationMs: Date.now() - started, movedTasks: moved };
  }

  async demoteNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<void> {
    const docker = this.docker(manager);
    assertNotLastManager(await this.listNodes(manager), nodeId);
    await call(manager, `demoting node ${nodeId}`, () =>
      updateNodeSpec(docker, nodeId, (spec) => (spec.Role === 'worker' ? undefined : { ...spec, Role: 'worker' })),
    );
    await pollUntil(async () => ((await inspectNode(docker, nodeId)).ManagerStatus ? undefined : true), {
      ...options,
      what: `node ${nodeId} to leave the managers (raft)`,
    });
  }

  async promoteNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<void> {
    const docker = this.docker(manager);
    await call(manager, `promoting node ${nodeId}`, () =>
      updateNodeSpec(docker, nodeId, (spec) => (spec.Role === 'manager' ? undefined : { ...spec, Role: 'manager' })),
    );
    await pollUntil(
      async () => ((await inspectNode(docker, nodeId)).ManagerStatus?.Reachability === 'reachable' ? true : undefined),
      { ...options, what: `node ${nodeId} to join the managers (raft)` },
    );
  }

  async removeNode(manager: EngineEndpoint, nodeId: string): Promise<void> {
    const docker = this.docker(manager);
    const nodes = await this.listNodes(manager);
    assertNotLastManager(nodes, nodeId);
    const target = nodes.find((n) => n.id === nodeId);
    if (!target) return; // already gone
    await call(manager, `removing node ${target.name}`, async () => {
      try {
        await docker.getNode(nodeId).remove({ force: true });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      }
    });
  }

  async loadImage(
    endpoint: EngineEndpoint,
    tarballPath: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const docker = this.clients.get(endpoint, LOAD_TIMEOUT_MS);
    await call(endpoint, `loading image ${tarballPath}`, async () => {
      const stream = await docker.loadImage(createReadStream(tarballPath), {
        quiet: true,
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
      // The answer is a JSON stream; an error inside it (e.g. a bad tarball) arrives with status 200.
      const body = await new Promise<string>((resolve, reject) => {
        let text = '';
        stream.on('data', (d: Buffer) => (text += d.toString()));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
      const failure = body
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { error?: string })
        .find((m) => m.error);
      if (failure?.error) throw new Error(failure.error);
    });
  }

  /** A forced start-first update of one service: its tasks leave paused and drained nodes without a gap. */
  async rescheduleWorkload(manager: EngineEndpoint, name: string): Promise<void> {
    const docker = this.docker(manager);
    await call(manager, `rescheduling service ${name}`, async () => {
      // Another update (the orchestrator's, or a killed run's) can land between the read and the write: Swarm
      // then refuses the stale version ("update out of sequence"), and the service is read again.
      for (let attempt = 1; ; attempt += 1) {
        const service = await findService(docker, name);
        if (!service) throw new Error(`service ${name} does not exist`);
        try {
          await docker.getService(service.ID).update({
            _query: { version: service.Version.Index },
            _body: rescheduledSpec(service.Spec),
          } as unknown as Record<string, unknown>);
          return;
        } catch (error) {
          if (attempt >= 5 || !/update out of sequence/i.test(String((error as Error).message))) throw error;
        }
      }
    });
  }

  async runWorkload(manager: EngineEndpoint, workload: WorkloadSpec, publishing: PublishingOptions): Promise<void> {
    validateWorkload(workload);
    await call(manager, `creating service ${workload.name}`, () =>
      upsertService(this.docker(manager), workload, publishing),
    );
  }

  async workloads(manager: EngineEndpoint, name?: string): Promise<WorkloadStatus[]> {
    const docker = this.docker(manager);
    return call(manager, 'reading services', async () => {
      const services = name
        ? [await findService(docker, name)].filter((s): s is ApiService => !!s)
        : ((await docker.listServices({ filters: { label: [`${WORKLOAD_LABEL}=true`] } })) as unknown as ApiService[]);
      if (services.length === 0) return [];
      const [tasks, nodes] = await Promise.all([
        docker.listTasks() as Promise<ApiTask[]>,
        docker.listNodes() as Promise<ApiNode[]>,
      ]);
      return services
        .map((s) => workloadStatus(s, tasks, nodes, (n) => toEngineNode(n).address))
        .sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  async waitWorkload(manager: EngineEndpoint, name: string, options: WaitOptions): Promise<WorkloadStatus> {
    return pollUntil(
      async () => {
        const [status] = await this.workloads(manager, name);
        if (!status) throw new WorkloadError(`service ${name} does not exist`, { workload: name });
        // Swarm retries a task whose image is missing forever; no registry will bring it here.
        const missing = status.tasks.find(
          (t) => t.error && /no such image|not found|pull access denied/i.test(t.error),
        );
        if (missing) {
          throw new WorkloadError(
            `image ${status.image} is not on node ${missing.node ?? '?'} (${missing.error}): add it to the spec's images (a docker save tarball) and apply, or use an image the nodes can pull`,
            { workload: name, node: missing.node },
          );
        }
        const running = status.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running');
        const reachable = status.publishMode !== 'host' || running.every((t) => t.hostPort !== undefined);
        return status.runningReplicas === status.desiredReplicas &&
          running.length === status.desiredReplicas &&
          reachable
          ? status
          : undefined;
      },
      {
        ...options,
        intervalMs: 200,
        isFatal: (e) => e instanceof WorkloadError,
        what: `every replica of ${name} to run`,
        hint: 'run `skypool status` to see task errors (e.g. image missing on a node)',
      },
    );
  }

  close(): void {
    this.clients.clear();
  }
}
