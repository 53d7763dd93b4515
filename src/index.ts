/**
 * skypool: one cluster API over AWS, Azure, GCP and a local provider, joined into one scheduling pool.
 * Importing this module loads no cloud SDK; providers load lazily by name.
 */
export * from './errors.js';
export * from './spec/index.js';
export type { Provider, Instance, InstanceState, NetworkRef, LaunchRequest, NodeLaunch, OwnershipTags, WaitOptions, ProviderSettings } from './providers/types.js';
export { TAG_KEYS } from './providers/types.js';
export { loadProvider } from './providers/registry.js';
export { Cluster } from './cluster/index.js';
export type {
  ApplyResult,
  ClusterOptions,
  ClusterStatus,
  DestroyResult,
  NodeStatus,
  ProgressEvent,
  WorkloadSpec,
  WorkloadStatus,
  WorkloadTask,
  DrainResult,
} from './cluster/index.js';
export type { Plan, PlannedCreate, PlannedDelete } from './plan.js';
export { computePlan } from './plan.js';
export { ProvisioningQueue, type QueueEvent, type QueueLimits } from './queue/provisioning-queue.js';
export { redact } from './redact.js';
