import type { JobState } from '../../engines/types.js';
import type { NodePoolSpec, NodeSize, ProviderName, Role } from '../../spec/schema.js';
import type { PhaseTiming } from '../types.js';

/** A new pool described inline as the destination: the provider, and optionally where and how big. */
export interface InlineTarget {
  readonly provider: ProviderName;
  readonly region?: string;
  readonly size?: NodeSize;
  readonly instanceType?: string;
  /** Name of the new pool; default `<source pool>-<provider>` (one new pool per source pool). */
  readonly name?: string;
}

/** `from` and `to`: a pool name, a provider name (every pool on it), or (`to` only) a new pool described inline. */
export interface MigrateOptions {
  readonly from: string;
  readonly to: string | InlineTarget;
  /** Plan only: lists instances and asks the engine, changes nothing. */
  readonly dryRun?: boolean;
  /**
   * Return an interrupted migration of `from` to its source (services and managers; Slurm: jobs and the
   * controller), and remove the target VMs: only while the source exists (before its retirement starts);
   * refused after with MIGRATION_NOT_REVERSIBLE.
   */
  readonly rollback?: boolean;
  readonly signal?: AbortSignal;
}

/** One side of a pool's move, priced with the bundled catalog. */
export interface PricedPool {
  readonly pool: string;
  readonly provider: ProviderName;
  readonly region?: string;
  readonly role: Role;
  readonly count: number;
  readonly instanceType?: string;
  /** Per node, list price as of `MigrationPlan.catalogDate`; absent when the catalog has none. */
  readonly hourlyUsd?: number;
  readonly poolHourlyUsd?: number;
}

/** Where one source pool's nodes go. */
export interface PoolMapping {
  readonly source: PricedPool;
  readonly target: PricedPool;
  /** True when the target pool is in the spec already (it grows by the source's count). */
  readonly targetExists: boolean;
}

/** What a migration does, computed before it does anything (also what `--dry-run` prints). */
export interface MigrationPlan {
  readonly cluster: string;
  readonly from: string;
  readonly to: string;
  readonly mappings: readonly PoolMapping[];
  /** Node names the target pools get (planned; EC2 names nodes after their ids). */
  readonly create: readonly string[];
  /** Source VMs cordoned, drained and then terminated. */
  readonly drain: readonly string[];
  readonly terminate: readonly string[];
  /** Source managers demoted and removed one at a time once the target's managers are in the quorum. */
  readonly managersLeaving: readonly string[];
  /** The cloud networks deleted once no pool uses them. */
  readonly networksDeleted: ReadonlyArray<{ readonly provider: ProviderName; readonly region?: string }>;
  readonly sourceHourlyUsd: number;
  readonly targetHourlyUsd: number;
  readonly catalogDate: string;
  /** The pools after the migration (what the spec file should say). */
  readonly pools: readonly NodePoolSpec[];
  /** Set when a migration recorded in the engine is being finished. */
  readonly resumed?: string;
  /**
   * Only for a migration in progress: whether `--rollback` can still return to the source (false once its
   * retirement started).
   */
  readonly rollbackPossible?: boolean;
}

/** One service's move off the source. */
export interface ServiceMove {
  readonly service: string;
  readonly replicas: number;
  /** Its running tasks on the source nodes when the move started. */
  readonly movedTasks: number;
  readonly fromNodes: readonly string[];
  readonly toNodes: readonly string[];
  readonly ms: number;
}

/** One batch job's move off the source (Slurm): it finished there, or was requeued onto the nodes that stay. */
export interface JobMove {
  readonly job: string;
  readonly name: string;
  /** Nodes it ran on when the drain started. */
  readonly fromNodes: readonly string[];
  /** Nodes it runs on after its requeue (empty when it finished on the source). */
  readonly toNodes: readonly string[];
  readonly requeued: boolean;
  /** Its state once the source was drained. */
  readonly state: JobState;
  readonly exitCode?: number;
  readonly ms: number;
}

/** What `Cluster.migrate` did (or, with `dryRun`, would do), with per-service moves and phase timings. */
export interface MigrationResult {
  readonly cluster: string;
  readonly dryRun: boolean;
  /** True when this call rolled the migration back: `terminated` lists the target VMs removed. */
  readonly rolledBack?: boolean;
  readonly plan: MigrationPlan;
  /** Target VMs launched (their names as the clouds gave them). */
  readonly created: readonly string[];
  /** Source VMs terminated. */
  readonly terminated: readonly string[];
  readonly services: readonly ServiceMove[];
  /** Batch jobs that ran on the source (Slurm). */
  readonly jobs?: readonly JobMove[];
  /** Managers once it ended, and the leader. */
  readonly managers: readonly string[];
  readonly leader?: string;
  readonly phases: readonly PhaseTiming[];
  readonly durationMs: number;
  /** Milliseconds of the target's provisioning (the part `apply` of the target pool alone would take). */
  readonly provisionMs: number;
}
