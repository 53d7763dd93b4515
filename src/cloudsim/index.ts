export type {
  FaultRule,
  InventoryItem,
  Meter,
  RateLimitSettings,
  SimCloud,
  SimSettings,
  VmBacking,
} from './core/types.js';
export {
  backingVmName,
  createLocalVmBacking,
  type LocalVmBacking,
  type LocalVmBackingOptions,
} from './local-backing.js';
export { type CloudSim, type CloudSimOptions, startCloudSim } from './server.js';
