export type { SimCredentials } from './core/credentials.js';
export type {
  ConnectionFaultKind,
  FaultRule,
  IngressRule,
  InventoryItem,
  Meter,
  RateLimitSettings,
  SimCloud,
  SimSettings,
  VmBacking,
  VmNetworkView,
} from './core/types.js';
export {
  backingVmName,
  createLocalVmBacking,
  type LocalVmBacking,
  type LocalVmBackingOptions,
} from './local-backing.js';
export { type CloudSim, type CloudSimOptions, startCloudSim } from './server.js';
