import type { CertificateBundle } from '../bootstrap/pki.js';
import type { VolumeApi } from '../fabric/volumes.js';
import type { EngineName, ProviderName, Role } from '../spec/schema.js';
import type { WaitOptions } from '../util/poll.js';

export type { WaitOptions } from '../util/poll.js';

/**
 * The contract between the cluster orchestration and a scheduling engine (Docker Swarm, Slurm; k3s templates).
 * The orchestration owns VMs and ordering; a driver owns what runs on them: their boot script and the engine's
 * own API. It has two parts:
 *
 * - `EngineDriver`: what every engine has (boot script per role, membership, node states, drain, removal,
 *   labels, the host's requirements), plus optional capabilities declared here (join secrets, manager demotion,
 *   image loading), never found by duck typing;
 * - the workload kinds it runs: `services` (replicated services: Swarm, k3s) and/or `jobs` (batch jobs: Slurm).
 *
 * Every call takes a deadline or is a single bounded request; nothing here keeps state the engine does not hold.
 */

/** How a command runs inside a node (providers that can: local). Arguments are never put through a shell. */
export type NodeExec = (
  argv: readonly string[],
  options?: { readonly input?: string; readonly timeoutMs?: number; readonly allowFailure?: boolean },
) => Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>;

/** Where a node's engine answers: its API over mTLS at `host`, or commands run inside it through `exec`. */
export interface EngineEndpoint {
  /** Node name, used in errors and, with `serverCertPem`, the name its certificate must carry. */
  readonly name: string;
  readonly host: string;
  /**
   * The node's own self-signed server certificate, pinned from its console identity: the only certificate the
   * SDK trusts for this node, checked against `name` (not the address, which the cloud picks).
   */
  readonly serverCertPem?: string;
  /** Present when the node's provider can run commands inside it (engines without a network API need it). */
  readonly exec?: NodeExec;
}

/**
 * What an engine needs to render the boot script of a pool's nodes. The core renders it once per pool and sends
 * the same bytes to every new node of the pool: each node learns its name (hostname) and address at boot.
 */
export interface BootstrapInput {
  readonly role: Role;
  /** The first manager creates the pool; every other node joins it. */
  readonly first: boolean;
  readonly cluster: string;
  readonly pool: string;
  /** The cluster CA certificate (public). */
  readonly caPem: string;
  /** The cloud network's /16 of the fabric range (engines with `nodeIdentity: 'console'` bring the fabric up). */
  readonly fabricPrefix?: string;
  /**
   * Per-node values, for engine templates that still name the node in its user-data (k3s templates; Slurm
   * falls back to the hostname and address at boot when absent). The core never sets them.
   */
  readonly nodeName?: string;
  readonly nodeIp?: string;
  readonly server?: CertificateBundle;
  /** Labels of the node's pool plus where it comes from (provider, pool), for engines that set them at boot. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Private addresses of the managers launched before (for the joining roles of engines that need them). */
  readonly managers?: readonly string[];
  /** Names of the managers, in the order of `managers` (Slurm's SlurmctldHost must match the hostname). */
  readonly managerNames?: readonly string[];
  readonly deadlineSeconds?: number;
}

/** Secrets: never log, never put into results or errors. */
export interface JoinTokens {
  readonly worker: string;
  readonly manager: string;
}

/** A node's state in the engine. */
export type EngineNodeState = 'ready' | 'down' | 'unknown' | 'disconnected';
/** Whether the engine schedules on a node (`drain` moves its tasks away). */
export type NodeAvailability = 'active' | 'pause' | 'drain';

/** One member of the pool as its engine reports it. */
export interface EngineNode {
  readonly id: string;
  /** The engine's node name (the VM hostname). */
  readonly name: string;
  readonly address?: string;
  readonly role: Role;
  readonly state: EngineNodeState;
  readonly availability: NodeAvailability;
  readonly leader: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** The engine's own word for the state (Slurm: idle, alloc, mixed, drain, down...), when it has one. */
  readonly engineState?: string;
  /** Managers: whether the control plane (Swarm's Raft) reaches this manager. */
  readonly managerReachable?: boolean;
}

