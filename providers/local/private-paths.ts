import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CREATED_MOUNT_POINTS_FILE } from './paths.js';

/** Paths a cloud VM owns on its own disk; each local VM gets a private copy bind-mounted from its VM dir. */
export const PRIVATE_DIRS = [
  '/etc/docker',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/etc/skypool',
  '/var/lib/skypool',
  '/var/log/skypool',
  // cloud-init's state: scripts in scripts/per-boot run again at every start (see startPerBoot).
  '/var/lib/cloud',
] as const;
export const PRIVATE_FILES = ['/etc/hostname', '/etc/hosts'] as const;

/** Where the VM's private copy of a host path lives. */
export const privatePath = (dir: string, hostPath: string): string => join(dir, 'fs', hostPath);

/**
 * Creates the host-side mount points the VMs bind over when the host lacks them (a cloud image has them, a
 * developer machine may not), and remembers which ones it made so teardown can remove exactly those.
 */
export async function ensureHostMountPoints(): Promise<void> {
  const created: string[] = [];
  for (const dir of PRIVATE_DIRS) {
    const first = await mkdir(dir, { recursive: true });
    if (first) created.push(first);
  }
  for (const file of PRIVATE_FILES) {
    try {
      await writeFile(file, '', { flag: 'wx' });
      created.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if (created.length === 0) return;
  const path = CREATED_MOUNT_POINTS_FILE;
  await mkdir(dirname(path), { recursive: true });
  const before = JSON.parse(await readFile(path, 'utf8').catch(() => '[]')) as string[];
  await writeFile(path, JSON.stringify([...new Set([...before, ...created])]));
}

/** Files of the VM dir that become the VM's private paths; /etc/hosts names the VM like a cloud image would. */
export async function writePrivateFiles(dir: string, node: string, ip: string): Promise<void> {
  for (const path of PRIVATE_DIRS) await mkdir(privatePath(dir, path), { recursive: true });
  await writeFile(privatePath(dir, '/etc/hostname'), `${node}\n`);
  await writeFile(
    privatePath(dir, '/etc/hosts'),
    `127.0.0.1\tlocalhost\n${ip}\t${node}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
}
