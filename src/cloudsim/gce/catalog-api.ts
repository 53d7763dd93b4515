import type { SimResponse } from '../core/types.js';
import {
  findRegion,
  IMAGES,
  type ImageInfo,
  knownZone,
  MACHINE_TYPE_BY_NAME,
  MACHINE_TYPES,
  type MachineTypeInfo,
  REGIONS,
  ZONES,
} from './catalog.js';
import { notFound } from './errors.js';
import { compileFilter, jsonGetter } from './filter.js';
import { listResponse, paginate } from './paging.js';
import { link } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import { inventoryVms } from './vm-lifecycle.js';

/** Read-only catalog calls: zones, regions, machine types, public images. */

const CREATED = '1969-12-31T16:00:00.000-08:00';

function renderZone(project: string, zone: string): Record<string, unknown> {
  const info = ZONES.get(zone)!;
  return {
    kind: 'compute#zone',
    id: info.id,
    creationTimestamp: CREATED,
    name: zone,
    description: zone,
    status: 'UP',
    region: link(`projects/${project}/regions/${info.region.name}`),
    selfLink: link(`projects/${project}/zones/${zone}`),
    availableCpuPlatforms: ['Intel Broadwell', 'Intel Cascade Lake', 'Intel Ice Lake', 'AMD Milan'],
    supportsPzs: false,
  };
}

export function listZones(_rt: GceRuntime, call: GceCall): SimResponse {
  return listResponse(
    call,
    'compute#zoneList',
    `projects/${call.project}/zones`,
    [...ZONES.keys()].map((z) => renderZone(call.project, z)),
  );
}

export function getZone(_rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  if (!ZONES.has(zone)) throw notFound(`projects/${call.project}/zones/${zone}`);
  return ok(renderZone(call.project, zone));
}

function renderRegion(rt: GceRuntime, project: string, name: string): Record<string, unknown> {
  const region = findRegion(name)!;
  let cpus = 0;
  let instances = 0;
  for (const { vm } of inventoryVms(rt)) {
    if (vm.props.project === project && region.zones.includes(vm.zone)) {
      instances++;
      cpus += MACHINE_TYPE_BY_NAME.get(vm.props.machineType)?.guestCpus ?? 0;
    }
  }
  return {
    kind: 'compute#region',
    id: region.id,
    creationTimestamp: CREATED,
    name,
    description: name,
    status: 'UP',
    zones: region.zones.map((z) => link(`projects/${project}/zones/${z}`)),
    quotas: [
      { metric: 'CPUS', limit: 100000, usage: cpus },
      { metric: 'INSTANCES', limit: 100000, usage: instances },
      {
        metric: 'SUBNETWORKS',
        limit: 275,
        usage: [...rt.state.subnets.values()].filter((s) => s.project === project && s.region === name).length,
      },
    ],
    selfLink: link(`projects/${project}/regions/${name}`),
    supportsPzs: false,
  };
}

export function listRegions(rt: GceRuntime, call: GceCall): SimResponse {
  return listResponse(
    call,
    'compute#regionList',
    `projects/${call.project}/regions`,
    REGIONS.map((r) => renderRegion(rt, call.project, r.name)),
  );
}

export function getRegion(rt: GceRuntime, call: GceCall, region: string): SimResponse {
  if (!findRegion(region)) throw notFound(`projects/${call.project}/regions/${region}`);
  return ok(renderRegion(rt, call.project, region));
}

function renderMachineType(project: string, zone: string, t: MachineTypeInfo): Record<string, unknown> {
  const gb = t.memoryMb / 1024;
  return {
    kind: 'compute#machineType',
    id: t.id,
    creationTimestamp: CREATED,
    name: t.name,
    description: t.isSharedCpu
      ? `Efficient Instance, ${t.guestCpus} vCPU(s), ${gb} GB RAM`
      : `${t.guestCpus} vCPUs, ${gb} GB RAM`,
    guestCpus: t.guestCpus,
    memoryMb: t.memoryMb,
    imageSpaceGb: 0,
    maximumPersistentDisks: t.isSharedCpu ? 16 : 128,
    maximumPersistentDisksSizeGb: t.isSharedCpu ? '3072' : '263168',
    zone,
    selfLink: link(`projects/${project}/zones/${zone}/machineTypes/${t.name}`),
    isSharedCpu: t.isSharedCpu,
    architecture: 'X86_64',
  };
}

export function listMachineTypes(_rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  knownZone(zone);
  return listResponse(
    call,
    'compute#machineTypeList',
    `projects/${call.project}/zones/${zone}/machineTypes`,
    MACHINE_TYPES.map((t) => renderMachineType(call.project, zone, t)),
  );
}

export function getMachineType(_rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  knownZone(zone);
  const t = MACHINE_TYPE_BY_NAME.get(name);
  if (!t) throw notFound(`projects/${call.project}/zones/${zone}/machineTypes/${name}`);
  return ok(renderMachineType(call.project, zone, t));
}

/** Aggregated machine types: one scope per zone; small enough to page over the flattened list. */
export function aggregatedMachineTypes(_rt: GceRuntime, call: GceCall): SimResponse {
  const predicate = compileFilter(call.query.get('filter'));
  const all = [...ZONES.keys()].flatMap((zone) => MACHINE_TYPES.map((t) => renderMachineType(call.project, zone, t)));
  const page = paginate(predicate ? all.filter((r) => predicate(jsonGetter(r))) : all, call.query);
  const items: Record<string, { machineTypes: Record<string, unknown>[] }> = {};
  for (const mt of page.items) (items[`zones/${mt.zone as string}`] ??= { machineTypes: [] }).machineTypes.push(mt);
  return ok({
    kind: 'compute#machineTypeAggregatedList',
    id: `projects/${call.project}/aggregated/machineTypes`,
    items,
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    selfLink: link(`projects/${call.project}/aggregated/machineTypes`),
  });
}

function renderImage(image: ImageInfo): Record<string, unknown> {
  return {
    kind: 'compute#image',
    id: image.id,
    creationTimestamp: image.created,
    name: image.name,
    description: image.description,
    sourceType: 'RAW',
    status: 'READY',
    archiveSizeBytes: '2415920128',
    diskSizeGb: image.diskSizeGb,
    licenses: [link(`projects/${image.project}/global/licenses/${image.family}`)],
    family: image.family,
    selfLink: link(`projects/${image.project}/global/images/${image.name}`),
    labelFingerprint: '42WmSpB8rSM=',
    guestOsFeatures: [
      { type: 'VIRTIO_SCSI_MULTIQUEUE' },
      { type: 'SEV_CAPABLE' },
      { type: 'UEFI_COMPATIBLE' },
      { type: 'GVNIC' },
    ],
    storageLocations: ['eu', 'us', 'asia'],
    architecture: 'X86_64',
  };
}

export function getImageFromFamily(_rt: GceRuntime, call: GceCall, family: string): SimResponse {
  const image = IMAGES.find((i) => i.project === call.project && i.family === family);
  if (!image) throw notFound(`projects/${call.project}/global/images/family/${family}`);
  return ok(renderImage(image));
}

export function getImage(_rt: GceRuntime, call: GceCall, name: string): SimResponse {
  const image = IMAGES.find((i) => i.project === call.project && i.name === name);
  if (!image) throw notFound(`projects/${call.project}/global/images/${name}`);
  return ok(renderImage(image));
}

export function listImages(_rt: GceRuntime, call: GceCall): SimResponse {
  return listResponse(
    call,
    'compute#imageList',
    `projects/${call.project}/global/images`,
    IMAGES.filter((i) => i.project === call.project).map(renderImage),
  );
}