export interface DrainResult {
  readonly node: string;
  readonly durationMs: number;
  /** Tasks (services) or jobs (batch) that were running on the node when the drain started. */
  readonly movedTasks: number;
  /** Jobs put back in the queue because they had not finished by the drain's deadline (batch engines). */
  readonly requeued?: number;
}

/** What a node must have for the engine, so the core never hard-codes an engine's needs. */
export interface HostRequirements {
  /** Commands the local provider checks on the host before creating anything. */
  readonly commands: readonly string[];
  /** Debian packages that provide them (scripts/prelude.sh installs these). */
  readonly packages: readonly string[];
  /** Ports the pool's nodes reach each other on (opened within the cluster's network). */
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: 'tcp' | 'udp'; readonly why: string }>;
}

// ---------- workloads ----------

/** A replicated service (Swarm, k3s). `kind` may be left out: a workload without one is a service. */
export interface WorkloadSpec {
  readonly kind?: 'service';
  /** Service name: lowercase letters, digits and '-'. */
  readonly name: string;
  /** Image reference; it must already be on the nodes (spec.images) or reachable by the engine. */
  readonly image: string;
  readonly replicas: number;
  /** Arguments after the image, like `docker service create IMAGE ARGS...`. */
  readonly command?: readonly string[];
  /** Container port to publish. Its host port is dynamic when the routing mesh is unavailable. */
  readonly port?: number;
  /** Placement constraints, e.g. `node.labels.pool==workers`. */
  readonly constraints?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** A batch job with `sbatch` semantics (Slurm). */
export interface BatchJobSpec {
  readonly kind: 'job';
  /** Job name: lowercase letters, digits and '-'. */
  readonly name: string;
  /** The batch script (starts with `#!`), run on the first node of the allocation; `srun` spreads work. */
  readonly script: string;
  /** Nodes to allocate (sbatch -N); default 1. */
  readonly nodes?: number;
  /** Tasks (sbatch -n); default one per node. */
  readonly tasks?: number;
  /** Time limit in minutes (sbatch -t); default 10. */
  readonly timeLimitMinutes?: number;
  /** Wait until the job ended (default true); false returns once it is queued. */
  readonly wait?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

export type Workload = WorkloadSpec | BatchJobSpec;
/** The kinds of workload `Cluster.run()` takes: replicated services (Swarm, k3s) or batch jobs (Slurm). */
export type WorkloadKind = 'service' | 'job';

export function workloadKind(workload: Workload): WorkloadKind {
  return workload.kind ?? 'service';
}

/** How a service's port is published: the routing mesh, a port per node, or not at all. */
export type PublishMode = 'ingress' | 'host' | 'none';

export interface WorkloadTask {
  readonly id: string;
  readonly slot?: number;
  readonly node?: string;
  readonly state: string;
  readonly desiredState: string;
  /** Where the replica answers from outside: the node's address and the published host port. */
  readonly address?: string;
  readonly hostPort?: number;
  readonly error?: string;
}

export interface WorkloadStatus {
  readonly name: string;
  readonly image: string;
  readonly desiredReplicas: number;
  readonly runningReplicas: number;
  readonly endpointMode: 'vip' | 'dnsrr';
  readonly publishMode: PublishMode;
  readonly targetPort?: number;
  /** Published port on every node (ingress mode only). */
  readonly publishedPort?: number;
  readonly tasks: readonly WorkloadTask[];
  /** The engine's last rolling update of the service (Swarm: `UpdateStatus`), e.g. `paused` after a task failed. */
  readonly update?: { readonly state: string; readonly message?: string };
}

export type JobState =
  | 'pending'
  | 'running'
  | 'completing'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timeout'
  | 'node-fail'
  | 'requeued'
  | 'unknown';

export interface JobStatus {
  readonly kind: 'job';
  readonly id: string;
  readonly name: string;
  readonly state: JobState;
  /** The engine's own word for the state (Slurm: PENDING, RUNNING, COMPLETED...). */
  readonly engineState: string;
  readonly nodes: readonly string[];
  /** Node that runs the batch script and holds its output. */
  readonly batchHost?: string;
  readonly exitCode?: number;
  /** The batch script's output (stdout and stderr), once the job ended and when it could be read. */
  readonly output?: string;
}

/** True once a job will not run again (by itself). */
export function jobEnded(state: JobState): boolean {
  return !['pending', 'running', 'completing', 'requeued', 'unknown'].includes(state);
}

/** Replicated services: Swarm (and k3s). */
export interface ServiceEngine {
  /** Creates or updates a replicated service. */
  runService(manager: EngineEndpoint, workload: WorkloadSpec): Promise<void>;
  /** Status of the services skypool started (all when `name` is absent). */
  services(manager: EngineEndpoint, name?: string): Promise<WorkloadStatus[]>;
  /** Polls until every replica runs (and has its host port when published in host mode). */
  waitService(manager: EngineEndpoint, name: string, options: WaitOptions): Promise<WorkloadStatus>;
  /**
   * Replaces every task of the service, one at a time, each new task started before its old one stops (Swarm:
   * a forced update with order start-first): tasks leave nodes that no longer take work without a gap.
   * Returns once the update was accepted; `services` shows the tasks moving.
   */
  rescheduleService?(manager: EngineEndpoint, name: string): Promise<void>;
}

/** Batch jobs: Slurm. */
export interface JobEngine {
  /** Queues the job; returns its id. */
  submitJob(manager: EngineEndpoint, job: BatchJobSpec): Promise<string>;
  /** Jobs the engine still knows (all when `id` is absent). */
  jobs(manager: EngineEndpoint, id?: string): Promise<JobStatus[]>;
  /** Polls until the job ended; fails with TimeoutError at the deadline (the job keeps running). */
  waitJob(manager: EngineEndpoint, id: string, options: WaitOptions): Promise<JobStatus>;
  /** The batch script's output, read on the node that ran it. */
  jobOutput(batchHost: EngineEndpoint, id: string): Promise<string>;
}

// ---------- the driver ----------

/** What the core asks of every engine: membership, drains, labels; workloads through `services` or `jobs`. */
export interface EngineDriver {
  readonly engine: EngineName;
  readonly requirements: HostRequirements;
  /** The node's boot script (≤ 16 KB, identical bytes on every provider). */
  renderUserData(input: BootstrapInput): string;
  /**
   * Polls the node until its engine answers and it is part of the pool (and can manage it, for a manager).
   */
  waitReady(endpoint: EngineEndpoint, role: Role, options: WaitOptions): Promise<void>;
  /** When the join tokens were last rotated, as recorded in the engine; undefined when never. */
  lastTokenRotation?(manager: EngineEndpoint): Promise<Date | undefined>;
  /** The engine's autolock key (a secret), when the engine locks its managers' state at rest. */
  unlockKey?(manager: EngineEndpoint): Promise<string | undefined>;
  /** The engine's own root CA certificate (PEM). */
  caCertificate?(manager: EngineEndpoint): Promise<string | undefined>;
  /**
   * Replaces the engine's own root CA and re-issues every node's certificate in place; `wait: false` returns once
   * the engine took the new CA (then `waitCaRotation`).
   */
  rotateCa?(
    manager: EngineEndpoint,
    ca: { certPem: string; keyPem: string },
    options: WaitOptions & { readonly wait?: boolean },
  ): Promise<{ nodes: number }>;
  /** Waits until the engine's root CA is `certPem` and every node holds a certificate from it. */
  waitCaRotation?(manager: EngineEndpoint, certPem: string, options: WaitOptions): Promise<{ nodes: number }>;
  /** Every member the engine knows, managers included, with its state. */
  listNodes(manager: EngineEndpoint): Promise<EngineNode[]>;
  /** Adds or updates labels (Slurm: node features); returns whether anything changed. */
  setNodeLabels(manager: EngineEndpoint, nodeId: string, labels: Readonly<Record<string, string>>): Promise<boolean>;
  /** Stops scheduling on the node and waits until its work ran elsewhere (services) or finished (jobs). */
  drainNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<DrainResult>;
  /** Removes a member from the pool (forced: its VM is usually gone already); refuses the last manager. */
  removeNode(manager: EngineEndpoint, nodeId: string): Promise<void>;

