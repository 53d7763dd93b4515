import { readFile, readlink, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What `<vm dir>/vm.json` holds: the whole state of a local VM, next to the VM itself. */
export interface VmRecord {
  readonly id: string;
  readonly name: string;
  /** The VM's hostname when it is not its name (a cloudsim-backed VM is named after the cloud's id). */
  readonly hostname?: string;
  readonly cluster: string;
  /** Ownership tags as a TAG_KEYS record, exactly as a cloud would store them. */
  readonly tags: Readonly<Record<string, string>>;
  readonly ip: string;
  readonly cidr: string;
  readonly bridge: string;
  readonly idempotencyToken: string;
  /** sha256 of the user-data: a request with another token but the same bytes is the same request. */
  readonly userDataSha256: string;
  readonly createdAt: string;
  /** Process that holds the VM's UTS and mount namespaces; absent while the VM is being created. */
  readonly anchorPid?: number;
  /** Host-side shell waiting for the user-data (it writes user-data.exit). */
  readonly userDataPid?: number;
}

export const recordPath = (dir: string): string => join(dir, 'vm.json');

export async function readRecord(dir: string): Promise<VmRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(dir), 'utf8')) as VmRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(dir: string, record: VmRecord): Promise<void> {
  const tmp = `${recordPath(dir)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, recordPath(dir));
}

/** `net:[inode]` of a named network namespace, or undefined when it does not exist. */
export async function netnsLink(id: string): Promise<string | undefined> {
  try {
    const st = await stat(`/run/netns/${id}`, { bigint: true });
    const parent = await stat('/run/netns', { bigint: true });
    // A leftover plain file (crash between umount and unlink) is on the parent's device, not an nsfs mount.
    return st.dev !== parent.dev ? `net:[${st.ino}]` : undefined;
  } catch {
    return undefined;
  }
}

/** The VM is alive when its anchor process still sits in the VM's named network namespace. */
export async function isAlive(record: VmRecord | undefined): Promise<boolean> {
  if (!record?.anchorPid) return false;
  const want = await netnsLink(record.id);
  const have = await readlink(`/proc/${record.anchorPid}/ns/net`).catch(() => undefined);
  return want !== undefined && have === want;
}
