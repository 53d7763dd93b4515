import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** One place for the address checks skypool makes: loopback hosts, IPv4 CIDRs and membership. */

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

export interface Ipv4Cidr {
  readonly address: string;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` (a bare address means /32); undefined when it is not an IPv4 CIDR. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0 || !isIPv4(address)) return undefined;
  if (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  return prefix <= 32 ? { address, prefix } : undefined;
}

/** True when `ip` is a valid dotted IPv4 address inside `cidr`. */
export function ipv4InCidr(ip: string, cidr: string): boolean {
  const range = parseIpv4Cidr(cidr);
  if (!range || !isIPv4(ip)) return false;
  const list = new BlockList();
  list.addSubnet(range.address, range.prefix, 'ipv4');
  return list.check(ip, 'ipv4');
}

/** True when every address of `inner` lies inside `outer` (both IPv4 CIDRs). */
export function ipv4CidrWithin(inner: string, outer: string): boolean {
  const a = parseIpv4Cidr(inner);
  const b = parseIpv4Cidr(outer);
  return !!a && !!b && a.prefix >= b.prefix && ipv4InCidr(a.address, outer);
}

/** The private IPv4 ranges (RFC 1918): the only ones a cluster's own subnets come from. */
export const PRIVATE_IPV4_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;