  /**
   * `console`: nodes make their own keys and print their identity (src/bootstrap/node-identity.ts) on the console;
   * the core pins it, brings up the fabric (peer volumes) and hands joiners their secret through `nodeChannel`.
   */
  readonly nodeIdentity?: 'console';
  /** The SDK -> node channel: labelled volumes on the node's engine API (engines with `nodeIdentity`). */
  nodeChannel?(endpoint: EngineEndpoint): VolumeApi;
  /** Secrets joining nodes need, read from a live manager (Swarm's join tokens). */
  joinTokens?(manager: EngineEndpoint): Promise<JoinTokens>;
  /** New join secrets once joins settled, so a leaked user-data cannot add nodes. */
  rotateJoinTokens?(manager: EngineEndpoint): Promise<void>;
  /** Turns a manager into a worker while it still runs (removing a live manager first keeps the quorum). */
  demoteNode?(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<void>;
  /** Turns a worker into a manager and waits until the control plane reaches it (a rollback's way back). */
  promoteNode?(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<void>;
  /** Sets whether the engine schedules on a node (`pause`: keeps what runs, takes nothing new); true if changed. */
  setAvailability?(manager: EngineEndpoint, nodeId: string, availability: NodeAvailability): Promise<boolean>;
  /**
   * A value the engine itself keeps for the whole cluster (Swarm: a label of the swarm, in Raft), so an operation
   * interrupted on one machine can be finished from the engine's own state; `undefined` removes it.
   */
  clusterRecord?(manager: EngineEndpoint, key: string): Promise<string | undefined>;
  /** Writes (or, with `undefined`, removes) a value `clusterRecord` reads. */
  setClusterRecord?(manager: EngineEndpoint, key: string, value: string | undefined): Promise<void>;
  /** Loads a `docker save`-style tarball into one node (engines that run images). */
  loadImage?(endpoint: EngineEndpoint, tarballPath: string, options?: { signal?: AbortSignal }): Promise<void>;

  readonly services?: ServiceEngine;
  readonly jobs?: JobEngine;
  /** Closes the driver's connections to the engine. */
  close(): void;
}

/** The SDK's mutual-TLS identity toward the engine APIs: the cluster CA and a client certificate. */
export interface EngineClientTls {
  readonly caPem: string;
  readonly client: CertificateBundle;
}

/** What the core hands an engine factory. */
export interface EngineSettings {
  readonly tls: EngineClientTls;
  /** The providers the cluster uses (an engine may adapt, e.g. no IPVS on the local provider's kernel). */
  readonly providers: readonly ProviderName[];
  /** Derives a stable per-cluster secret from the cluster CA (e.g. Slurm's munge key): 32+ bytes. */
  readonly clusterSecret: (label: string, bytes: number) => Buffer;
  /** Swarm: override the routing-mesh detection (false = dnsrr + host-mode ports). */
  readonly routingMesh?: boolean;
  /** File holding the engine's autolock key (Swarm), read to unlock a restarted manager. */
  readonly unlockKeyFile?: string;
}

/** Makes an engine driver from the cluster's settings. */
export type EngineFactory = (settings: EngineSettings) => EngineDriver;
