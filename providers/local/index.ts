/**
 * The local provider: each "VM" is a set of Linux namespaces (network + UTS + mount) on a bridge owned by the
 * cluster, with no NAT and no default route, so nothing leaves the machine. Needs root on Linux.
 *
 * A VM runs its user-data like cloud-init runs a script: the user-data must start with `#!` (cloud-config
 * documents are refused with an EngineError). Inside, the VM has its own hostname, address, /run, /tmp, /dev/shm and
 * private copies of /etc/docker, /var/lib/docker, /var/lib/containerd, /etc/skypool, /var/lib/skypool,
 * /var/log/skypool, /etc/hostname and /etc/hosts; the rest of the host's filesystem is shared read-write.
 * VMs outlive the process that made them (`up` and `down` are separate processes); state lives in
 * `<stateRoot>/<cluster>/<node>/` next to the namespaces themselves.
 */
import { DEFAULT_STATE_ROOT, vmDir } from './paths.js';
import { LocalProvider, type LocalProviderSettings } from './provider.js';
import { readUserDataFiles, type UserDataResult } from './user-data.js';

export { cleanupLocalCluster, type TeardownOptions } from './cleanup.js';
export type { RunOptions, RunResult } from './exec.js';
export { inSubnet } from './network.js';
export { bridgeName, DEFAULT_STATE_ROOT, netnsName } from './paths.js';
export { checkLocalPrerequisites } from './prerequisites.js';
export {
  type LocalLaunchRequest,
  type LocalNodeLaunch,
  LocalProvider,
  type LocalProviderSettings,
} from './provider.js';
export { cleanupTracked, installCleanupOnSignals, trackCleanup } from './signals.js';
export type { VmRecord } from './state.js';
export type { UserDataResult } from './user-data.js';

export function createProvider(settings: LocalProviderSettings = {}): LocalProvider {
  return new LocalProvider(settings);
}

/** Output and exit code of a VM's user-data so far; poll it with a deadline and show `log` in errors. */
export function readUserDataResult(
  cluster: string,
  node: string,
  stateRoot: string = DEFAULT_STATE_ROOT,
): Promise<UserDataResult> {
  return readUserDataFiles(vmDir(stateRoot, cluster, node));
}
