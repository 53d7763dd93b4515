import type { SimResponse } from '../core/types.js';
import { knownZone, ZONE_NAMES } from './catalog.js';
import { GceError, notFound } from './errors.js';
import { mutate } from './operations.js';
import { listResponse, paginate } from './paging.js';
import { link } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import type { DiskRec, VmRec } from './state.js';
import { instancePath, isGone, purge } from './vm-lifecycle.js';

/**
 * Persistent disks: the boot disk each instance is created with (named after it), listed per zone and
 * aggregated, read and deleted. A boot disk lives as long as its instance; when the instance is deleted it goes
 * too if it was attached with `autoDelete: true`, else it stays READY with no users (an orphan until deleted).
 * As in Compute Engine the boot disk carries `initializeParams.labels`, not the instance's labels.
 */

export const diskPath = (project: string, zone: string, name: string) =>
  `projects/${project}/zones/${zone}/disks/${name}`;

/** The disk a deleted instance leaves behind, if it did not auto-delete it. */
export function leftDisk(vm: VmRec): DiskRec | undefined {
  if (vm.failed || vm.props.bootAutoDelete !== false) return undefined;
  return bootDisk(vm);
}

function bootDisk(vm: VmRec): DiskRec {
  return {
    project: vm.props.project,
    zone: vm.zone,
    name: vm.name,
    id: vm.id,
    sizeGb: vm.props.diskSizeGb,
    sourceImage: vm.props.sourceImage,
    labels: vm.props.diskLabels ?? {},
    createdAt: vm.createdAt,
    instanceLabels: vm.props.labels,
  };
}

/** Instances whose deletion finished are purged first, so the disks they left are in `state.disks`. */
function settle(rt: GceRuntime): void {
  for (const zv of rt.state.zones.values())
    for (const vm of [...zv.byName.values()]) if (isGone(rt, vm)) purge(rt, zv, vm);
}

interface DiskView {
  readonly disk: DiskRec;
  /** The instance using it, if any. */
  readonly user?: VmRec;
}

/** Every disk of a project and zone: boot disks of live instances, then disks left behind. */
function disksIn(rt: GceRuntime, project: string, zone: string): DiskView[] {
  const out: DiskView[] = [];
  const zv = rt.state.zones.get(`${project}/${zone}`);
  for (const vm of zv?.byName.values() ?? []) {
    if (vm.failed || isGone(rt, vm)) continue;
    out.push({ disk: bootDisk(vm), user: vm });
  }
  for (const d of rt.state.disks.values()) if (d.project === project && d.zone === zone) out.push({ disk: d });
  return out;
}

/** Every disk of every project, for the sim's inventory. */
export function inventoryDisks(rt: GceRuntime): DiskView[] {
  settle(rt);
  const zones = new Set<string>();
  for (const key of rt.state.zones.keys()) zones.add(key);
  for (const d of rt.state.disks.values()) zones.add(`${d.project}/${d.zone}`);
  return [...zones].flatMap((key) => {
    const slash = key.lastIndexOf('/');
    return disksIn(rt, key.slice(0, slash), key.slice(slash + 1));
  });
}

function diskJson(rt: GceRuntime, view: DiskView): Record<string, unknown> {
  const d = view.disk;
  const path = diskPath(d.project, d.zone, d.name);
  return {
    kind: 'compute#disk',
    id: d.id,
    creationTimestamp: rt.timestamp(d.createdAt),
    name: d.name,
    sizeGb: d.sizeGb,
    zone: link(`projects/${d.project}/zones/${d.zone}`),
    status: view.user?.deletedAt !== undefined ? 'DELETING' : 'READY',
    selfLink: link(path),
    sourceImage: link(d.sourceImage),
    type: link(`projects/${d.project}/zones/${d.zone}/diskTypes/pd-balanced`),
    ...(Object.keys(d.labels).length ? { labels: d.labels } : {}),
    ...(view.user ? { users: [link(instancePath(d.project, d.zone, d.name))] } : {}),
    physicalBlockSizeBytes: '4096',
    architecture: 'X86_64',
  };
}

export function listDisks(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  knownZone(zone);
  settle(rt);
  const path = `projects/${call.project}/zones/${zone}/disks`;
  return listResponse(
    call,
    'compute#diskList',
    path,
    disksIn(rt, call.project, zone).map((v) => diskJson(rt, v)),
  );
}

/** `aggregated/disks`: every zone in catalog order, offset paging over the whole list. */
export function aggregatedDisks(rt: GceRuntime, call: GceCall): SimResponse {
  settle(rt);
  const all = ZONE_NAMES.flatMap((zone) => disksIn(rt, call.project, zone).map((v) => ({ zone, v })));
  const page = paginate(all, call.query);
  const items: Record<string, unknown> = {};
  for (const zone of ZONE_NAMES) {
    const here = page.items.filter((i) => i.zone === zone).map((i) => diskJson(rt, i.v));
    const scope = `zones/${zone}`;
    items[scope] = here.length
      ? { disks: here }
      : {
          warning: {
            code: 'NO_RESULTS_ON_PAGE',
            message: `There are no results for scope '${scope}' on this page.`,
            data: [{ key: 'scope', value: scope }],
          },
        };
  }
  return ok({
    kind: 'compute#diskAggregatedList',
    id: `projects/${call.project}/aggregated/disks`,
    items,
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    selfLink: link(`projects/${call.project}/aggregated/disks`),
  });
}

function findDisk(rt: GceRuntime, project: string, zone: string, name: string): DiskView {
  knownZone(zone);
  settle(rt);
  const found = disksIn(rt, project, zone).find((v) => v.disk.name === name);
  if (!found) throw notFound(diskPath(project, zone, name));
  return found;
}

export function getDisk(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return ok(diskJson(rt, findDisk(rt, call.project, zone, name)));
}

export function deleteDisk(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    const path = diskPath(call.project, zone, name);
    const view = findDisk(rt, call.project, zone, name);
    if (view.user)
      throw new GceError(
        400,
        'resourceInUseByAnotherResource',
        `The disk resource '${path}' is already being used by '${instancePath(call.project, zone, name)}'`,
      );
    rt.state.disks.delete(`${call.project}/${zone}/${name}`);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'delete',
      targetPath: path,
      targetId: view.disk.id,
      durationMs: Math.max(1, rt.bootMs / 4),
    };
  });
}
