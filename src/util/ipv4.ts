/**
 * The one IPv4/CIDR helper of the core and the provider adapters (the simulated clouds in src/cloudsim keep their
 * own parsers: they reproduce each cloud's validation errors, which is a different job).
 */

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** True for a dotted-quad IPv4 address with every octet 0-255. */
export function isIpv4(text: string): boolean {
  const m = DOTTED.exec(text);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

/** The address as a 32-bit unsigned number (no validation: check with isIpv4 first where input is untrusted). */
export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Ipv4Cidr {
  /** The prefix length. */
  readonly bits: number;
  /** First address of the block (the network address), as a number. */
  readonly start: number;
  /** Number of addresses in the block. */
  readonly size: number;
}

/** Parses `a.b.c.d/n` (a bare address is a /32); undefined when it is not an IPv4 CIDR. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const [base, bitsText = '32', extra] = text.split('/');
  if (extra !== undefined || !base || !isIpv4(base) || !/^\d{1,2}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  return { bits, start: Math.floor(ipv4ToInt(base) / size) * size, size };
}

/** True when `ip` is an IPv4 address inside `cidr`. */
export function inCidr(ip: string, cidr: string): boolean {
  const block = parseCidr(cidr);
  if (!block || !isIpv4(ip)) return false;
  const n = ipv4ToInt(ip);
  return n >= block.start && n < block.start + block.size;
}

/** The addresses at the given offsets of the block (negative offsets count from its end: -1 = broadcast). */
export function addressesAt(cidr: string, offsets: readonly number[]): string[] {
  const block = parseCidr(cidr);
  if (!block) return [];
  return offsets.map((o) => intToIpv4(block.start + (o < 0 ? block.size + o : o)));
}
