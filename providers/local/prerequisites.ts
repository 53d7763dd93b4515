import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PrerequisiteError } from '../../src/errors.js';

/** Debian package that provides each command the local provider (or an engine on top of it) runs on the host. */
export const PACKAGE_OF: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  dockerd: 'docker.io',
  docker: 'docker.io',
  containerd: 'containerd',
  iptables: 'iptables',
  busybox: 'busybox-static',
};

export const BASE_COMMANDS = ['ip', 'nsenter', 'unshare', 'mount'] as const;

export function onPath(command: string): boolean {
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  // The same sbin directories exec.ts adds to the PATH of host commands.
  for (const dir of [...dirs, '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/**
 * Throws one PrerequisiteError naming everything missing: the platform, root, and the Debian packages for the
 * commands. Engines pass their own extra commands (e.g. `dockerd`, `docker`).
 */
export function checkLocalPrerequisites(commands: readonly string[] = []): void {
  if (process.platform !== 'linux') {
    throw new PrerequisiteError('the local provider needs Linux namespaces: run as root on Linux', {
      platform: process.platform,
    });
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PrerequisiteError(
      'the local provider creates network namespaces and bridges: run as root on Linux (e.g. sudo)',
      { uid: process.getuid() },
    );
  }
  const wanted = [...new Set([...BASE_COMMANDS, ...commands])];
  const missing = wanted.filter((c) => !onPath(c));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((c) => PACKAGE_OF[c] ?? c))];
    throw new PrerequisiteError(
      `the local provider needs ${missing.join(', ')} on the host: install them with ` +
        `"apt-get install -y ${packages.join(' ')}" (or run "npm run prelude" as root)`,
      { missing, packages },
    );
  }
}
