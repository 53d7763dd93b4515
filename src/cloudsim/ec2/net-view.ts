import type { IngressRule, VmNetworkView } from '../core/types.js';
import { formatIp } from './cidr.js';
import type { Permission } from './model.js';
import type { Ec2Store } from './store.js';

/** The realistic network's segment of a VPC. */
export const ec2NetworkKey = (region: string, vpcId: string): string => `aws:${region}:${vpcId}`;

const protocolOf = (p: Permission): string => (p.protocol === '-1' ? 'all' : p.protocol);
const portsOf = (p: Permission): IngressRule['ports'] =>
  (p.protocol === 'tcp' || p.protocol === 'udp') && p.from >= 0 ? [[p.from, p.to]] : undefined;

/**
 * Instances that exist (pending or running) with their security groups' ingress rules: a CIDR source as is, a
 * group source as the private addresses of the instances in that group (same VPC; EC2 allows no other).
 * Security groups only allow, and they are stateful: replies pass the edge's conntrack rule.
 */
export function ec2NetworkView(store: Ec2Store): VmNetworkView[] {
  const now = store.now();
  const live = [...store.instances.values()].filter((i) => {
    const state = store.stateOf(i, now).name;
    return (state === 'pending' || state === 'running') && i.endedAt === undefined;
  });
  const members = new Map<string, string[]>();
  for (const i of live) {
    for (const g of i.launch.groupIds) {
      const list = members.get(g) ?? [];
      list.push(`${formatIp(i.ip)}/32`);
      members.set(g, list);
    }
  }
  return live.map((i) => {
    const rules: IngressRule[] = [];
    for (const groupId of i.launch.groupIds) {
      const group = store.groups.get(groupId);
      for (const p of group?.ingress ?? []) {
        const sources = p.cidr !== undefined ? [p.cidr] : p.groupId ? (members.get(p.groupId) ?? []) : [];
        rules.push({ action: 'allow', protocol: protocolOf(p), ports: portsOf(p), sources });
      }
    }
    return {
      cloud: 'aws',
      id: i.id,
      network: ec2NetworkKey(i.launch.region, i.launch.vpcId),
      privateIp: formatIp(i.ip),
      ...(i.publicIp !== undefined ? { publicIp: formatIp(i.publicIp) } : {}),
      ingress: [rules],
    };
  });
}
