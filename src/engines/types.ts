import type { CertificateBundle } from '../bootstrap/pki.js';
import type { EngineName, Role } from '../spec/schema.js';

/**
 * The contract between the cluster orchestration and a scheduling engine (Docker Swarm now; Slurm and k3s
 * later). The orchestration owns VMs and ordering; a driver owns what runs on them: their boot script and the
 * engine's own API. Every call takes a deadline or is a single bounded request; nothing here keeps state that
 * the engine does not hold itself.
 */

/** Where a node's engine API answers (mTLS with the cluster's client certificate). */
export interface EngineEndpoint {
  /** Node name, used in errors. */
  readonly name: string;
  readonly host: string;
}

export interface BootstrapInput {
  readonly role: Role;
  /** The first manager creates the pool; every other node joins it. */
  readonly first: boolean;
  readonly nodeName: string;
  readonly nodeIp: string;
  /** The node's server certificate (IP in the SAN) and the cluster CA. */
  readonly server: CertificateBundle;
  readonly caPem: string;
  /** Secret: present in the user-data only; the SDK rotates it after the joins. */
  readonly joinToken?: string;
  readonly managers?: readonly string[];
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
}

export interface WaitOptions {
  /** Absolute time (Date.now() based) after which the wait fails with TimeoutError. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

export interface WorkloadSpec {
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
}

export interface PublishingOptions {
  /** False where the kernel lacks IPVS: services get dnsrr endpoints and host-mode ports instead of the mesh. */
  readonly routingMesh: boolean;
}

export interface DrainResult {
  readonly node: string;
  readonly durationMs: number;
  /** Tasks that were running on the node when the drain started. */
  readonly movedTasks: number;
}

export interface EngineDriver {
  readonly engine: EngineName;
  /** The node's boot script (≤ 16 KB, identical bytes on every provider). */
  renderUserData(input: BootstrapInput): string;
  /** Polls the node's API until it answers and is part of the pool (and can manage it, for a manager). */
  waitReady(endpoint: EngineEndpoint, role: Role, options: WaitOptions): Promise<void>;
  joinTokens(manager: EngineEndpoint): Promise<JoinTokens>;
  /** New join tokens, so a leaked user-data cannot add nodes. */
  rotateJoinTokens(manager: EngineEndpoint): Promise<void>;
  listNodes(manager: EngineEndpoint): Promise<EngineNode[]>;
  /** Adds or updates labels (others are kept); returns whether anything changed. */
  setNodeLabels(manager: EngineEndpoint, nodeId: string, labels: Readonly<Record<string, string>>): Promise<boolean>;
  /** Stops scheduling on the node and waits until its tasks run elsewhere at full replica counts. */
  drainNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<DrainResult>;
  /** Turns a manager into a worker while it still runs (removing a live manager first keeps the quorum). */
  demoteNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<void>;
  /** Removes a worker node from the pool (forced: its VM is usually gone already); refuses the last manager. */
  removeNode(manager: EngineEndpoint, nodeId: string): Promise<void>;
  /** Loads a `docker save`-style tarball into one node. */
  loadImage(endpoint: EngineEndpoint, tarballPath: string, options?: { signal?: AbortSignal }): Promise<void>;
  runWorkload(manager: EngineEndpoint, workload: WorkloadSpec, publishing: PublishingOptions): Promise<void>;
  /** Status of the workloads skypool started (all when `name` is absent). */
  workloads(manager: EngineEndpoint, name?: string): Promise<WorkloadStatus[]>;
  /** Polls until every replica runs (and has its host port when published in host mode). */
  waitWorkload(manager: EngineEndpoint, name: string, options: WaitOptions): Promise<WorkloadStatus>;
  close(): void;
}

export interface EngineClientTls {
  readonly caPem: string;
  readonly client: CertificateBundle;
}
