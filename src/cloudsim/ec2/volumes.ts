import { createHash } from 'node:crypto';
import { type ActionHandler, page } from './action.js';
import { checkId, Ec2Error, notFound } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import type { Ec2Instance, Volume } from './model.js';
import type { Ec2Store } from './store.js';
import { NO_TAGS } from './tags.js';
import { tagSet, type XmlValue } from './xml.js';

/**
 * EBS volumes: the ones RunInstances / CreateFleet make with each instance (tagged from TagSpecification
 * ResourceType=volume), DescribeVolumes and DeleteVolume. A volume's state is derived from its instance when read.
 */

export type VolumeState = 'in-use' | 'available' | 'deleted';

/** Volume ids derive from the instance id and device, so volumes take nothing from the seeded id stream. */
function volumeId(instanceId: string, device: string): string {
  return `vol-${createHash('sha256').update(`${instanceId}\n${device}`).digest('hex').slice(0, 17)}`;
}

/** One volume per block device of the instance's launch, attached to it. */
export function addVolumes(store: Ec2Store, instance: Ec2Instance): void {
  const launch = instance.launch;
  for (const d of launch.blockDevices ?? []) {
    const volume: Volume = {
      id: volumeId(instance.id, d.device),
      region: launch.region,
      zone: launch.zone,
      sizeGiB: d.sizeGiB,
      volumeType: d.volumeType,
      deleteOnTermination: d.deleteOnTermination,
      device: d.device,
      createdAt: instance.createdAt,
      instanceId: instance.id,
      tags: launch.volumeTags ?? NO_TAGS,
    };
    store.volumes.set(volume.id, volume);
  }
}

/** In use while its instance is pending, running or shutting down; then deleted with it or left available. */
export function volumeState(store: Ec2Store, v: Volume, now = store.now()): VolumeState {
  if (v.settled) return v.settled;
  const instance = v.instanceId === undefined ? undefined : store.instances.get(v.instanceId);
  if (instance && store.stateOf(instance, now).name !== 'terminated') return 'in-use';
  if (v.instanceId === undefined) return 'available';
  return v.deleteOnTermination ? 'deleted' : 'available';
}

/** The instance a volume is attached to now, if any. */
function attachedTo(store: Ec2Store, v: Volume, now: number): Ec2Instance | undefined {
  if (volumeState(store, v, now) !== 'in-use') return undefined;
  return store.instances.get(v.instanceId!);
}

/** Called when an instance leaves the store: its volumes keep the state they reached. */
export function settleVolumes(store: Ec2Store, instance: Ec2Instance): void {
  for (const d of instance.launch.blockDevices ?? []) {
    const v = store.volumes.get(volumeId(instance.id, d.device));
    if (!v) continue;
    if (d.deleteOnTermination) store.volumes.delete(v.id);
    else {
      v.settled = 'available';
      v.instanceId = undefined;
    }
  }
}

function volumeXml(store: Ec2Store, v: Volume, now: number): XmlValue {
  const state = volumeState(store, v, now);
  const instance = attachedTo(store, v, now);
  const instanceState = instance ? store.stateOf(instance, now).name : undefined;
  return {
    volumeId: v.id,
    size: v.sizeGiB,
    snapshotId: '',
    availabilityZone: v.zone,
    status: state,
    createTime: new Date(v.createdAt).toISOString(),
    attachmentSet: instance
      ? [
          {
            volumeId: v.id,
            instanceId: instance.id,
            device: v.device,
            status: instanceState === 'shutting-down' ? 'detaching' : 'attached',
            attachTime: new Date(v.createdAt).toISOString(),
            deleteOnTermination: v.deleteOnTermination,
          },
        ]
      : [],
    volumeType: v.volumeType,
    iops: v.volumeType === 'gp3' ? 3000 : v.volumeType.startsWith('io') ? 3000 : undefined,
    throughput: v.volumeType === 'gp3' ? 125 : undefined,
    encrypted: false,
    multiAttachEnabled: false,
    tagSet: tagSet(v.tags),
  };
}

export const describeVolumes: ActionHandler = (ctx) => {
  const { params, store } = ctx;
  const now = store.now();
  const ids = params.strList('VolumeId');
  if (ids.length && params.has('MaxResults'))
    throw new Ec2Error(
      'InvalidParameterCombination',
      'The parameter volumeSet cannot be used with the parameter maxResults',
    );
  const live = [...store.volumes.values()].filter(
    (v) => v.region === ctx.region && volumeState(store, v, now) !== 'deleted',
  );
  let items = live;
  if (ids.length) {
    for (const id of ids) checkId(id, 'vol', 'VolumeID');
    const missing = ids.filter((id) => !live.some((v) => v.id === id));
    if (missing.length) throw notFound('Volume', 'volume', missing);
    items = live.filter((v) => ids.includes(v.id));
  }
  const fields: FilterFields<Volume> = {
    'volume-id': (v) => v.id,
    status: (v) => volumeState(store, v, now),
    'availability-zone': (v) => v.zone,
    size: (v) => String(v.sizeGiB),
    'volume-type': (v) => v.volumeType,
    'create-time': (v) => new Date(v.createdAt).toISOString(),
    encrypted: () => 'false',
    'attachment.instance-id': (v) => attachedTo(store, v, now)?.id,
    'attachment.device': (v) => (attachedTo(store, v, now) ? v.device : undefined),
    'attachment.delete-on-termination': (v) => (attachedTo(store, v, now) ? String(v.deleteOnTermination) : undefined),
    'attachment.status': (v) => (attachedTo(store, v, now) ? 'attached' : undefined),
  };
  const filter = parseFilters(params, fields);
  if (filter) items = items.filter((v) => filter.test(v));
  const paged = page(ctx, items, 5, 500);
  return { volumeSet: paged.items.map((v) => volumeXml(store, v, now)), nextToken: paged.nextToken };
};

export const deleteVolume: ActionHandler = (ctx) => {
  const { store } = ctx;
  const id = ctx.params.required('VolumeId');
  checkId(id, 'vol', 'VolumeID');
  const v = store.volumes.get(id);
  const now = store.now();
  if (!v || v.region !== ctx.region || volumeState(store, v, now) === 'deleted')
    throw notFound('Volume', 'volume', [id]);
  const instance = attachedTo(store, v, now);
  if (instance) throw new Ec2Error('VolumeInUse', `Volume ${id} is currently attached to ${instance.id}`);
  store.volumes.delete(id);
  return { return: true };
};
