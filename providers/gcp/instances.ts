import { CloudApiError } from '../../src/errors.js';
import { type Instance, type InstanceState, tagsFromRecord } from '../../src/providers/types.js';
import { lastSegment, regionOfZone } from './util.js';

/** Compute Engine instances as skypool Instances. The id is `<zone>/<name>` (names are unique per zone). */
export interface GceInstance {
  name?: string | null;
  id?: string | null;
  zone?: string | null;
  machineType?: string | null;
  status?: string | null;
  labels?: Record<string, string> | null;
  creationTimestamp?: string | null;
  metadata?: { items?: { key?: string | null; value?: string | null }[] | null } | null;
  networkInterfaces?: { networkIP?: string | null; accessConfigs?: { natIP?: string | null }[] | null }[] | null;
}

function mapState(status: string | null | undefined): InstanceState {
  switch (status) {
    case 'PROVISIONING':
    case 'STAGING':
    case 'REPAIRING':
      return 'pending';
    case 'RUNNING':
      return 'running';
    // A GCE "TERMINATED" VM is stopped, not gone: it still exists (and costs its disk), so skypool lists it.
    case 'TERMINATED':
    case 'SUSPENDING':
    case 'SUSPENDED':
      return 'stopped';
    // STOPPING is both a stop and a delete under way; only the next listing tells which.
    default:
      return 'stopping';
  }
}

/** The skypool view of a VM; undefined when it lacks skypool's ownership labels. */
export function toInstance(vm: GceInstance): Instance | undefined {
  const tags = tagsFromRecord(vm.labels ?? {});
  if (!tags || !vm.name || !vm.zone) return undefined;
  const zone = lastSegment(vm.zone)!;
  const nic = vm.networkInterfaces?.[0];
  const privateIp = nic?.networkIP ?? undefined;
  const publicIp = nic?.accessConfigs?.[0]?.natIP ?? undefined;
  return {
    id: `${zone}/${vm.name}`,
    name: vm.name,
    provider: 'gcp',
    region: regionOfZone(zone),
    zone,
    ...(vm.machineType ? { instanceType: lastSegment(vm.machineType)! } : {}),
    state: mapState(vm.status),
    ...(privateIp ? { privateIp } : {}),
    ...(publicIp ? { publicIp } : {}),
    tags,
    ...(vm.creationTimestamp ? { launchedAt: new Date(vm.creationTimestamp).toISOString() } : {}),
  };
}

export function parseInstanceId(id: string): { zone: string; name: string } {
  const [zone, name, ...rest] = id.split('/');
  if (!zone || !name || rest.length)
    throw new CloudApiError(`"${id}" is not a gcp instance id (expected <zone>/<name>)`, { id });
  return { zone, name };
}
