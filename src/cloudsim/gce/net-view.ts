import type { IngressRule, VmNetworkView } from '../core/types.js';
import type { GceRuntime } from './runtime.js';
import type { FirewallRec, VmRec } from './state.js';
import { intToIp } from './validate.js';

/** The realistic network's segment of a VPC network (global: one per project and network name). */
export const gceNetworkKey = (project: string, network: string): string => `gcp:${project}/${network}`;

interface FirewallBody {
  readonly priority?: number;
  readonly direction?: string;
  readonly allowed?: ReadonlyArray<{ IPProtocol: string; ports?: string[] }>;
  readonly denied?: ReadonlyArray<{ IPProtocol: string; ports?: string[] }>;
  readonly sourceRanges?: string[];
  readonly sourceTags?: string[];
  readonly targetTags?: string[];
  readonly disabled?: boolean;
}

const portRanges = (ports: readonly string[] | undefined): IngressRule['ports'] =>
  ports?.map((p) => {
    const [lo, hi = lo] = p.split('-').map(Number) as [number, number?];
    return [lo, hi ?? lo] as const;
  });

/**
 * VMs that exist and are neither stopped nor being deleted, with their network's ingress firewall rules that target them
 * (no targetTags = every VM), lowest priority number first and deny before allow at equal priority, as GCE
 * evaluates them. Sources: sourceRanges plus the internal addresses of the network's VMs carrying a sourceTag.
 * The implied deny-ingress rule is the filter's final drop; egress is left open (the implied allow-egress).
 */
export function gceNetworkView(rt: GceRuntime): VmNetworkView[] {
  const live: VmRec[] = [];
  for (const zone of rt.state.zones.values())
    for (const vm of zone.byName.values())
      if (vm.deletedAt === undefined && vm.stoppedAt === undefined && !vm.failed) live.push(vm);
  const byNetwork = new Map<string, FirewallRec[]>();
  for (const fw of rt.state.firewalls.values()) {
    const key = gceNetworkKey(fw.project, fw.network);
    byNetwork.set(key, [...(byNetwork.get(key) ?? []), fw]);
  }
  const ipOf = (vm: VmRec) => vm.backingIp ?? intToIp(vm.ip);
  return live.map((vm) => {
    const network = gceNetworkKey(vm.props.project, vm.props.network);
    const neighbours = live.filter((v) => gceNetworkKey(v.props.project, v.props.network) === network);
    const rules = (byNetwork.get(network) ?? [])
      .map((fw) => fw.body as FirewallBody)
      .filter((b) => (b.direction ?? 'INGRESS') === 'INGRESS' && !b.disabled)
      .filter((b) => !b.targetTags?.length || b.targetTags.some((t) => vm.props.tags.includes(t)))
      .sort((a, b) => (a.priority ?? 1000) - (b.priority ?? 1000) || Number(!!b.denied) - Number(!!a.denied))
      .flatMap((b): IngressRule[] => {
        const tagged = b.sourceTags?.length
          ? neighbours.filter((v) => b.sourceTags!.some((t) => v.props.tags.includes(t))).map((v) => `${ipOf(v)}/32`)
          : [];
        const sources = [...(b.sourceRanges ?? []), ...tagged];
        const action = b.denied ? 'deny' : 'allow';
        return (b.denied ?? b.allowed ?? []).map((a) => ({
          action,
          protocol: a.IPProtocol,
          ports: portRanges(a.ports),
          sources,
        }));
      });
    return {
      cloud: 'gcp',
      id: vm.id,
      network,
      privateIp: ipOf(vm),
      ...(vm.natIp !== undefined ? { publicIp: intToIp(vm.natIp) } : {}),
      ingress: [rules],
    };
  });
}
