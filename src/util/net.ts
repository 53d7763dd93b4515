import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { parseCidr } from './ipv4.js';

/** Host checks skypool makes before it talks to an endpoint (IPv4 arithmetic lives in ./ipv4.ts). */

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed): hosts whose traffic never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIPv4(h)) return LOOPBACK.check(h, 'ipv4');
  if (isIPv6(h)) return LOOPBACK.check(h, 'ipv6');
  return false;
}

/** True when every address of `inner` lies inside `outer` (both IPv4 CIDRs). */
export function ipv4CidrWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  return !!a && !!b && a.bits >= b.bits && a.start >= b.start && a.start + a.size <= b.start + b.size;
}

/** The private IPv4 ranges (RFC 1918): the only ones a cluster's own subnets come from. */
export const PRIVATE_IPV4_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;
