import { knownZone, MACHINE_TYPE_BY_NAME, regionOf } from './catalog.js';
import { leftDisk } from './disks.js';
import { GceError, notFound, type OperationFailure } from './errors.js';
import { gceNetworkKey } from './net-view.js';
import type { GceRuntime } from './runtime.js';
import type { SubnetRec, VmProps, VmRec, ZoneVms } from './state.js';
import { intToIp, ipToInt } from './validate.js';
import type { Parsed } from './vm-properties.js';

/**
 * VM lifecycle derived from timestamps (no timers): PROVISIONING → STAGING → RUNNING, STOPPING after a delete
 * until the deletion finishes, then gone; stop: STOPPING → TERMINATED, start: STAGING → RUNNING. Creation allocates addresses and, with the `local` backing, starts a
 * real local VM whose address replaces the simulated one.
 */
const NAT_BASE = ipToInt('34.118.0.0')!;
/** On the realistic network, ephemeral external addresses come from 198.18.128.0/17 of the sim's internet. */
const INTERNET_NAT_BASE = ipToInt('198.18.128.0')!;

export const instancePath = (project: string, zone: string, name: string) =>
  `projects/${project}/zones/${zone}/instances/${name}`;

export function isGone(rt: GceRuntime, vm: VmRec): boolean {
  return vm.goneAt !== undefined && rt.now() >= vm.goneAt;
}

export function purge(rt: GceRuntime, zone: ZoneVms, vm: VmRec): void {
  if (!zone.isLive(vm)) return;
  zone.remove(vm);
  const left = leftDisk(vm);
  if (left) rt.state.disks.set(`${left.project}/${left.zone}/${left.name}`, left);
  const free = () =>
    rt.state.subnets.get(`${vm.props.project}/${vm.props.subnetRegion}/${vm.props.subnet}`)?.used.delete(vm.ip);
  // Compute Engine hands the address on only once the VM is gone: here, once its local VM was torn down.
  if (vm.teardown) void vm.teardown.finally(free);
  else free();
}

export function vmStatus(rt: GceRuntime, vm: VmRec): string {
  if (vm.deletedAt !== undefined) return 'STOPPING';
  if (vm.failed) return 'TERMINATED';
  if (vm.stoppedAt !== undefined)
    return vm.backingBusy || rt.now() < vm.stoppedAt + rt.shortMs ? 'STOPPING' : 'TERMINATED';
  if (vm.startedAt !== undefined)
    return vm.backingBusy || rt.now() < vm.startedAt + rt.bootMs * 0.7 ? 'STAGING' : 'RUNNING';
  const age = rt.now() - vm.createdAt;
  if (age < rt.bootMs * 0.3) return 'PROVISIONING';
  if (age < rt.bootMs) return 'STAGING';
  if (rt.ctx.settings.backing === 'local' && rt.ctx.backing && vm.backingIp === undefined) return 'STAGING';
  return 'RUNNING';
}

/** The ephemeral external address of a new or restarted VM (a new one every time, as GCE hands them out). */
function ephemeralNatIp(rt: GceRuntime): number {
  const base = rt.ctx.settings.network === 'realistic' ? INTERNET_NAT_BASE : NAT_BASE;
  return base + rt.state.natNext++;
}

/**
 * instances.stop: the VM goes STOPPING, then TERMINATED (GCE's word for stopped); its internal address and disk
 * stay, its ephemeral external address is released. With the local backing the VM powers off, its disk kept.
 */
export function stopVm(rt: GceRuntime, vm: VmRec): void {
  const status = vmStatus(rt, vm);
  if (status === 'STOPPING' || status === 'TERMINATED') return;
  vm.stoppedAt = rt.now();
  vm.startedAt = undefined;
  vm.natIp = undefined;
  const backing = rt.ctx.settings.backing === 'local' ? rt.ctx.backing : undefined;
  if (!backing?.powerOff) return;
  vm.backingBusy = true;
  backing
    .powerOff({ cloud: 'gcp', id: vm.id })
    .catch(() => undefined)
    .finally(() => {
      vm.backingBusy = false;
    });
}

/**
 * instances.start: a stopped VM goes STAGING, then RUNNING, with its internal address and a new ephemeral
 * external one. With the local backing it boots again from its disk (per-boot scripts, no user-data).
 */
export function startVm(rt: GceRuntime, vm: VmRec): void {
  if (vm.stoppedAt === undefined) return;
  vm.stoppedAt = undefined;
  vm.startedAt = rt.now();
  if (vm.props.externalIp) vm.natIp = ephemeralNatIp(rt);
  const backing = rt.ctx.settings.backing === 'local' ? rt.ctx.backing : undefined;
  const subnet = rt.state.subnets.get(`${vm.props.project}/${vm.props.subnetRegion}/${vm.props.subnet}`);
  if (!backing?.powerOn || !subnet) return;
  vm.backingBusy = true;
  backing
    .powerOn({
      cloud: 'gcp',
      id: vm.id,
      subnetCidr: subnet.cidr,
      network: gceNetworkKey(vm.props.project, vm.props.network),
    })
    .catch(() => {
      vm.stoppedAt = rt.now();
      vm.natIp = undefined;
    })
    .finally(() => {
      vm.backingBusy = false;
    });
}

