import type { FieldGetter } from './filter.js';
import type { JsonBuffer } from './json-buffer.js';
import { link } from './refs.js';
import type { GceRuntime } from './runtime.js';
import type { VmProps, VmRec } from './state.js';
import { intToIp } from './validate.js';

/** Instance JSON, built from pieces shared per launch so list pages stay cheap. */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** An opaque, stable 8-byte fingerprint in base64 (the shape Compute Engine uses), from a 64-bit FNV-style hash. */
function fingerprintOf(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 16777619) >>> 0;
    h2 = Math.imul(h2 ^ c, 2246822519) >>> 0;
  }
  const bytes = [
    h1 >>> 24,
    (h1 >>> 16) & 255,
    (h1 >>> 8) & 255,
    h1 & 255,
    h2 >>> 24,
    (h2 >>> 16) & 255,
    (h2 >>> 8) & 255,
    h2 & 255,
  ];
  let out = '';
  for (let i = 0; i < 6; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!;
  }
  const n = (bytes[6]! << 16) | (bytes[7]! << 8);
  return `${out}${B64[n >>> 18]!}${B64[(n >>> 12) & 63]!}${B64[(n >>> 6) & 63]!}=`;
}

/** Byte pieces of the instance JSON that are the same for every VM of one launch, encoded once. */
interface Template {
  /** `"zone":"…","networkInterfaces":[{…,"networkIP":"` */
  readonly zoneNic: Buffer;
  /** `"disks":[{…,"source":"<zone>/disks/` */
  readonly diskHead: Buffer;
  /** Rest of the disk, then the shared fields (UTF-8: labels, metadata and description may hold any character). */
  readonly diskTailShared: Buffer;
  /** `<zone link>/instances/` */
  readonly instances: Buffer;
}

const templates = new WeakMap<VmProps, Template>();

function templateOf(props: VmProps): Template {
  let t = templates.get(props);
  if (t) return t;
  const labels = JSON.stringify(props.labels);
  const metadataItems = JSON.stringify(props.metadata);
  const parts = [
    `"machineType":${JSON.stringify(link(`projects/${props.project}/zones/${props.zone}/machineTypes/${props.machineType}`))}`,
    `"canIpForward":${props.canIpForward}`,
    `"tags":${JSON.stringify({ items: props.tags.length ? props.tags : undefined, fingerprint: fingerprintOf(props.tags.join(',')) })}`,
    `"metadata":{"kind":"compute#metadata","fingerprint":${JSON.stringify(fingerprintOf(metadataItems))}${props.metadata.length ? `,"items":${metadataItems}` : ''}}`,
    `"labels":${labels}`,
    `"labelFingerprint":${JSON.stringify(fingerprintOf(labels))}`,
    `"scheduling":{"onHostMaintenance":"MIGRATE","automaticRestart":true,"preemptible":false,"provisioningModel":"STANDARD"}`,
    `"cpuPlatform":"Intel Broadwell","deletionProtection":false,"startRestricted":false`,
    `"shieldedInstanceConfig":{"enableSecureBoot":false,"enableVtpm":true,"enableIntegrityMonitoring":true}`,
  ];
  if (props.description) parts.push(`"description":${JSON.stringify(props.description)}`);
  const zoneLink = link(`projects/${props.project}/zones/${props.zone}`);
  t = {
    zoneNic: Buffer.from(
      `"zone":"${zoneLink}","networkInterfaces":[{"kind":"compute#networkInterface","network":"${link(`projects/${props.project}/global/networks/${props.network}`)}",` +
        `"subnetwork":"${link(`projects/${props.project}/regions/${props.subnetRegion}/subnetworks/${props.subnet}`)}","networkIP":"`,
    ),
    diskHead: Buffer.from(
      `"disks":[{"kind":"compute#attachedDisk","type":"PERSISTENT","mode":"READ_WRITE","source":"${zoneLink}/disks/`,
    ),
    diskTailShared: Buffer.from(
      `","deviceName":"persistent-disk-0","index":0,"boot":true,"autoDelete":${props.bootAutoDelete !== false},"interface":"SCSI","diskSizeGb":"${props.diskSizeGb}","architecture":"X86_64"}],${parts.join(',')}`,
      'utf8',
    ),
    instances: Buffer.from(`${zoneLink}/instances/`),
  };
  templates.set(props, t);
  return t;
}

/** Appends the instance JSON. Names, ids and addresses are validated to JSON-safe ASCII, so no escaping is needed. */
export function renderVm(rt: GceRuntime, vm: VmRec, status: string, out: JsonBuffer): void {
  const t = templateOf(vm.props);
  const ip = vm.backingIp ?? intToIp(vm.ip);
  // A stopped VM keeps its access config; only the ephemeral address is gone until it starts again.
  const natIp =
    vm.natIp === undefined
      ? ''
      : `"natIP":"${(rt.ctx.settings.network !== 'realistic' && vm.backingIp) || intToIp(vm.natIp)}",`;
  const nat =
    vm.natIp === undefined && !(vm.stoppedAt !== undefined && vm.props.externalIp)
      ? ''
      : `,"accessConfigs":[{"kind":"compute#accessConfig","type":"ONE_TO_ONE_NAT","name":"External NAT",${natIp}"networkTier":"PREMIUM"}]`;
  out.text(
    `{"kind":"compute#instance","id":"${vm.id}","creationTimestamp":"${rt.timestamp(vm.createdAt)}","name":"${vm.name}","status":"${status}",` +
      (status === 'RUNNING'
        ? `"lastStartTimestamp":"${rt.timestamp((vm.startedAt ?? vm.createdAt) + rt.bootMs)}",`
        : '') +
      (vm.stoppedAt !== undefined ? `"lastStopTimestamp":"${rt.timestamp(vm.stoppedAt)}",` : ''),
  );
  out
    .bytes(t.zoneNic)
    .text(`${ip}","name":"nic0"${nat},"stackType":"IPV4_ONLY","fingerprint":"${fingerprintOf(vm.id)}"}],`);
  out.bytes(t.diskHead).text(vm.name).bytes(t.diskTailShared);
  out
    .text(`,"fingerprint":"${fingerprintOf(vm.name)}","selfLink":"`)
    .bytes(t.instances)
    .text(`${vm.name}","selfLinkWithId":"`)
    .bytes(t.instances)
    .text(`${vm.id}"}`);
}

export function vmGetter(vm: VmRec, status: string): FieldGetter {
  return (path) => {
    if (path.startsWith('labels.')) return vm.props.labels[path.slice(7)];
    switch (path) {
      case 'name':
        return vm.name;
      case 'status':
        return status;
      case 'id':
        return vm.id;
      case 'zone':
        return link(`projects/${vm.props.project}/zones/${vm.zone}`);
      case 'machineType':
        return link(`projects/${vm.props.project}/zones/${vm.zone}/machineTypes/${vm.props.machineType}`);
      case 'description':
        return vm.props.description || undefined;
      case 'tags.items':
        return vm.props.tags.join(' ') || undefined;
      case 'networkInterfaces.networkIP':
        return vm.backingIp ?? intToIp(vm.ip);
      case 'labels':
        return Object.keys(vm.props.labels).length ? JSON.stringify(vm.props.labels) : undefined;
      default:
        return undefined;
    }
  };
}
