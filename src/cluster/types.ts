import type { Logger } from 'pino';
import type { DrainResult, EngineNodeState, JobStatus, NodeAvailability, WorkloadStatus } from '../engines/types.js';
import type { ProviderOverrides } from '../providers/registry.js';
import type { InstanceState } from '../providers/types.js';
import type { QueueEvent, QueueLimits } from '../queue/provisioning-queue.js';
import type { EngineName, ProviderName, Role } from '../spec/schema.js';

export type {
  BatchJobSpec,
  DrainResult,
  JobState,
  JobStatus,
  Workload,
  WorkloadSpec,
  WorkloadStatus,
  WorkloadTask,
} from '../engines/types.js';

export interface ClusterOptions {
  /** Provider instances or settings per provider (see src/providers/registry.ts). */
  readonly providers?: ProviderOverrides;
  /** Where the cluster's local state (PKI) lives; default `$SKYPOOL_STATE_DIR` or `~/.skypool`. */
  readonly stateDir?: string;
  readonly logger?: Logger;
  /** How long a node may take from launch to Ready in the engine; default 180 000 ms. */
  readonly readyTimeoutMs?: number;
  /** How long a drain may take before scale-down fails; default 120 000 ms. */
  readonly drainTimeoutMs?: number;
  /** Override the routing-mesh detection (false = dnsrr + host-mode ports). */
  readonly routingMesh?: boolean;
  readonly queueLimits?: Partial<Record<ProviderName, Partial<QueueLimits>>>;
  /** Who may reach the engine API (2376/tcp); wins over the spec's `adminCidrs`. Default: this machine's address. */
  readonly adminCidrs?: readonly string[];
}

export type PhaseName =
  | 'prepare'
  | 'network'
  | 'inventory'
  | 'recover'
  | 'bootstrap-manager'
  | 'launch-nodes'
  | 'wait-engines'
  | 'images'
  | 'wait-ready'
  | 'labels'
  | 'fabric'
  | 'rotate-tokens'
  | 'scale-down'
  | 'workload'
  | 'destroy'
  | 'migrate-plan'
  | 'provision-target'
  | 'cordon'
  | 'move-services'
  | 'move-managers'
  | 'move-jobs'
  | 'move-controller'
  | 'retire-source'
  | 'restore-source'
  | 'retire-target';

export type NodeProgressState =
  | 'launching'
  | 'running'
  | 'identified'
  | 'engine-ready'
  | 'image-loaded'
  | 'ready'
  | 'labelled'
  | 'cordoned'
  | 'draining'
  | 'drained'
  | 'demoted'
  | 'terminating'
  | 'terminated'
  | 'removed'
  | 'recreating'
  | 'stopped'
  | 'failed';

/** Everything an apply reports while it runs; plain JSON, no secrets. */
export type ProgressEvent =
  | { readonly type: 'phase-start'; readonly phase: PhaseName; readonly at: string }
  | {
      readonly type: 'phase-end';
      readonly phase: PhaseName;
      readonly ms: number;
      readonly ok: boolean;
      readonly error?: string;
    }
  | {
      readonly type: 'node';
      readonly node: string;
      readonly pool?: string;
      readonly state: NodeProgressState;
      readonly detail?: string;
    }
  | { readonly type: 'message'; readonly level: 'info' | 'warn'; readonly message: string }
  | { readonly type: 'queue'; readonly event: QueueEvent };

export interface PhaseTiming {
  readonly phase: PhaseName;
  readonly ms: number;
}

export interface ApplyResult {
  readonly cluster: string;
  /** False when the providers and the engine already matched the spec. */
  readonly changed: boolean;
  readonly created: readonly string[];
  readonly deleted: readonly string[];
  /** VMs that existed but had never joined the pool (e.g. after a crash), replaced by new ones. */
  readonly recreated: readonly string[];
  readonly unchanged: readonly string[];
  readonly drains: readonly DrainResult[];
  readonly phases: readonly PhaseTiming[];
  readonly durationMs: number;
}

export interface EngineNodeSummary {
  readonly id: string;
  readonly state: EngineNodeState;
  readonly availability: NodeAvailability;
  readonly role: Role;
  readonly leader: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** The address the engine advertises for the node (Swarm on the fabric: its fabric IP in 100.64.0.0/10). */
  readonly address?: string;
  /** The engine's own word for the node's state (Slurm: idle, alloc, drain...). */
  readonly engineState?: string;
}

export interface NodeStatus {
  readonly name: string;
  readonly pool?: string;
  readonly role?: Role;
  readonly provider?: ProviderName;
  readonly instanceId?: string;
  /** `absent` when the engine lists a node no provider has a VM for. */
  readonly instanceState: InstanceState | 'absent';
  readonly privateIp?: string;
  readonly publicIp?: string;
  readonly zone?: string;
  /** Absent when the VM has not joined the engine (yet). */
  readonly engine?: EngineNodeSummary;
}

export interface ClusterStatus {
  readonly cluster: string;
  readonly engine: EngineName;
  readonly nodes: readonly NodeStatus[];
  readonly workloads: readonly WorkloadStatus[];
  /** Batch jobs the engine knows (engines that run jobs). */
  readonly jobs?: readonly JobStatus[];
  /** Facts the user should know, e.g. how services are published on this kernel. */
  readonly notes: readonly string[];
}

export interface DestroyResult {
  readonly cluster: string;
  readonly terminated: readonly string[];
  readonly networksDeleted: readonly ProviderName[];
  readonly stateRemoved: boolean;
  readonly durationMs: number;
}
