export { startCloudSim, type CloudSim, type CloudSimOptions } from './server.js';
export type { FaultRule, InventoryItem, SimCloud, SimSettings, VmBacking } from './core/types.js';
export { createLocalVmBacking, backingVmName, type LocalVmBacking, type LocalVmBackingOptions } from './local-backing.js';
