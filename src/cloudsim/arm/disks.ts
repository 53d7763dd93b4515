import { type ArmCall, type ArmReply, groupsInScope, isoTime, type Json, requireGroup } from './call.js';
import { deleteReply, page } from './common.js';
import { conflict, resourceNotFound } from './errors.js';
import { resourceId } from './route.js';
import {
  type DiskRecord,
  derivedUuid,
  EMPTY_TAGS,
  provisioningState,
  type ResourceGroupRecord,
  type VmRecord,
} from './store.js';

/**
 * Managed disks (Microsoft.Compute/disks): the OS disk a VM is created with, listed by resource group and by
 * subscription, read and deleted. As in Azure the implicit OS disk carries no tags of its own; it goes away with
 * its VM only when the VM asked for `osDisk.deleteOption: Delete`, else it stays, Unattached, until deleted.
 */
const COMPUTE = 'Microsoft.Compute';
export const DISK_PAGE_SIZE = 100;
const OS_DISK_GB = 30;

/** The OS disk's name as Azure derives it: `<vm>_OsDisk_1_<32 hex>`. */
export function osDiskName(seed: number, vm: Pick<VmRecord, 'name' | 'seq'>): string {
  return `${vm.name}_OsDisk_1_${derivedUuid(seed, vm.seq, 31).replace(/-/g, '')}`;
}

function diskId(sub: string, rg: string, name: string): string {
  return resourceId(sub, rg, COMPUTE, 'disks', name);
}

/** Records the OS disk of a VM being created. */
export function createOsDisk(call: ArmCall, rg: ResourceGroupRecord, vm: VmRecord, vmId: string, sku?: string): void {
  const name = osDiskName(call.context.settings.seed, vm);
  const disk: DiskRecord = {
    name,
    location: vm.location,
    tags: EMPTY_TAGS,
    zone: vm.zone,
    sizeGB: OS_DISK_GB,
    sku: sku ?? 'Premium_LRS',
    managedBy: vmId,
    vmTags: vm.tags,
    seq: vm.seq,
    gen: call.store.nextGen(),
    readyAt: vm.readyAt,
    createdAt: vm.createdAt,
  };
  rg.disks.set(name.toLowerCase(), disk);
}

/** The VM is gone: its OS disk is deleted with it (deleteOption Delete) or left unattached. */
export function releaseOsDisk(call: ArmCall, rg: ResourceGroupRecord, vm: VmRecord): void {
  const key = osDiskName(call.context.settings.seed, vm).toLowerCase();
  const disk = rg.disks.get(key);
  if (!disk) return;
  if (vm.osDiskDelete) rg.disks.delete(key);
  else disk.managedBy = undefined;
}

function diskJson(call: ArmCall, rg: ResourceGroupRecord, d: DiskRecord): Json {
  const out: Json = {
    id: diskId(call.sub, rg.name, d.name),
    name: d.name,
    type: 'Microsoft.Compute/disks',
    location: d.location,
    tags: d.tags,
  };
  if (d.managedBy) out.managedBy = d.managedBy;
  out.sku = { name: d.sku, tier: d.sku.startsWith('Premium') ? 'Premium' : 'Standard' };
  if (d.zone) out.zones = [d.zone];
  out.properties = {
    osType: 'Linux',
    hyperVGeneration: 'V2',
    creationData: { createOption: 'FromImage' },
    diskSizeGB: d.sizeGB,
    diskSizeBytes: d.sizeGB * 1024 ** 3,
    uniqueId: derivedUuid(call.context.settings.seed, d.seq, 61),
    provisioningState: provisioningState(d, call.now),
    diskState: d.managedBy ? 'Attached' : 'Unattached',
    timeCreated: isoTime(d.createdAt),
  };
  return out;
}

export function listDisks(call: ArmCall): ArmReply {
  const all = groupsInScope(call).flatMap((rg) => [...rg.disks.values()].map((d) => [rg, d] as const));
  return page(call, all, ([rg, d]) => diskJson(call, rg, d), DISK_PAGE_SIZE);
}

export function getDisk(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, false);
  const disk = rg.disks.get(name.toLowerCase());
  if (!disk) throw resourceNotFound('Microsoft.Compute/disks', name, rg.name);
  return { status: 200, body: diskJson(call, rg, disk) };
}

export function deleteDisk(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const disk = rg.disks.get(name.toLowerCase());
  if (!disk) return { status: 204 };
  if (disk.managedBy) throw conflict('OperationNotAllowed', `Disk ${disk.name} is attached to VM ${disk.managedBy}.`);
  if (disk.deleteAt === undefined) {
    disk.gen = call.store.nextGen();
    disk.deleteAt = call.now + Math.max(1, Math.round(call.context.settings.bootTimeMs / 2));
    call.defer(disk.deleteAt, () => {
      if (rg.disks.get(disk.name.toLowerCase()) === disk) rg.disks.delete(disk.name.toLowerCase());
    });
  }
  return deleteReply(call, 'compute', disk.location, 'disk', [disk.name], disk.gen, disk.deleteAt - call.now);
}
