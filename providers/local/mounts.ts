import { readdir, readFile, readlink } from 'node:fs/promises';

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: readonly string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescapeMountField = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

export async function readMountInfo(pid: number | 'self' = 'self'): Promise<MountEntry[]> {
  const text = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left = '', right = ''] = line.split(' - ');
    const fields = left.split(' ');
    const [fsType = '', source = '', superOpts = ''] = right.split(' ');
    entries.push({
      mountPoint: unescapeMountField(fields[4] ?? ''),
      fsType,
      source: unescapeMountField(source),
      superOptions: superOpts.split(','),
    });
  }
  return entries;
}

/** The host's cgroup hierarchies (v1 and v2), in mount order: where dockerd in a VM puts container cgroups. */
export async function hostCgroupMounts(): Promise<MountEntry[]> {
  return (await readMountInfo()).filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2');
}

/**
 * Shell lines that rebuild the host's /sys/fs/cgroup layout inside a VM: `ip netns exec` mounts a fresh sysfs
 * where /sys/fs/cgroup is empty, and dockerd refuses to start without the devices controller. Mounting a v1
 * hierarchy with the same options attaches to the host's existing one, so the host sees the VM's cgroups.
 */
export async function cgroupSetupLines(): Promise<string[]> {
  const mounts = (await readMountInfo()).filter(
    (m) => m.mountPoint === '/sys/fs/cgroup' || m.mountPoint.startsWith('/sys/fs/cgroup/'),
  );
  const lines: string[] = [];
  for (const m of mounts) {
    const mp = m.mountPoint;
    if (!/^[A-Za-z0-9/_.,=-]+$/.test(mp)) continue; // odd names are not cgroup hierarchies we need
    if (m.fsType === 'tmpfs') lines.push(`mount -t tmpfs -o mode=755,nosuid,nodev,noexec cgroup ${mp}`);
    else if (m.fsType === 'cgroup2') lines.push(`mkdir -p ${mp} && mount -t cgroup2 cgroup2 ${mp}`);
    else if (m.fsType === 'cgroup') {
      const opts = m.superOptions.filter((o) => o !== 'rw' && o !== 'ro' && /^[A-Za-z0-9_=,.-]+$/.test(o));
      const hasController = opts.some((o) => !o.startsWith('name=') && o !== 'xattr' && !o.startsWith('release_agent'));
      lines.push(
        `mkdir -p ${mp} && mount -t cgroup -o ${(hasController ? opts : ['none', ...opts]).join(',')} cgroup ${mp}`,
      );
    }
  }
  // Hybrid hosts link joined controllers (cpu -> cpu,cpuacct); tools look them up by either name.
  if (mounts.some((m) => m.mountPoint === '/sys/fs/cgroup' && m.fsType === 'tmpfs')) {
    for (const entry of await readdir('/sys/fs/cgroup', { withFileTypes: true }).catch(() => [])) {
      if (!entry.isSymbolicLink() || !/^[A-Za-z0-9_.,=-]+$/.test(entry.name)) continue;
      const target = await readlink(`/sys/fs/cgroup/${entry.name}`);
      if (/^[A-Za-z0-9_.,=/-]+$/.test(target)) lines.push(`ln -sfn ${target} /sys/fs/cgroup/${entry.name}`);
    }
  }
  return lines;
}
