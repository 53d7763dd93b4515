import { CapacityError } from '../errors.js';
import type { NetworkRef } from '../providers/types.js';
import { parseCidr, intToIpv4 as toIp } from '../util/ipv4.js';

/**
 * Picks `count` free IPv4 addresses of the network for new nodes, lowest first: not the network or broadcast
 * address, not reserved by the provider, not used by an existing instance. Assigning them up front lets each
 * node's server certificate carry its IP before the VM exists.
 */
export function pickAddresses(network: NetworkRef, used: Iterable<string>, count: number): string[] {
  const block = parseCidr(network.cidr);
  if (!block || !(block.bits >= 8 && block.bits <= 30)) {
    throw new CapacityError(
      `network ${network.id} has CIDR "${network.cidr}": skypool assigns node addresses only in IPv4 subnets /8 to /30`,
      { cidr: network.cidr },
    );
  }
  const { start, size } = block;
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
