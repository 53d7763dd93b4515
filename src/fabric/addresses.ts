import { SkypoolError } from '../errors.js';
import { intToIpv4, ipv4ToInt, isIpv4, parseCidr } from '../util/ipv4.js';

/** The cluster's fabric range (RFC 6598 shared address space): no cloud hands these out as private addresses. */
export const FABRIC_RANGE = '100.64.0.0/10';
/** The optional ownership tag recording a cloud network's fabric /16 on each of its instances. */
export const FABRIC_TAG = 'skypool-fabric';
/** The fabric's WireGuard UDP port on every node. */
export const FABRIC_PORT = 51820;
/** Each cloud network (provider + region) gets one /16 of the range: 64 networks per cluster. */
export const FABRIC_NETWORK_BITS = 16;

const RANGE = parseCidr(FABRIC_RANGE)!;
const NETWORK_SIZE = 2 ** (32 - FABRIC_NETWORK_BITS);
const NETWORKS = RANGE.size / NETWORK_SIZE;

function invalid(message: string, details: Record<string, unknown>): SkypoolError {
  return new SkypoolError('INTERNAL', message, { details });
}

/** The fabric /16 a CIDR names (`100.65.0.0/16`), or an error when it is not one /16 of the range. */
function fabricNetwork(prefixCidr: string): number {
  const block = parseCidr(prefixCidr);
  if (
    !block ||
    block.bits !== FABRIC_NETWORK_BITS ||
    block.start < RANGE.start ||
    block.start >= RANGE.start + RANGE.size ||
    !prefixCidr.startsWith(`${intToIpv4(block.start)}/`)
  ) {
    throw invalid(`"${prefixCidr}" is not a /${FABRIC_NETWORK_BITS} network of the fabric range ${FABRIC_RANGE}`, {
      prefix: prefixCidr,
    });
  }
  return block.start;
}

/**
 * The lowest /16 of the fabric range no network of the cluster uses yet (`100.(64+k).0.0/16`, k lowest free).
 * `existing` are the prefixes in use (the `skypool-fabric` tags of the cluster's instances); malformed ones are
 * ignored so that a tag edited by hand cannot block allocation. Throws when all 64 are taken.
 */
export function fabricPrefixFor(existing: Iterable<string>): string {
  const used = new Set<number>();
  for (const prefix of existing) {
    try {
      used.add(fabricNetwork(prefix));
    } catch {
      // not a fabric prefix: ignored
    }
  }
  for (let k = 0; k < NETWORKS; k++) {
    const start = RANGE.start + k * NETWORK_SIZE;
    if (!used.has(start)) return `${intToIpv4(start)}/${FABRIC_NETWORK_BITS}`;
  }
  throw new SkypoolError(
    'CAPACITY_UNAVAILABLE',
    `all ${NETWORKS} fabric networks of ${FABRIC_RANGE} are in use: a cluster spans at most ${NETWORKS} cloud networks`,
    { details: { range: FABRIC_RANGE } },
  );
}

/** The shell form of a prefix the boot script takes (`100.65`): its first two octets. */
export function fabricPrefixOctets(prefixCidr: string): string {
  return intToIpv4(fabricNetwork(prefixCidr)).split('.').slice(0, 2).join('.');
}

/**
 * A node's fabric address: the network's /16 plus the low 16 bits of its private IPv4 (cloud subnets are /16 or
 * smaller, so it is unique inside the network). templates/common/fabric.sh computes the same at boot.
 */
export function fabricIpOf(prefixCidr: string, privateIp: string): string {
  const start = fabricNetwork(prefixCidr);
  if (!isIpv4(privateIp)) throw invalid(`"${privateIp}" is not an IPv4 address`, { privateIp });
  return intToIpv4(start + (ipv4ToInt(privateIp) % NETWORK_SIZE));
}
