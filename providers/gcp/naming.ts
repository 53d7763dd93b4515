import { createHash } from 'node:crypto';
import { addressesAt } from '../../src/util/ipv4.js';

/**
 * Names and ownership marks of the network resources skypool creates on Compute Engine. Networks, subnetworks
 * and firewall rules have no labels in compute/v1, so ownership is carried twice: a deterministic name
 * (`skypool-<cluster>...`, which makes creation idempotent and lets ensureNetwork find them by name) and a
 * description holding the ownership labels as JSON (checked before reusing or deleting a same-named resource).
 */
export const OWNER_PREFIX = 'skypool:';

export const networkName = (cluster: string) => `skypool-${cluster}`;
export const subnetName = (cluster: string, region: string) =>
  `skypool-${cluster}-${region}`.slice(0, 63).replace(/-+$/, '');
export const internalFirewallName = (cluster: string) => `skypool-${cluster}-internal`;
export const engineFirewallName = (cluster: string) => `skypool-${cluster}-engine-api`;
/** The fabric's WireGuard port (51820/udp) from anywhere: nodes of other clouds peer over public addresses. */
export const fabricFirewallName = (cluster: string) => `skypool-${cluster}-fabric`;
export const FABRIC_PORT = 51820;
/** Network tag on every VM of the cluster; firewall rules target it. */
export const networkTag = (cluster: string) => `skypool-${cluster}`;

export function ownerDescription(labels: Record<string, string>): string {
  return `${OWNER_PREFIX}${JSON.stringify(labels)}`;
}

export function ownerLabels(description: string | null | undefined): Record<string, string> | undefined {
  if (!description?.startsWith(OWNER_PREFIX)) return undefined;
  try {
    return JSON.parse(description.slice(OWNER_PREFIX.length)) as Record<string, string>;
  } catch {
    return undefined;
  }
}

/**
 * A requestId (Compute Engine wants a UUID) derived from skypool's idempotency token and what it is for, in
 * the UUIDv5 layout, so the same token always yields the same requestId and different calls never share one.
 */
export function requestIdFor(token: string, ...scope: string[]): string {
  const h = createHash('sha256')
    .update([token, ...scope].join('\n'))
    .digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The cluster's subnet range when none is configured: a /20 in 10.0.0.0/9 picked from the cluster name (each
 * cluster has its own VPC, so ranges of different clusters may overlap; stable ranges help peering).
 */
export function defaultSubnetCidr(cluster: string, region: string): string {
  const h = createHash('sha256').update(`${cluster}\n${region}`).digest();
  const second = h[0]! % 128;
  const third = (h[1]! % 16) * 16;
  return `10.${second}.${third}.0/20`;
}

/** Addresses Compute Engine keeps in every subnet: network, gateway, second-to-last, broadcast. */
export function reservedAddresses(cidr: string): string[] {
  return addressesAt(cidr, [0, 1, -2, -1]);
}
