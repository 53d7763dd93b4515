import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { CapacityError, CloudApiError, TimeoutError } from '../../src/errors.js';
import type { NetworkRef } from '../../src/providers/types.js';
import { inCidr, parseCidr, intToIpv4 as toIp } from '../../src/util/ipv4.js';
import { delay, ipJson, run } from './exec.js';
import { bridgeName, ipClaimDir, isVmDirName, subnetSeed } from './paths.js';

/** Every cluster bridge gets a /24 out of this /16; none of it is ever routed off the machine. */
const POOL_PREFIX = '10.213';

interface IpRoute {
  dst: string;
  dev?: string;
}
interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}
interface IpLink {
  ifname: string;
  addr_info?: IpAddrInfo[];
}

/** First and last address of the block, as numbers. */
function range(cidr: string): [number, number] | undefined {
  const block = parseCidr(cidr);
  return block ? [block.start, block.start + block.size - 1] : undefined;
}

/** True when `ip` is an IPv4 address inside `cidr`. */
export const inSubnet = inCidr;

function subnetOf(index: number): string {
  return `${POOL_PREFIX}.${index}.0/24`;
}

/** A subnet on the cluster's bridge; the network address, the host's (first) address and the broadcast one are reserved. */
export function networkRef(cluster: string, cidr: string): NetworkRef {
  const [lo, hi] = range(cidr)!;
  return { id: bridgeName(cluster), cidr, reservedAddresses: [toIp(lo), toIp(lo + 1), toIp(hi)] };
}

/** Every IPv4 subnet on the bridge (first = the cluster's own), or undefined when the bridge does not exist. */
export async function bridgeSubnets(bridge: string): Promise<string[] | undefined> {
  const links = await ipJson<IpLink>(['addr', 'show', 'dev', bridge], { allowFailure: true });
  const link = links[0];
  if (!link) return undefined;
  return (link.addr_info ?? [])
    .filter((a) => a.family === 'inet')
    .map((a) => `${toIp(range(`${a.local}/${a.prefixlen}`)![0])}/${a.prefixlen}`);
}

/** The bridge's first IPv4 subnet, or undefined when the bridge does not exist; `null` when it exists without one yet. */
async function bridgeCidr(bridge: string): Promise<string | null | undefined> {
  const subnets = await bridgeSubnets(bridge);
  return subnets && (subnets[0] ?? null);
}

/** Ranges of the host's IPv4 routes on other devices than `bridge`: what a bridge subnet must not overlap. */
async function foreignRoutes(bridge: string): Promise<Array<{ dst: string; dev?: string; range: [number, number] }>> {
  const routes = await ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'all']);
  return routes
    .filter((r) => r.dev !== bridge)
    .flatMap((r) => {
      const span = range(r.dst);
      return span ? [{ ...r, range: span }] : [];
    });
}

/**
 * Finds the cluster's bridge or creates it with a /24 that no route on the host overlaps. Idempotent;
 * `created` tells whether this call made it.
 */
