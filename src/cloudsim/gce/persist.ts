import type { GceRuntime } from './runtime.js';
import type { DiskRec, FirewallRec, NetworkRec, OpRec, SubnetRec, TemplateRec, VmProps, VmRec } from './state.js';

/**
 * Plain-JSON snapshot of the simulated Compute Engine. Times are stored as wall-clock milliseconds, so the
 * cloud "kept running" while the simulator was down (a VM booting then is running after a restart), and
 * creation timestamps survive unchanged; shared VM props are stored once.
 */
interface Snapshot {
  readonly version: 1;
  readonly seq: number;
  readonly natNext: number;
  readonly networks: NetworkRec[];
  readonly subnets: (Omit<SubnetRec, 'used'> & { used: number[] })[];
  readonly firewalls: FirewallRec[];
  readonly templates: TemplateRec[];
  readonly props: VmProps[];
  readonly vms: (Omit<VmRec, 'props'> & { props: number })[];
  readonly operations: OpRec[];
  readonly defaultsMade?: string[];
  readonly disks?: DiskRec[];
}

const TIME_KEYS = ['createdAt', 'readyAt', 'doneAt', 'deletedAt', 'goneAt', 'stoppedAt', 'startedAt'] as const;

function shift<T extends object>(rec: T, by: number): T {
  const out = { ...rec } as Record<string, unknown>;
  for (const k of TIME_KEYS) if (typeof out[k] === 'number') out[k] = (out[k] as number) + by;
  return out as T;
}

export function snapshotState(rt: GceRuntime): Snapshot {
  const now = rt.now();
  const by = rt.wallBase;
  const s = rt.state;
  const propIndex = new Map<VmProps, number>();
  const props: VmProps[] = [];
  const vms: Snapshot['vms'] = [];
  for (const zv of s.zones.values()) {
    for (const vm of zv.order) {
      if (!zv.isLive(vm) || (vm.goneAt !== undefined && now >= vm.goneAt)) continue;
      let i = propIndex.get(vm.props);
      if (i === undefined) {
        i = props.push(vm.props) - 1;
        propIndex.set(vm.props, i);
      }
      vms.push(shift({ ...vm, props: i }, by));
    }
  }
  return {
    version: 1,
    seq: s.seq,
    natNext: s.natNext,
    networks: [...s.networks.values()].map((n) => shift(n, by)),
    subnets: [...s.subnets.values()].map((n) => shift({ ...n, used: [...n.used] }, by)),
    firewalls: [...s.firewalls.values()].map((n) => shift(n, by)),
    templates: [...s.templates.values()].map((n) => shift(n, by)),
    props,
    vms,
    operations: [...s.operations.values()].map((o) => shift(o, by)),
    defaultsMade: [...s.defaultsMade],
    disks: [...s.disks.values()].map((d) => shift(d, by)),
  };
}

export function restoreState(rt: GceRuntime, raw: unknown): void {
  const snap = raw as Partial<Snapshot> | undefined;
  if (snap?.version !== 1) return;
  const by = -rt.wallBase;
  const s = rt.state;
  s.seq = snap.seq ?? 0;
  s.natNext = snap.natNext ?? 0;
  for (const n of snap.networks ?? []) s.networks.set(`${n.project}/${n.name}`, shift(n, by));
  for (const n of snap.subnets ?? [])
    s.subnets.set(`${n.project}/${n.region}/${n.name}`, { ...shift(n, by), used: new Set(n.used) });
  for (const n of snap.firewalls ?? []) s.firewalls.set(`${n.project}/${n.name}`, shift(n, by));
  for (const n of snap.templates ?? []) s.templates.set(`${n.project}/${n.name}`, shift(n, by));
  const props = (snap.props ?? []).map((p) => ({ ...p }) as VmProps);
  for (const v of snap.vms ?? []) {
    const vm = shift({ ...v, props: props[v.props]! }, by) as VmRec;
    s.zoneVms(vm.props.project, vm.zone).add(vm);
  }
  for (const op of snap.operations ?? []) s.addOperation(shift(op, by), Number.POSITIVE_INFINITY);
  for (const project of snap.defaultsMade ?? []) s.defaultsMade.add(project);
  for (const d of snap.disks ?? []) s.disks.set(`${d.project}/${d.zone}/${d.name}`, shift(d, by));
}
