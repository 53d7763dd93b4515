/**
 * The local provider: each "VM" is a set of Linux namespaces (network + UTS + mount) on a bridge owned by the
 * cluster, with no NAT and no default route, so nothing leaves the machine. Needs root on Linux.
 */
import { LocalProvider, type LocalProviderSettings } from './provider.js';
import { DEFAULT_STATE_ROOT } from './paths.js';
import { vmDir } from './paths.js';
import { readUserDataFiles, type UserDataResult } from './vm.js';

export { LocalProvider, type LocalProviderSettings } from './provider.js';
export { checkLocalPrerequisites } from './prerequisites.js';
export { cleanupLocalCluster, type TeardownOptions } from './cleanup.js';
export { installCleanupOnSignals, cleanupTracked } from './signals.js';
export { DEFAULT_STATE_ROOT, netnsName, bridgeName } from './paths.js';
export type { UserDataResult, VmRecord } from './vm.js';
export type { RunResult } from './exec.js';

export function createProvider(settings: LocalProviderSettings = {}): LocalProvider {
  return new LocalProvider(settings);
}

/** Output and exit code of a VM's user-data so far; poll it with a deadline and show `log` in errors. */
export function readUserDataResult(cluster: string, node: string, stateRoot: string = DEFAULT_STATE_ROOT): Promise<UserDataResult> {
  return readUserDataFiles(vmDir(stateRoot, cluster, node));
}
