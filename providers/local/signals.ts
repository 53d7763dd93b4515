import { removeClusterDir, teardownVm, vmNames } from './cleanup.js';
import { deleteBridge } from './network.js';

/** What this process created: VMs as `<stateRoot>\0<cluster>\0<node>`, bridges as `<stateRoot>\0<cluster>`. */
const vms = new Set<string>();
const networks = new Set<string>();
/** Other things this process made that must go after its VMs (cloudsim's realistic network). */
const others = new Set<() => Promise<void>>();

/** Registers (or, with `active` false, forgets) a cleanup that a signal runs after removing the VMs. */
export function trackCleanup(cleanup: () => Promise<void>, active: boolean): void {
  if (active) others.add(cleanup);
  else others.delete(cleanup);
}

export function trackVm(stateRoot: string, cluster: string, node: string, created: boolean): void {
  const key = [stateRoot, cluster, node].join('\0');
  if (created) vms.add(key);
  else vms.delete(key);
}

export function trackNetwork(stateRoot: string, cluster: string, created: boolean): void {
  const key = [stateRoot, cluster].join('\0');
  if (created) networks.add(key);
  else networks.delete(key);
}

/** Tears down the VMs and bridges this process created (used on Ctrl-C / SIGTERM), not older ones. */
export async function cleanupTracked(): Promise<void> {
  await Promise.allSettled(
    [...vms].map(async (key) => {
      const [stateRoot = '', cluster = '', node = ''] = key.split('\0');
      await teardownVm(stateRoot, cluster, node, { graceMs: 2_000 });
      vms.delete(key);
    }),
  );
  for (const key of [...networks]) {
    const [stateRoot = '', cluster = ''] = key.split('\0');
    if ((await vmNames(stateRoot, cluster)).length > 0) continue; // VMs from earlier runs still use it
    await deleteBridge(cluster).catch(() => undefined);
    await removeClusterDir(stateRoot, cluster).catch(() => undefined);
    networks.delete(key);
  }
  for (const cleanup of [...others]) {
    await cleanup().catch(() => undefined);
    others.delete(cleanup);
  }
}

let uninstall: (() => void) | undefined;

/**
 * Makes Ctrl-C (SIGINT) and SIGTERM remove the local VMs and bridges this process created, then exit with
 * 128 + signal number. VMs are detached on purpose (they outlive a successful `skypool up`), so an interrupted
 * process would otherwise leave half a cluster behind. A second signal exits at once. Returns an uninstaller.
 */
export function installCleanupOnSignals(): () => void {
  if (uninstall) return uninstall;
  let cleaning = false;
  const handler = (sig: NodeJS.Signals): void => {
    const code = 128 + (sig === 'SIGINT' ? 2 : 15);
    if (cleaning) process.exit(code);
    cleaning = true;
    process.stderr.write(`skypool: ${sig}: removing the local VMs this process created (press Ctrl-C again to skip)\n`);
    void cleanupTracked().finally(() => process.exit(code));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  uninstall = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    uninstall = undefined;
  };
  return uninstall;
}
