/** IPv4 as unsigned 32-bit numbers: cheap to store per instance and to allocate from. */

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function parseIp(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export const formatIp = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** Parses `a.b.c.d/n`; undefined when malformed or when host bits are set (EC2 refuses both). */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, bits, ...rest] = text.split('/');
  if (rest.length || !ip || !bits || !/^\d{1,2}$/.test(bits)) return undefined;
  const base = parseIp(ip);
  const prefix = Number(bits);
  if (base === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined;
  return { base, prefix, size };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.base)}/${c.prefix}`;
export const contains = (outer: Cidr, ip: number): boolean => ip >= outer.base && ip < outer.base + outer.size;
export const within = (outer: Cidr, inner: Cidr): boolean =>
  inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
export const overlaps = (a: Cidr, b: Cidr): boolean => a.base < b.base + b.size && b.base < a.base + a.size;

/** AWS keeps the first four addresses of a subnet and its last one. */
export const isReserved = (subnet: Cidr, ip: number): boolean =>
  ip - subnet.base < 4 || ip === subnet.base + subnet.size - 1;
