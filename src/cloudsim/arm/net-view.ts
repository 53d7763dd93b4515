import type { IngressRule, VmNetworkView } from '../core/types.js';
import { formatIp } from './cidr.js';
import { parseId } from './route.js';
import type { ArmStore, NsgRecord, ResourceGroupRecord, VnetRecord } from './store.js';

/** The realistic network's segment of a VNet, from a subnet id (`.../virtualNetworks/<vnet>/subnets/<subnet>`). */
export function armNetworkKey(subnetId: string): string {
  return `azure:${subnetId.replace(/\/subnets\/[^/]+$/i, '').toLowerCase()}`;
}

const toInt = (ip: string): number => ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
const toIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const span = (cidr: string): [number, number] => {
  const [ip = '0.0.0.0', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(ip) / size) * size;
  return [start, start + size - 1];
};

/** The CIDRs covering all of IPv4 except `holes` (Azure's `Internet` tag: everything outside the VNet). */
export function complement(holes: readonly string[]): string[] {
  const out: string[] = [];
  const split = (lo: number, bits: number) => {
    const hi = lo + 2 ** (32 - bits) - 1;
    const inside = holes.map(span).filter(([a, b]) => a <= hi && lo <= b);
    if (inside.length === 0) return void out.push(`${toIp(lo)}/${bits}`);
    if (inside.some(([a, b]) => a <= lo && hi <= b)) return;
    split(lo, bits + 1);
    split(lo + 2 ** (31 - bits), bits + 1);
  };
  split(0, 0);
  return out;
}

const PROTOCOLS: Record<string, string> = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', '*': 'all', esp: '50', ah: '51' };
const DEFAULT_INBOUND = [
  {
    priority: 65000,
    access: 'Allow',
    protocol: '*',
    ports: ['*'],
    sources: ['VirtualNetwork'],
    dst: ['VirtualNetwork'],
  },
  { priority: 65001, access: 'Allow', protocol: '*', ports: ['*'], sources: ['AzureLoadBalancer'], dst: ['*'] },
  { priority: 65500, access: 'Deny', protocol: '*', ports: ['*'], sources: ['*'], dst: ['*'] },
];

/** One NSG's inbound rules for a VM at `ip` in `vnet`: service tags resolved, priority order, defaults last. */
function nsgRules(nsg: NsgRecord, vnet: VnetRecord, ip: string): IngressRule[] {
  const tag = (prefix: string): string[] => {
    const p = prefix.toLowerCase();
    if (p === '*' || p === 'any' || p === '0.0.0.0/0') return ['0.0.0.0/0'];
    if (p === 'virtualnetwork') return vnet.addressPrefixes;
    if (p === 'internet') return complement(vnet.addressPrefixes);
    if (p === 'azureloadbalancer') return ['168.63.129.16/32'];
    return /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(prefix) ? [prefix] : [];
  };
  const listOf = (props: Record<string, unknown>, one: string, many: string): string[] =>
    typeof props[one] === 'string'
      ? [props[one] as string]
      : Array.isArray(props[many])
        ? (props[many] as string[])
        : [];
  const custom = [...nsg.rules.values()]
    .map((r) => r.properties)
    .filter((p) => p.direction === 'Inbound')
    .map((p) => ({
      priority: Number(p.priority),
      access: String(p.access),
      protocol: String(p.protocol),
      ports: listOf(p, 'destinationPortRange', 'destinationPortRanges'),
      sources: listOf(p, 'sourceAddressPrefix', 'sourceAddressPrefixes'),
      dst: listOf(p, 'destinationAddressPrefix', 'destinationAddressPrefixes'),
    }));
  const n = toInt(ip);
  const targetsVm = (dst: readonly string[]) => dst.some((d) => tag(d).some((c) => span(c)[0] <= n && n <= span(c)[1]));
  return [...custom.sort((a, b) => a.priority - b.priority), ...DEFAULT_INBOUND]
    .filter((r) => targetsVm(r.dst))
    .map((r) => ({
      action: r.access === 'Allow' ? 'allow' : 'deny',
      protocol: PROTOCOLS[r.protocol.toLowerCase()] ?? 'all',
      ports: r.ports.includes('*')
        ? undefined
        : r.ports.map((p) => {
            const [lo = 0, hi = lo] = p.split('-').map(Number);
            return [lo, hi] as const;
          }),
      sources: r.sources.flatMap(tag),
    }));
}

/**
 * VMs that exist (not being deleted) with their first NIC's addresses and NSGs: the subnet's, then the NIC's,
 * each of which must allow a packet in (Azure's order for inbound); neither = all allowed, as in Azure.
 */
export function armNetworkView(store: ArmStore): VmNetworkView[] {
  const out: VmNetworkView[] = [];
  const group = (id: { subscription: string; resourceGroup: string }): ResourceGroupRecord | undefined =>
    store.group(id.subscription, id.resourceGroup);
  const nsgOf = (id: string | undefined): NsgRecord | undefined => {
    const ref = parseId(id);
    return ref && group(ref)?.nsgs.get(ref.rest[1]?.toLowerCase() ?? '');
  };
  for (const groups of store.subscriptions.values()) {
    for (const rg of groups.values()) {
      for (const [key, vm] of rg.vms) {
        if (vm.deleteAt !== undefined || vm.failed || vm.power !== undefined) continue;
        const nicRef = parseId(vm.nics[0]);
        const nic = nicRef && group(nicRef)?.nics.get(nicRef.rest[1]?.toLowerCase() ?? '');
        const subnetRef = nic && parseId(nic.subnetId);
        const vnet = subnetRef && group(subnetRef)?.vnets.get(subnetRef.rest[1]?.toLowerCase() ?? '');
        const subnet = vnet?.subnets.get(subnetRef?.rest[3]?.toLowerCase() ?? '');
        if (!nic || !vnet || !subnet) continue;
        const ip = formatIp(nic.ip);
        const pipRef = parseId(nic.publicIpId);
        const pip = pipRef && group(pipRef)?.publicIps.get(pipRef.rest[1]?.toLowerCase() ?? '');
        const nsgs = [nsgOf(subnet.nsgId), nsgOf(nic.nsgId)].filter((g): g is NsgRecord => g !== undefined);
        out.push({
          cloud: 'azure',
          id: `${rg.name}/${key}`,
          network: armNetworkKey(nic.subnetId),
          privateIp: ip,
          ...(pip && !pip.released ? { publicIp: formatIp(pip.address) } : {}),
          ingress: nsgs.map((g) => nsgRules(g, vnet, ip)),
        });
      }
    }
  }
  return out;
}