export async function ensureBridge(cluster: string): Promise<{ network: NetworkRef; created: boolean }> {
  const bridge = bridgeName(cluster);
  const existing = await bridgeCidr(bridge);
  if (existing) return { network: networkRef(cluster, existing), created: false };
  if (existing === undefined) {
    const made = await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'], { allowFailure: true });
    if (made.code !== 0 && !/exists/i.test(made.stderr)) {
      throw new CloudApiError(`could not create bridge ${bridge}: ${made.stderr.trim()}`, { bridge });
    }
    if (made.code !== 0) return { network: await waitForAddress(cluster, bridge), created: false }; // another process is setting it up
  }
  const taken = (await foreignRoutes(bridge)).map((r) => r.range);
  const seed = subnetSeed(cluster);
  for (let k = 0; k < 256; k++) {
    const cidr = subnetOf((seed + k) % 256);
    const [lo, hi] = range(cidr)!;
    if (taken.some(([a, b]) => a <= hi && lo <= b)) continue;
    await run('ip', ['addr', 'add', `${toIp(lo + 1)}/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', 'dev', bridge, 'up']);
    return { network: networkRef(cluster, cidr), created: true };
  }
  throw new CapacityError(
    `no free /24 left in ${POOL_PREFIX}.0.0/16 for the local bridge: delete unused local clusters`,
    { bridge },
  );
}

async function waitForAddress(cluster: string, bridge: string): Promise<NetworkRef> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const cidr = await bridgeCidr(bridge);
    if (cidr) return networkRef(cluster, cidr);
    await delay(50);
  }
  throw new TimeoutError(`bridge ${bridge} got no address within 10 s: run "skypool down" for the cluster and retry`, {
    bridge,
  });
}

/**
 * Puts another subnet on the cluster's bridge (creating a bridge without a subnet of its own if needed): the host
 * takes the subnet's first usable address, so it reaches VMs there. Refuses a subnet that overlaps a route of
 * the host on another device (another network would become unreachable). Idempotent; `created` tells whether
 * this call made the bridge.
 */
export async function attachSubnet(cluster: string, cidr: string): Promise<{ network: NetworkRef; created: boolean }> {
  const span = /^\d+\.\d+\.\d+\.\d+\/(\d|[12]\d|30)$/.test(cidr) ? range(cidr) : undefined;
  if (!span || toIp(span[0]) !== cidr.split('/')[0]) {
    throw new CloudApiError(
      `cannot attach "${cidr}" to a local bridge: give an IPv4 network address with a prefix of /30 or shorter, e.g. 10.0.1.0/24`,
      { cidr },
    );
  }
  const bridge = bridgeName(cluster);
  const subnets = await bridgeSubnets(bridge);
  if (subnets?.includes(cidr)) return { network: networkRef(cluster, cidr), created: false };
  const clash = (await foreignRoutes(bridge)).find((r) => r.range[0] <= span[1] && span[0] <= r.range[1]);
  if (clash) {
    throw new CloudApiError(
      `subnet ${cidr} overlaps the host route ${clash.dst}${clash.dev ? ` on ${clash.dev}` : ''}: give the simulated network another range`,
      { cidr, route: clash.dst, dev: clash.dev },
    );
  }
  let created = false;
  if (subnets === undefined) {
    const made = await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'], { allowFailure: true });
    if (made.code !== 0 && !/exists/i.test(made.stderr))
      throw new CloudApiError(`could not create bridge ${bridge}: ${made.stderr.trim()}`, { bridge });
    created = made.code === 0;
    await run('ip', ['link', 'set', 'dev', bridge, 'up']);
  }
  const add = await run('ip', ['addr', 'add', `${toIp(span[0] + 1)}/${cidr.split('/')[1]}`, 'dev', bridge], {
    allowFailure: true,
  });
  if (add.code !== 0 && !/exists/i.test(add.stderr))
    throw new CloudApiError(`could not add ${cidr} to bridge ${bridge}: ${add.stderr.trim()}`, { bridge, cidr });
  return { network: networkRef(cluster, cidr), created };
}

/** The cluster's bridge, if it exists. */
export async function findBridge(cluster: string): Promise<NetworkRef | undefined> {
  const cidr = await bridgeCidr(bridgeName(cluster));
  return cidr ? networkRef(cluster, cidr) : undefined;
}

export async function deleteBridge(cluster: string): Promise<void> {
  const bridge = bridgeName(cluster);
  const res = await run('ip', ['link', 'del', 'dev', bridge], { allowFailure: true });
  if (res.code !== 0 && !/cannot find|does not exist/i.test(res.stderr)) {
    throw new CloudApiError(`could not delete bridge ${bridge}: ${res.stderr.trim()}`, { bridge });
  }
}

/**
 * Claims an address for a node: the requested one, or the lowest free one in the subnet. The claim is a file
 * created with O_EXCL, so two launches (even from two processes) never get the same address.
 */
export async function claimAddress(
  stateRoot: string,
  cluster: string,
  network: NetworkRef,
  node: string,
  wanted?: string,
): Promise<string> {
  const dir = ipClaimDir(stateRoot, cluster);
  await mkdir(dir, { recursive: true });
  const [lo, hi] = range(network.cidr)!;
  const reserved = new Set(network.reservedAddresses ?? []);
  const candidates = wanted
    ? [wanted]
    : Array.from({ length: hi - lo + 1 }, (_, i) => toIp(lo + i)).filter((ip) => !reserved.has(ip));
  if (wanted) {
    // The address names the claim file: only a dotted IPv4 inside the subnet may become a path.
    if (!inSubnet(wanted, network.cidr) || reserved.has(wanted)) {
      throw new CloudApiError(
        `address ${wanted} for ${node} is outside ${network.cidr} or reserved: pick one in the subnet above .1`,
        { node, wanted },
      );
    }
  }
  for (const ip of candidates) {
    if (await tryClaim(dir, ip, node)) return ip;
    // A claim is stale when its owner has no VM dir (teardown releases the claim before removing the dir) or
    // is this very node (a leftover of its previous incarnation).
    const owner = (await readFile(join(dir, ip), 'utf8').catch(() => '')).trim();
    if (owner === node) return ip;
    if (owner && (!isVmDirName(owner) || !existsSync(join(stateRoot, cluster, owner)))) {
      await rm(join(dir, ip), { force: true });
      if (await tryClaim(dir, ip, node)) return ip;
    }
    // A cloud may hand a just-deleted VM's address on at once, while that VM is still being torn down here.
    if (wanted && owner && (await claimReleased(dir, ip, owner)) && (await tryClaim(dir, ip, node))) return ip;
    if (wanted)
      throw new CloudApiError(`address ${wanted} is already used by VM "${owner}" of the cluster: pick another`, {
        node,
        wanted,
        owner,
      });
  }
  throw new CapacityError(`no free address left in ${network.cidr}: remove VMs or use a new cluster`, {
    cidr: network.cidr,
  });
}

/** Waits up to 30 s for `owner` to release its claim on `ip` (teardown releases it first). */
async function claimReleased(dir: string, ip: string, owner: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const now = (await readFile(join(dir, ip), 'utf8').catch(() => '')).trim();
    if (now !== owner) return now === '';
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function tryClaim(dir: string, ip: string, node: string): Promise<boolean> {
  try {
    const fh = await open(join(dir, ip), 'wx');
    await fh.writeFile(node);
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  }
}

export async function releaseAddress(stateRoot: string, cluster: string, ip: string | undefined): Promise<void> {
  // Never a path from anything but a dotted IPv4 address: the value may come from a file on disk.
  if (ip && isIPv4(ip)) await rm(join(ipClaimDir(stateRoot, cluster), ip), { force: true });
}

/** Addresses claimed for nodes whose VM directory no longer exists (a crash between claim and teardown). */
export async function staleClaims(
  stateRoot: string,
  cluster: string,
  liveNodes: ReadonlySet<string>,
): Promise<string[]> {
  const dir = ipClaimDir(stateRoot, cluster);
  const files = await readdir(dir).catch(() => [] as string[]);
  const stale: string[] = [];
  for (const ip of files) {
    const owner = (await readFile(join(dir, ip), 'utf8').catch(() => '')).trim();
    if (!liveNodes.has(owner)) stale.push(ip);
  }
  return stale;
}
