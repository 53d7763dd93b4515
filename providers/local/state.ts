import { readFile, readlink, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { inCidr } from '../../src/util/ipv4.js';
import { ipv4CidrWithin, PRIVATE_IPV4_RANGES } from '../../src/util/net.js';
import { bridgeName, isVmDirName, netnsName } from './paths.js';

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
  /** Host-side shell waiting for the user-data (it writes user-data.exit), or for the per-boot scripts of a restart. */
  readonly userDataPid?: number;
  /** Set by a stop (stopInstances): the VM's processes are gone, its disk and address stay until it starts again. */
  readonly stoppedAt?: string;
}

export const recordPath = (dir: string): string => join(dir, 'vm.json');

const safeName = z.string().refine(isVmDirName, 'not a DNS label');
const pid = z.number().int().min(2).max(4_194_304);
const cidr = z.string().refine((c) => PRIVATE_IPV4_RANGES.some((r) => ipv4CidrWithin(c, r)), 'not a private IPv4 CIDR');

/** vm.json as it must be; every value the provider later kills, releases or builds a path from is checked. */
const VmRecordSchema = z
  .object({
    id: z.string(),
    name: safeName,
    hostname: z.optional(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/)),
    cluster: safeName,
    tags: z.record(z.string(), z.string()),
    ip: z.string(),
    cidr,
    bridge: z.string(),
    idempotencyToken: z.string().max(256),
    userDataSha256: z.string().regex(/^[0-9a-f]{64}$/),
    createdAt: z.iso.datetime(),
    anchorPid: z.optional(pid),
    userDataPid: z.optional(pid),
    stoppedAt: z.optional(z.iso.datetime()),
  })
  .strict()
  .refine((r) => inCidr(r.ip, r.cidr), { path: ['ip'], message: 'not an IPv4 address inside cidr' })
  .refine((r) => r.id === netnsName(r.cluster, r.name), { path: ['id'], message: 'not the netns of cluster/name' })
  .refine((r) => r.bridge === bridgeName(r.cluster), { path: ['bridge'], message: "not the cluster's bridge" });

/**
 * The record of the VM in `dir` (`<stateRoot>/<cluster>/<node>`); undefined when it is missing, unreadable or
 * invalid in any value, or names another cluster or node than its place: the provider then treats the VM dir
 * as one without a record (cleaned by name, nothing taken from the file).
 */
export async function readRecord(dir: string): Promise<VmRecord | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(recordPath(dir), 'utf8'));
  } catch {
    return undefined;
  }
  return parseRecord(raw, basename(dirname(dir)), basename(dir));
}

/** Validates a parsed vm.json against the cluster and node whose dir it sits in. */
export function parseRecord(raw: unknown, cluster: string, node: string): VmRecord | undefined {
  const parsed = VmRecordSchema.safeParse(raw);
  if (!parsed.success || parsed.data.cluster !== cluster || parsed.data.name !== node) return undefined;
  return parsed.data as VmRecord;
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
