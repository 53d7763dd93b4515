import { CapacityError } from '../errors.js';
import type { NetworkRef } from '../providers/types.js';

const toInt = (ip: string): number => ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
const toIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * Picks `count` free IPv4 addresses of the network for new nodes, lowest first: not the network or broadcast
 * address, not reserved by the provider, not used by an existing instance. Assigning them up front lets each
 * node's server certificate carry its IP before the VM exists.
 */
export function pickAddresses(network: NetworkRef, used: Iterable<string>, count: number): string[] {
  const [base, bitsText] = network.cidr.split('/');
  const bits = Number(bitsText ?? 32);
  if (!base || !/^\d+\.\d+\.\d+\.\d+$/.test(base) || !(bits >= 8 && bits <= 30)) {
    throw new CapacityError(
      `network ${network.id} has CIDR "${network.cidr}": skypool assigns node addresses only in IPv4 subnets /8 to /30`,
      { cidr: network.cidr },
    );
  }
  const size = 2 ** (32 - bits);
  const start = Math.floor(toInt(base) / size) * size;
  const taken = new Set<string>([...used, ...(network.reservedAddresses ?? []), toIp(start), toIp(start + size - 1)]);
  const picked: string[] = [];
  for (let n = start + 1; n < start + size - 1 && picked.length < count; n += 1) {
    const ip = toIp(n);
    if (!taken.has(ip)) picked.push(ip);
  }
  if (picked.length < count) {
    throw new CapacityError(
      `network ${network.cidr} has only ${picked.length} free addresses for ${count} new nodes: use a larger subnet or fewer nodes`,
      { cidr: network.cidr },
    );
  }
  return picked;
}
