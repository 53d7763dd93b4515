import type { IngressRule, VmNetworkView } from '../core/types.js';

/**
 * The packet filter and 1:1 NAT of one cloud network's edge, rendered as an `iptables-restore` document that
 * replaces the edge's `raw`, `nat` and `filter` tables in one atomic step. Pure: the realistic network applies it.
 *
 * Every packet to or from a VM crosses the edge (each VM has its own veth to it, see Uplink in the local
 * provider), so the filter sees traffic between neighbours of one subnet too, as a cloud's virtual switch does.
 */

/** The edge's interface towards the internet segment. */
export const UPLINK = 'up0';
/** The sim's internet: every public address the clouds hand out is in it; nothing else is ever routed here. */
export const INTERNET = '198.18.0.0/15';

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** A CIDR or address as iptables takes it, or undefined when it is not plain IPv4 (never rendered then). */
export function cidrArg(value: string): string | undefined {
  const [ip = '', prefix, extra] = value.split('/');
  if (extra !== undefined || !IPV4.test(ip)) return undefined;
  if (prefix === undefined) return `${ip}/32`;
  return /^(3[0-2]|[12]?\d)$/.test(prefix) ? `${ip}/${prefix}` : undefined;
}

const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'sctp']);
/** Protocols rules name that iptables knows only by number here (no /etc/protocols needed). */
const NUMBERED: Record<string, string> = { esp: '50', ah: '51', ipip: '4', gre: '47' };

/** `-p`/`--dport` argument sets one rule expands to (`all` with ports means tcp and udp, as GCE reads it). */
function matchesOf(rule: IngressRule): string[] {
  const protocol = NUMBERED[rule.protocol.toLowerCase()] ?? rule.protocol.toLowerCase();
  const ports = (rule.ports ?? [])
    .filter(([lo, hi]) => Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi <= 65535 && lo <= hi)
    .map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}:${hi}`));
  const withPorts = (p: string) =>
    rule.ports === undefined ? [`-p ${p}`] : ports.map((range) => `-p ${p} -m ${p} --dport ${range}`);
  if (protocol === 'all' || protocol === '*' || protocol === '-1')
    return rule.ports === undefined ? [''] : [...withPorts('tcp'), ...withPorts('udp')];
  if (protocol === 'tcp' || protocol === 'udp' || protocol === 'sctp') return withPorts(protocol);
  if (PROTOCOLS.has(protocol)) return [`-p ${protocol}`];
  if (/^\d{1,3}$/.test(protocol) && Number(protocol) <= 255) return [`-p ${protocol}`];
  return [];
}

/** Lines of one filter chain: allow returns to FORWARD (the next filter or the accept), deny drops, the rest drops. */
function filterChain(chain: string, rules: readonly IngressRule[]): string[] {
  const lines: string[] = [];
  for (const rule of rules) {
    const target = rule.action === 'allow' ? 'RETURN' : 'DROP';
    for (const source of rule.sources) {
      const src = cidrArg(source);
      if (!src) continue;
      for (const match of matchesOf(rule)) {
        const from = src === '0.0.0.0/0' ? '' : ` -s ${src}`;
        lines.push(`-A ${chain}${from}${match ? ` ${match}` : ''} -j ${target}`);
      }
    }
  }
  lines.push(`-A ${chain} -j DROP`);
  return lines;
}

/** The conntrack zone (1-65535) of a public address. */
export function natZone(publicIp: string): number {
  const n = publicIp.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  return 1 + (n % 65535);
}

/** The edge's tables for the VMs of its network (addresses that are not plain IPv4 are left out). */
export function renderEdgeRules(vms: readonly VmNetworkView[]): string {
  const raw: string[] = [];
  const nat: string[] = [];
  const chains: string[] = [];
  const filter: string[] = [
    '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A FORWARD -m conntrack --ctstate INVALID -j DROP',
  ];
  const sorted = [...vms].sort((a, b) => a.privateIp.localeCompare(b.privateIp) || a.id.localeCompare(b.id));
  sorted.forEach((vm, index) => {
    const priv = cidrArg(vm.privateIp);
    if (!priv) return;
    const pub = vm.publicIp === undefined ? undefined : cidrArg(vm.publicIp);
    if (pub) {
      nat.push(`-A PREROUTING -i ${UPLINK} -d ${pub} -j DNAT --to-destination ${vm.privateIp}`);
      nat.push(`-A POSTROUTING -o ${UPLINK} -s ${priv} -j SNAT --to-source ${vm.publicIp}`);
      // Each public address of a VM tracks its flows in its own conntrack zone: after a stop/start gave the VM
      // another address, its packets must not follow an old flow's entry and leave under the address it lost
      // (a cloud's NAT forgets a released address; this edge's conntrack would not).
      const zone = natZone(vm.publicIp!);
      raw.push(`-A PREROUTING -i ${UPLINK} -d ${pub} -j CT --zone ${zone}`);
      raw.push(`-A PREROUTING ! -i ${UPLINK} -s ${priv} -d ${INTERNET} -j CT --zone ${zone}`);
      // Without a public address a VM has no way out: the FORWARD policy drops what it sends to the internet.
      filter.push(`-A FORWARD -o ${UPLINK} -s ${priv} -j ACCEPT`);
    }
    vm.ingress.forEach((rules, stage) => {
      const chain = `vm${index}-in${stage}`;
      chains.push(`:${chain} - [0:0]`);
      filter.push(`-A FORWARD -d ${priv} -j ${chain}`, ...filterChain(chain, rules));
    });
    filter.push(`-A FORWARD -d ${priv} -j ACCEPT`);
  });
  return [
    '*raw',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...raw,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...nat,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...chains,
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}
