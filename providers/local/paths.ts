import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** Where VM directories live unless settings say otherwise. */
export const DEFAULT_STATE_ROOT = '/run/skypool/local';

export const NETNS_PREFIX = 'skypool-';

const hex = (value: string): string => createHash('sha256').update(value).digest('hex');

/** Network namespace of a VM; also the VM's provider id. */
export const netnsName = (cluster: string, node: string): string => `${NETNS_PREFIX}${cluster}-${node}`;

/** Linux interface names are at most 15 characters, so cluster and VM names are hashed into them. */
export const bridgeName = (cluster: string): string => `spbr-${hex(cluster).slice(0, 8)}`;
export const hostVethName = (cluster: string, node: string): string => `spv${hex(`${cluster}/${node}`).slice(0, 12)}`;

/** First byte of the cluster hash: where the search for a free /24 starts. */
export const subnetSeed = (cluster: string): number => parseInt(hex(cluster).slice(0, 2), 16);

export const clusterDir = (stateRoot: string, cluster: string): string => join(stateRoot, cluster);
export const vmDir = (stateRoot: string, cluster: string, node: string): string => join(stateRoot, cluster, node);
/** One file per claimed address, created with O_EXCL so parallel launches never share an address. */
export const ipClaimDir = (stateRoot: string, cluster: string): string => join(stateRoot, cluster, '.ips');
/**
 * Host paths this provider had to create as mount points, removed when the last VM on the host is gone. One
 * file per host, not per state root: VMs of every state root share these mount points.
 */
export const HOST_STATE_DIR = '/run/skypool';
export const CREATED_MOUNT_POINTS_FILE = join(HOST_STATE_DIR, 'created-mount-points.json');

/** The cgroup parent the user-data gives dockerd: container cgroups of a VM are named after its hostname. */
export const cgroupPrefix = (node: string): string => `skypool-${node}`;

/** Names are DNS labels (validated by the spec) so they never contain `/` or start with `.`. */
export const isVmDirName = (name: string): boolean => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name);
