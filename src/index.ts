/**
 * skypool: one cluster API over AWS, Azure, GCP and a local provider, joined into one scheduling pool.
 * Importing this module loads no cloud SDK; providers load lazily by name.
 */

export type {
  ApplyResult,
  BatchJobSpec,
  ClusterOptions,
  ClusterStatus,
  DestroyResult,
  DrainResult,
  EngineApiCaRotation,
  EngineNodeSummary,
  InlineTarget,
  JobMove,
  JobState,
  JobStatus,
  MigrateOptions,
  MigrationPlan,
  MigrationResult,
  NodeProgressState,
  NodeStatus,
  PhaseName,
  PhaseTiming,
  PoolMapping,
  PricedPool,
  ProgressEvent,
  RotateCaResult,
  ServiceMove,
  Workload,
  WorkloadSpec,
  WorkloadStatus,
  WorkloadTask,
} from './cluster/index.js';
export { Cluster } from './cluster/index.js';
export { type EngineModule, loadEngine } from './engines/registry.js';
export type {
  BootstrapInput,
  EngineClientTls,
  EngineDriver,
  EngineEndpoint,
  EngineFactory,
  EngineNode,
  EngineNodeState,
  EngineSettings,
  HostRequirements,
  JobEngine,
  JoinTokens,
  NodeAvailability,
  NodeExec,
  PublishMode,
  ServiceEngine,
  WorkloadKind,
} from './engines/types.js';
export * from './errors.js';
export type { VolumeApi } from './fabric/volumes.js';
export { LOG_REDACT_PATHS, redactingLogger } from './log.js';
export type { OutsidePool, Plan, PlannedCreate, PlannedDelete } from './plan.js';
export { computePlan } from './plan.js';
export {
  type ChooseOptions,
  type CloudPrices,
  type CostEstimate,
  chooseInstanceType,
  estimateCost,
  HOURS_PER_MONTH,
  hourlyPrice,
  type PoolCost,
  PRICE_CATALOG,
  type PriceCatalog,
  type PricedCloud,
  type TypeChoice,
  type TypeShape,
} from './pricing/index.js';
export { loadProvider } from './providers/registry.js';
export type {
  ExecOptions,
  ExecResult,
  Instance,
  InstanceState,
  LaunchRequest,
  ListOptions,
  LocationOptions,
  NetworkRef,
  NodeLaunch,
  OwnershipTags,
  Provider,
  ProviderSettings,
  RegionWaitOptions,
  UserDataResult,
  WaitOptions,
} from './providers/types.js';
export { TAG_KEYS } from './providers/types.js';
export {
  ProvisioningQueue,
  type ProvisioningQueueOptions,
  type QueueEvent,
  type QueueLimits,
} from './queue/provisioning-queue.js';
export { redact } from './redact.js';
export * from './spec/index.js';
