/** IPv4 helpers for address spaces, subnets and NIC addresses (addresses kept as uint32 numbers). */
export interface Cidr {
  readonly base: number;
  readonly bits: number;
  readonly size: number;
}

export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIp(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

export function parseCidr(text: string): Cidr | undefined {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const ip = parseIp(match[1]!);
  const bits = Number(match[2]);
  if (ip === undefined || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  // Azure rejects prefixes whose host bits are set (10.0.0.5/24); treat them as invalid notation.
  if (ip % size !== 0) return undefined;
  return { base: ip, bits, size };
}

/** Any address range: a parsed CIDR or a subnet record. */
export interface Range {
  readonly base: number;
  readonly size: number;
}

export function contains(outer: Range, inner: Range): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

export function overlaps(a: Range, b: Range): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export function containsIp(cidr: Range, ip: number): boolean {
  return ip >= cidr.base && ip < cidr.base + cidr.size;
}