function allocateIp(subnet: SubnetRec): number | undefined {
  const end = subnet.base + subnet.size;
  for (let tries = 0, ip = subnet.next; tries < subnet.size; tries++, ip++) {
    if (ip >= end) ip = subnet.base;
    if (!subnet.used.has(ip)) {
      subnet.used.add(ip);
      subnet.next = ip + 1;
      return ip;
    }
  }
  return undefined;
}

function userDataOf(props: VmProps): string {
  return (
    props.metadata.find((m) => m.key === 'user-data')?.value ??
    props.metadata.find((m) => m.key === 'startup-script')?.value ??
    ''
  );
}

function startBacking(rt: GceRuntime, vm: VmRec, subnet: SubnetRec): void {
  const backing = rt.ctx.backing;
  if (rt.ctx.settings.backing !== 'local' || !backing) return;
  backing
    .start({
      cloud: 'gcp',
      id: vm.id,
      name: vm.name,
      privateIp: intToIp(vm.ip),
      subnetCidr: subnet.cidr,
      userData: userDataOf(vm.props),
      tags: vm.props.labels,
      network: gceNetworkKey(vm.props.project, vm.props.network),
    })
    .then(
      (r) => void (vm.backingIp = r.privateIp),
      () => void (vm.failed = true),
    );
}

/**
 * Creates the VMs of one accepted insert/bulkInsert (all-or-nothing below `minCount`), or returns the async
 * failure its Operation will report. A capacity fault with `available` fills the request partly.
 */
export function createVms(
  rt: GceRuntime,
  parsed: Parsed,
  requested: readonly string[],
  minCount = requested.length,
): { vms: VmRec[]; failure?: OperationFailure } {
  const { props, subnet } = parsed;
  const zonePath = `projects/${props.project}/zones/${props.zone}`;
  const region = regionOf(props.zone)!.name;
  const capacity = rt.ctx.takeFault({
    cloud: 'gcp',
    kind: 'capacity',
    zone: props.zone,
    region,
    instanceType: props.machineType,
  });
  const available = capacity ? Math.min(capacity.available ?? 0, requested.length) : requested.length;
  if (available < minCount) {
    const message = `The zone '${zonePath}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`;
    if (capacity?.mode === 'sync') throw new GceError(503, 'ZONE_RESOURCE_POOL_EXHAUSTED', message);
    return { vms: [], failure: { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message, httpStatus: 503 } };
  }
  const names = requested.slice(0, available);
  const quota = rt.ctx.takeFault({
    cloud: 'gcp',
    kind: 'quota',
    zone: props.zone,
    region,
    instanceType: props.machineType,
  });
  const cpus = MACHINE_TYPE_BY_NAME.get(props.machineType)!.guestCpus * names.length;
  const quotaMessage = `Quota 'CPUS' exceeded.  Limit: 24.0 in region ${region}.`;
  if (quota?.mode === 'sync')
    throw new GceError(403, 'quotaExceeded', quotaMessage, {
      metadata: { quota_metric: 'CPUS', requested: String(cpus) },
    });
  if (quota) return { vms: [], failure: { code: 'QUOTA_EXCEEDED', message: quotaMessage, httpStatus: 403 } };

  const ips: number[] = [];
  if (parsed.networkIP !== undefined) {
    if (subnet.used.has(parsed.networkIP)) {
      return {
        vms: [],
        failure: {
          code: 'IP_IN_USE_BY_ANOTHER_RESOURCE',
          message: `IP '${intToIp(parsed.networkIP)}' is already being used by another resource.`,
          httpStatus: 400,
        },
      };
    }
    subnet.used.add(parsed.networkIP);
    ips.push(parsed.networkIP);
  } else {
    for (let i = 0; i < names.length; i++) {
      const ip = allocateIp(subnet);
      if (ip === undefined) {
        for (const used of ips) subnet.used.delete(used);
        return {
          vms: [],
          failure: {
            code: 'IP_SPACE_EXHAUSTED',
            message: `IP space of 'projects/${subnet.project}/regions/${subnet.region}/subnetworks/${subnet.name}' is exhausted.`,
            httpStatus: 400,
          },
        };
      }
      ips.push(ip);
    }
  }
  const zone = rt.state.zoneVms(props.project, props.zone);
  const now = rt.now();
  const vms = names.map((name, i) => {
    const vm: VmRec = {
      name,
      id: rt.newId(),
      zone: props.zone,
      props,
      seq: ++rt.state.seq,
      createdAt: now,
      ip: ips[i]!,
    };
    if (props.externalIp) vm.natIp = ephemeralNatIp(rt);
    zone.add(vm);
    startBacking(rt, vm, subnet);
    return vm;
  });
  return { vms };
}

export function liveVm(rt: GceRuntime, project: string, zone: string, name: string): VmRec {
  knownZone(zone);
  const zv = rt.state.zones.get(`${project}/${zone}`);
  const vm = zv?.byName.get(name);
  if (!vm || isGone(rt, vm)) {
    if (vm) purge(rt, zv!, vm);
    throw notFound(instancePath(project, zone, name));
  }
  return vm;
}

export function inventoryVms(rt: GceRuntime): { vm: VmRec; status: string }[] {
  const out: { vm: VmRec; status: string }[] = [];
  for (const zv of rt.state.zones.values()) {
    for (const vm of [...zv.byName.values()]) {
      if (isGone(rt, vm)) purge(rt, zv, vm);
      else out.push({ vm, status: vmStatus(rt, vm) });
    }
  }
  return out;
}
