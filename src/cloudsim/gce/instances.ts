import type { SimResponse } from '../core/types.js';
import { IMAGES, MACHINE_TYPE_BY_NAME, regionOf, ZONE_NAMES, ZONES } from './catalog.js';
import { alreadyExists, GceError, invalidField, notFound, required, type OperationFailure } from './errors.js';
import { compileFilter, type FieldGetter } from './filter.js';
import { JsonBuffer } from './json-buffer.js';
import { usableNetwork, usableSubnet } from './network.js';
import { mutate } from './operations.js';
import { decodeToken, encodeToken, pageSize } from './paging.js';
import { link, parseRef, refName } from './refs.js';
import { ok, type GceCall, type GceRuntime } from './runtime.js';
import type { SubnetRec, VmProps, VmRec, ZoneVms } from './state.js';
import { int64, intToIp, ipToInt, objectField, str, validLabels, validMetadata, validName } from './validate.js';

/** instances insert / bulkInsert / get / list / aggregatedList / delete, and instanceTemplates. */

const MAX_BULK = 5000;
const NAT_BASE = ipToInt('34.118.0.0')!;

export function knownZone(zone: string): void {
  if (!ZONES.has(zone)) throw invalidField('zone', zone, 'Unknown zone.');
}

const instancePath = (project: string, zone: string, name: string) => `projects/${project}/zones/${zone}/instances/${name}`;

// ---- instance properties -----------------------------------------------------------------------------------

interface Parsed {
  readonly props: VmProps;
  readonly subnet: SubnetRec;
  /** Requested primary internal address (insert only). */
  readonly networkIP?: number;
}

function resolveImage(ref: string, project: string, field: string): string {
  const { project: p, segments } = parseRef(ref, project);
  if (segments[0] === 'global' && segments[1] === 'images') {
    const image = segments[2] === 'family'
      ? IMAGES.find((i) => i.project === p && i.family === segments[3])
      : IMAGES.find((i) => i.project === p && i.name === segments[2]);
    if (image) return link(`projects/${image.project}/global/images/${image.name}`);
    throw notFound(`projects/${p}/global/images/${segments.slice(2).join('/')}`);
  }
  throw invalidField(field, ref, 'The URL is malformed.');
}

/** Validates an Instance (insert) or InstanceProperties (bulkInsert, templates) body into shared VM props. */
function parseProperties(rt: GceRuntime, project: string, zone: string, b: Record<string, unknown>, prefix: string, allowNetworkIp: boolean): Parsed {
  const region = regionOf(zone)!.name;
  const mtRef = str(b.machineType);
  if (!mtRef) throw required(`${prefix}.machineType`);
  const mtName = refName(mtRef, project, 'machineTypes')?.name ?? '';
  if (!MACHINE_TYPE_BY_NAME.has(mtName)) throw invalidField(`${prefix}.machineType`, mtRef, `Machine type with name '${mtName || mtRef}' does not exist in zone '${zone}'.`);

  const labels = validLabels(`${prefix}.labels`, b.labels);
  const metadata = validMetadata(`${prefix}.metadata`, b.metadata);
  const tagItems = (b.tags as { items?: unknown } | undefined)?.items;
  if (tagItems !== undefined && tagItems !== null && !Array.isArray(tagItems)) throw invalidField(`${prefix}.tags.items`, tagItems, 'Must be a list.');
  const tags = ((tagItems as unknown[] | undefined) ?? []).map((t, i) => validName(`${prefix}.tags.items[${i}]`, t));

  const nics = b.networkInterfaces;
  if (!Array.isArray(nics) || nics.length === 0) throw invalidField(`${prefix}.networkInterfaces`, '', 'At least one network interface must be specified.');
  const nic = objectField(nics[0], `${prefix}.networkInterfaces[0]`);
  let subnet: SubnetRec;
  if (str(nic.subnetwork)) {
    subnet = usableSubnet(rt, project, region, str(nic.subnetwork), `${prefix}.networkInterfaces[0].subnetwork`);
    if (str(nic.network)) {
      const network = usableNetwork(rt, project, nic.network, `${prefix}.networkInterfaces[0].network`);
      if (network.name !== subnet.network) throw invalidField(`${prefix}.networkInterfaces[0].subnetwork`, str(nic.subnetwork), `Subnetwork does not belong to network '${network.name}'.`);
    }
  } else {
    const network = usableNetwork(rt, project, str(nic.network) || 'global/networks/default', `${prefix}.networkInterfaces[0].network`);
    if (!network.autoCreateSubnetworks) throw invalidField(`${prefix}.networkInterfaces[0].subnetwork`, '', 'Subnetwork should be specified for custom subnetmode network');
    subnet = usableSubnet(rt, project, region, `regions/${region}/subnetworks/${network.name}`, `${prefix}.networkInterfaces[0].subnetwork`);
  }
  let networkIP: number | undefined;
  if (nic.networkIP !== undefined && nic.networkIP !== null && nic.networkIP !== '') {
    if (!allowNetworkIp) throw invalidField(`${prefix}.networkInterfaces[0].networkIP`, nic.networkIP, 'A fixed internal IP cannot be set for several instances.');
    networkIP = ipToInt(str(nic.networkIP));
    if (networkIP === undefined) throw invalidField(`${prefix}.networkInterfaces[0].networkIP`, nic.networkIP, 'Invalid IPv4 address.');
    if (networkIP < subnet.base || networkIP >= subnet.base + subnet.size) {
      throw invalidField(`${prefix}.networkInterfaces[0].networkIP`, nic.networkIP, `Requested internal IP is outside the subnetwork CIDR range ${subnet.cidr}.`);
    }
  }
  const access = nic.accessConfigs;
  const externalIp = Array.isArray(access) && access.some((a) => str((a as { type?: unknown } | null)?.type || 'ONE_TO_ONE_NAT') === 'ONE_TO_ONE_NAT');

  const disks = b.disks;
  if (!Array.isArray(disks) || disks.length === 0) throw invalidField(`${prefix}.disks`, '', 'At least one disk must be specified.');
  const boots = disks.filter((d) => (d as { boot?: unknown } | null)?.boot === true);
  if (boots.length !== 1) throw invalidField(`${prefix}.disks`, '', 'Exactly one boot disk must be specified.');
  const boot = boots[0] as { initializeParams?: { sourceImage?: unknown; diskSizeGb?: unknown }; source?: unknown };
  const sourceImageRef = str(boot.initializeParams?.sourceImage);
  if (!sourceImageRef) {
    if (str(boot.source)) throw notFound(parseRef(str(boot.source), project).segments.join('/'));
    throw required(`${prefix}.disks[0].initializeParams.sourceImage`);
  }
  const sourceImage = resolveImage(sourceImageRef, project, `${prefix}.disks[0].initializeParams.sourceImage`);
  const size = int64(`${prefix}.disks[0].initializeParams.diskSizeGb`, boot.initializeParams?.diskSizeGb, 10)!;
  if (size < 10) throw invalidField(`${prefix}.disks[0].initializeParams.diskSizeGb`, String(size), 'Requested disk size cannot be smaller than the image size (10 GB)');

  return {
    subnet,
    networkIP,
    props: {
      project,
      zone,
      machineType: mtName,
      labels,
      metadata,
      tags,
      network: subnet.network,
      subnetRegion: subnet.region,
      subnet: subnet.name,
      externalIp,
      sourceImage,
      diskSizeGb: String(size),
      description: str(b.description),
      canIpForward: b.canIpForward === true,
    },
  };
}

/** Merges a template's properties under the request's own (request fields win). */
function withTemplate(rt: GceRuntime, project: string, ref: string | undefined, own: Record<string, unknown>): Record<string, unknown> {
  if (!ref) return own;
  const parsed = refName(ref, project, 'instanceTemplates');
  if (!parsed) throw invalidField('sourceInstanceTemplate', ref, 'The URL is malformed.');
  const template = rt.state.templates.get(`${parsed.project}/${parsed.name}`);
  if (!template) throw notFound(`projects/${parsed.project}/global/instanceTemplates/${parsed.name}`);
  return { ...template.properties, ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0))) };
}

// ---- lifecycle ---------------------------------------------------------------------------------------------

function isGone(rt: GceRuntime, vm: VmRec): boolean {
  return vm.goneAt !== undefined && rt.now() >= vm.goneAt;
}

function purge(rt: GceRuntime, zone: ZoneVms, vm: VmRec): void {
  zone.remove(vm);
  rt.state.subnets.get(`${vm.props.project}/${vm.props.subnetRegion}/${vm.props.subnet}`)?.used.delete(vm.ip);
}

export function vmStatus(rt: GceRuntime, vm: VmRec): string {
  if (vm.deletedAt !== undefined) return 'STOPPING';
  if (vm.failed) return 'TERMINATED';
  const age = rt.now() - vm.createdAt;
  if (age < rt.bootMs * 0.3) return 'PROVISIONING';
  if (age < rt.bootMs) return 'STAGING';
  if (rt.ctx.settings.backing === 'local' && rt.ctx.backing && vm.backingIp === undefined) return 'STAGING';
  return 'RUNNING';
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
  return props.metadata.find((m) => m.key === 'user-data')?.value ?? props.metadata.find((m) => m.key === 'startup-script')?.value ?? '';
}

function startBacking(rt: GceRuntime, vm: VmRec): void {
  const backing = rt.ctx.backing;
  if (rt.ctx.settings.backing !== 'local' || !backing) return;
  backing
    .start({ cloud: 'gcp', id: vm.id, name: vm.name, privateIp: intToIp(vm.ip), userData: userDataOf(vm.props), tags: vm.props.labels })
    .then(
      (r) => void (vm.backingIp = r.privateIp),
      () => void (vm.failed = true),
    );
}

/** Creates the VMs of one accepted insert/bulkInsert, or returns the async failure of the operation. */
function createVms(rt: GceRuntime, parsed: Parsed, names: readonly string[]): { vms: VmRec[]; failure?: OperationFailure } {
  const { props, subnet } = parsed;
  const zonePath = `projects/${props.project}/zones/${props.zone}`;
  const region = regionOf(props.zone)!.name;
  const capacity = rt.ctx.takeFault({ cloud: 'gcp', kind: 'capacity', zone: props.zone, region, instanceType: props.machineType });
  if (capacity?.mode === 'sync') {
    throw new GceError(503, 'ZONE_RESOURCE_POOL_EXHAUSTED', `The zone '${zonePath}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`);
  }
  if (capacity) {
    return { vms: [], failure: { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: `The zone '${zonePath}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`, httpStatus: 503 } };
  }
  const quota = rt.ctx.takeFault({ cloud: 'gcp', kind: 'quota', zone: props.zone, region, instanceType: props.machineType });
  const cpus = MACHINE_TYPE_BY_NAME.get(props.machineType)!.guestCpus * names.length;
  const quotaMessage = `Quota 'CPUS' exceeded.  Limit: 24.0 in region ${region}.`;
  if (quota?.mode === 'sync') throw new GceError(403, 'quotaExceeded', quotaMessage, { metadata: { quota_metric: 'CPUS', requested: String(cpus) } });
  if (quota) return { vms: [], failure: { code: 'QUOTA_EXCEEDED', message: quotaMessage, httpStatus: 403 } };

  const ips: number[] = [];
  if (parsed.networkIP !== undefined) {
    if (subnet.used.has(parsed.networkIP)) {
      return { vms: [], failure: { code: 'IP_IN_USE_BY_ANOTHER_RESOURCE', message: `IP '${intToIp(parsed.networkIP)}' is already being used by another resource.`, httpStatus: 400 } };
    }
    subnet.used.add(parsed.networkIP);
    ips.push(parsed.networkIP);
  } else {
    for (let i = 0; i < names.length; i++) {
      const ip = allocateIp(subnet);
      if (ip === undefined) {
        for (const used of ips) subnet.used.delete(used);
        return { vms: [], failure: { code: 'IP_SPACE_EXHAUSTED', message: `IP space of 'projects/${subnet.project}/regions/${subnet.region}/subnetworks/${subnet.name}' is exhausted.`, httpStatus: 400 } };
      }
      ips.push(ip);
    }
  }
  const zone = rt.state.zoneVms(props.project, props.zone);
  const now = rt.now();
  const vms = names.map((name, i) => {
    const vm: VmRec = { name, id: rt.newId(), zone: props.zone, props, seq: ++rt.state.seq, createdAt: now, ip: ips[i]! };
    if (props.externalIp) vm.natIp = NAT_BASE + rt.state.natNext++;
    zone.add(vm);
    startBacking(rt, vm);
    return vm;
  });
  return { vms };
}

// ---- insert / bulkInsert -----------------------------------------------------------------------------------

export function insertInstance(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  return mutate(rt, call, () => {
    knownZone(zone);
    const own = objectField(call.body, 'resource');
    const b = withTemplate(rt, call.project, call.query.get('sourceInstanceTemplate') ?? undefined, own);
    const name = validName('resource.name', own.name);
    const zv = rt.state.zoneVms(call.project, zone);
    const existing = zv.byName.get(name);
    if (existing && !isGone(rt, existing)) throw alreadyExists(instancePath(call.project, zone, name));
    if (existing) purge(rt, zv, existing);
    const parsed = parseProperties(rt, call.project, zone, b, 'resource', true);
    const { vms, failure } = createVms(rt, parsed, [name]);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'insert',
      targetPath: instancePath(call.project, zone, name),
      targetId: vms[0]?.id ?? rt.newId(),
      durationMs: failure ? rt.bootMs / 2 : rt.bootMs,
      failure,
    };
  });
}

const PATTERN = /^([a-z][-a-z0-9]*?)(#+)([-a-z0-9]*)$/;

/** Names for `count` new instances: the perInstanceProperties keys first, then namePattern numbers. */
function bulkNames(rt: GceRuntime, project: string, zone: string, b: Record<string, unknown>): { names: string[]; minCount: number } {
  const per = b.perInstanceProperties === undefined || b.perInstanceProperties === null ? {} : objectField(b.perInstanceProperties, 'resource.perInstanceProperties');
  const fixed = Object.keys(per);
  fixed.forEach((n) => {
    validName(`resource.perInstanceProperties[${n}]`, n);
    const value = (per[n] ?? {}) as { name?: unknown };
    if (value.name !== undefined && value.name !== '' && value.name !== n) throw invalidField(`resource.perInstanceProperties[${n}].name`, value.name, 'Must match the map key.');
  });
  const count = int64('resource.count', b.count, fixed.length)!;
  if (count < 1) throw invalidField('resource.count', String(count), 'Must be greater than or equal to 1');
  if (count > MAX_BULK) throw invalidField('resource.count', String(count), `Must be less than or equal to ${MAX_BULK}`);
  if (fixed.length > count) throw invalidField('resource.count', String(count), 'Must be greater than or equal to the number of perInstanceProperties.');
  const minCount = int64('resource.minCount', b.minCount, count)!;
  if (minCount < 1 || minCount > count) throw invalidField('resource.minCount', String(minCount), 'Must be between 1 and count.');

  const zv = rt.state.zoneVms(project, zone);
  for (const n of fixed) {
    const vm = zv.byName.get(n);
    if (vm && !isGone(rt, vm)) throw alreadyExists(instancePath(project, zone, n));
    if (vm) purge(rt, zv, vm);
  }
  const names = [...fixed];
  if (count > fixed.length) {
    const pattern = str(b.namePattern);
    if (!pattern) throw invalidField('resource.namePattern', '', 'Either namePattern or perInstanceProperties must name every instance.');
    const m = PATTERN.exec(pattern);
    if (!m || pattern.length > 63 || m[2]!.length > 8) throw invalidField('resource.namePattern', pattern, "Must be a valid instance name with one sequence of up to 8 '#' characters.");
    const [, head, hashes, tail] = m as unknown as [string, string, string, string];
    const numbered = new RegExp(`^${head.replace(/-/g, '\\-')}(\\d{${hashes.length},})${tail.replace(/-/g, '\\-')}$`);
    let next = 0;
    for (const vm of zv.byName.values()) {
      const hit = numbered.exec(vm.name);
      if (hit) next = Math.max(next, Number(hit[1]));
    }
    const taken = new Set(fixed);
    while (names.length < count) {
      next++;
      const name = `${head}${String(next).padStart(hashes.length, '0')}${tail}`;
      if (String(next).length > hashes.length) throw invalidField('resource.namePattern', pattern, 'Not enough free names for the requested count.');
      if (!taken.has(name)) names.push(name);
    }
  }
  return { names, minCount };
}

export function bulkInsertInstances(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  return mutate(rt, call, () => {
    knownZone(zone);
    const b = objectField(call.body, 'resource');
    const own = b.instanceProperties === undefined ? {} : objectField(b.instanceProperties, 'resource.instanceProperties');
    const templateRef = str(b.sourceInstanceTemplate) || undefined;
    if (!templateRef && b.instanceProperties === undefined) throw required('resource.instanceProperties');
    const props = withTemplate(rt, call.project, templateRef, own);
    const { names, minCount } = bulkNames(rt, call.project, zone, b);
    const parsed = parseProperties(rt, call.project, zone, props, 'resource.instanceProperties', false);
    const { vms, failure } = createVms(rt, parsed, names);
    if (!failure && vms.length < minCount) throw new Error('unreachable: partial bulk creation');
    return {
      scope: 'zones',
      location: zone,
      operationType: 'bulkInsert',
      targetPath: `projects/${call.project}/zones/${zone}`,
      targetId: rt.newId(),
      durationMs: failure ? rt.bootMs / 2 : rt.bootMs,
      failure,
      bulk: { target: names.length, created: vms.length, failed: failure ? names.length : 0 },
    };
  });
}

// ---- rendering ---------------------------------------------------------------------------------------------

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
  const bytes = [h1 >>> 24, (h1 >>> 16) & 255, (h1 >>> 8) & 255, h1 & 255, h2 >>> 24, (h2 >>> 16) & 255, (h2 >>> 8) & 255, h2 & 255];
  let out = '';
  for (let i = 0; i < 6; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!;
  }
  const n = (bytes[6]! << 16) | (bytes[7]! << 8);
  return `${out}${B64[n >>> 18]!}${B64[(n >>> 12) & 63]!}${B64[(n >>> 6) & 63]!}=`;
}

/** Pieces of the instance JSON that every VM of one call shares, built once (list pages are string concatenation). */
interface Template {
  readonly zoneLink: string;
  readonly nicHead: string;
  readonly diskTail: string;
  /** UTF-8: labels, metadata and description may hold any character. */
  readonly shared: Buffer;
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
  t = {
    zoneLink: link(`projects/${props.project}/zones/${props.zone}`),
    nicHead:
      `"networkInterfaces":[{"kind":"compute#networkInterface","network":"${link(`projects/${props.project}/global/networks/${props.network}`)}",` +
      `"subnetwork":"${link(`projects/${props.project}/regions/${props.subnetRegion}/subnetworks/${props.subnet}`)}","networkIP":"`,
    diskTail: `","deviceName":"persistent-disk-0","index":0,"boot":true,"autoDelete":true,"interface":"SCSI","diskSizeGb":"${props.diskSizeGb}","architecture":"X86_64"}],`,
    shared: Buffer.from(parts.join(','), 'utf8'),
  };
  templates.set(props, t);
  return t;
}

/** Appends the instance JSON. Names, ids and addresses are validated to JSON-safe ASCII, so no escaping is needed. */
function renderVm(rt: GceRuntime, vm: VmRec, status: string, out: JsonBuffer): void {
  const t = templateOf(vm.props);
  const ip = vm.backingIp ?? intToIp(vm.ip);
  const nat = vm.natIp === undefined ? '' : `,"accessConfigs":[{"kind":"compute#accessConfig","type":"ONE_TO_ONE_NAT","name":"External NAT","natIP":"${vm.backingIp ?? intToIp(vm.natIp)}","networkTier":"PREMIUM"}]`;
  out.text(
    `{"kind":"compute#instance","id":"${vm.id}","creationTimestamp":"${rt.timestamp(vm.createdAt)}","name":"${vm.name}","status":"${status}",` +
      (status === 'RUNNING' ? `"lastStartTimestamp":"${rt.timestamp(vm.createdAt + rt.bootMs)}",` : '') +
      `"zone":"${t.zoneLink}",${t.nicHead}${ip}","name":"nic0"${nat},"stackType":"IPV4_ONLY","fingerprint":"${fingerprintOf(vm.id)}"}],` +
      `"disks":[{"kind":"compute#attachedDisk","type":"PERSISTENT","mode":"READ_WRITE","source":"${t.zoneLink}/disks/${vm.name}${t.diskTail}`,
  );
  out.bytes(t.shared);
  out.text(`,"fingerprint":"${fingerprintOf(vm.name)}","selfLink":"${t.zoneLink}/instances/${vm.name}","selfLinkWithId":"${t.zoneLink}/instances/${vm.id}"}`);
}

function vmGetter(vm: VmRec, status: string): FieldGetter {
  return (path) => {
    if (path.startsWith('labels.')) return vm.props.labels[path.slice(7)];
    switch (path) {
      case 'name': return vm.name;
      case 'status': return status;
      case 'id': return vm.id;
      case 'zone': return link(`projects/${vm.props.project}/zones/${vm.zone}`);
      case 'machineType': return link(`projects/${vm.props.project}/zones/${vm.zone}/machineTypes/${vm.props.machineType}`);
      case 'description': return vm.props.description || undefined;
      case 'tags.items': return vm.props.tags.join(' ') || undefined;
      case 'networkInterfaces.networkIP': return vm.backingIp ?? intToIp(vm.ip);
      case 'labels': return Object.keys(vm.props.labels).length ? JSON.stringify(vm.props.labels) : undefined;
      default: return undefined;
    }
  };
}

// ---- get / list / delete -----------------------------------------------------------------------------------

function liveVm(rt: GceRuntime, project: string, zone: string, name: string): VmRec {
  knownZone(zone);
  const zv = rt.state.zones.get(`${project}/${zone}`);
  const vm = zv?.byName.get(name);
  if (!vm || isGone(rt, vm)) {
    if (vm) purge(rt, zv!, vm);
    throw notFound(instancePath(project, zone, name));
  }
  return vm;
}

export function getInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  const vm = liveVm(rt, call.project, zone, name);
  const out = new JsonBuffer();
  renderVm(rt, vm, vmStatus(rt, vm), out);
  return ok(out.build());
}

/**
 * Appends up to `size` matching VMs of a zone after `afterSeq` (comma-separated) and returns how many, plus
 * the seq to continue from when another matching VM exists (looked ahead, so the last page has no token).
 */
function zonePage(rt: GceRuntime, zv: ZoneVms | undefined, afterSeq: number, size: number, filter: string | null, out: JsonBuffer): { count: number; resume?: number } {
  if (!zv) return { count: 0 };
  const predicate = compileFilter(filter);
  const gone: VmRec[] = [];
  let count = 0;
  let resume: number | undefined;
  const order = zv.order;
  for (let i = zv.startAfter(afterSeq); i < order.length; i++) {
    const vm = order[i]!;
    if (!zv.isLive(vm)) continue;
    if (isGone(rt, vm)) { gone.push(vm); continue; }
    const status = vmStatus(rt, vm);
    if (predicate && !predicate(vmGetter(vm, status))) continue;
    if (count >= size) { resume = i > 0 ? order[i - 1]!.seq : afterSeq; break; }
    if (count > 0) out.text(',');
    renderVm(rt, vm, status, out);
    count++;
  }
  for (const vm of gone) purge(rt, zv, vm);
  // `resume` is the seq just before the look-ahead hit; every appended VM is at or before it.
  return resume === undefined ? { count } : { count, resume: Math.max(afterSeq, resume) };
}

export function listInstances(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  knownZone(zone);
  const size = pageSize(call.query);
  const after = decodeToken(call.query, 1)?.[0] ?? 0;
  const out = new JsonBuffer().text(`{"kind":"compute#instanceList","id":"projects/${call.project}/zones/${zone}/instances","items":[`);
  const { resume } = zonePage(rt, rt.state.zones.get(`${call.project}/${zone}`), after, size, call.query.get('filter'), out);
  out.text(`]${resume === undefined ? '' : `,"nextPageToken":"${encodeToken([resume])}"`},"selfLink":"${link(`projects/${call.project}/zones/${zone}/instances`)}"}`);
  return ok(out.build());
}

/** `aggregated/instances`: every zone in catalog order; the page token holds the zone index and seq. */
export function aggregatedInstances(rt: GceRuntime, call: GceCall): SimResponse {
  const size = pageSize(call.query);
  const [startZone, startSeq] = decodeToken(call.query, 2) ?? [0, 0];
  const out = new JsonBuffer().text(`{"kind":"compute#instanceAggregatedList","id":"projects/${call.project}/aggregated/instances","items":{`);
  let token: string | undefined;
  let total = 0;
  for (let z = 0; z < ZONE_NAMES.length; z++) {
    const scope = `zones/${ZONE_NAMES[z]!}`;
    if (z > 0) out.text(',');
    const items = new JsonBuffer();
    let count = 0;
    if (z >= startZone! && token === undefined) {
      const page = zonePage(rt, rt.state.zones.get(`${call.project}/${ZONE_NAMES[z]!}`), z === startZone ? startSeq! : 0, size - total, call.query.get('filter'), items);
      count = page.count;
      total += count;
      if (page.resume !== undefined) token = encodeToken([z, page.resume]);
    }
    if (count) out.text(`"${scope}":{"instances":[`).bytes(items.build()).text(']}');
    else out.text(`"${scope}":{"warning":{"code":"NO_RESULTS_ON_PAGE","message":"There are no results for scope '${scope}' on this page.","data":[{"key":"scope","value":"${scope}"}]}}`);
  }
  out.text(`}${token === undefined ? '' : `,"nextPageToken":"${token}"`},"selfLink":"${link(`projects/${call.project}/aggregated/instances`)}"}`);
  return ok(out.build());
}

export function deleteInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    const vm = liveVm(rt, call.project, zone, name);
    const now = rt.now();
    if (vm.deletedAt === undefined) {
      vm.deletedAt = now;
      vm.goneAt = now + rt.bootMs / 2;
      if (rt.ctx.settings.backing === 'local' && rt.ctx.backing) rt.ctx.backing.stop({ cloud: 'gcp', id: vm.id }).catch(() => undefined);
    }
    return {
      scope: 'zones',
      location: zone,
      operationType: 'delete',
      targetPath: instancePath(call.project, zone, name),
      targetId: vm.id,
      durationMs: vm.goneAt! - now,
    };
  });
}

// ---- instanceTemplates -------------------------------------------------------------------------------------

const templatePath = (project: string, name: string) => `projects/${project}/global/instanceTemplates/${name}`;

function renderTemplate(rt: GceRuntime, t: { project: string; name: string; id: string; createdAt: number; description: string; properties: Record<string, unknown> }): Record<string, unknown> {
  return {
    kind: 'compute#instanceTemplate',
    id: t.id,
    creationTimestamp: rt.timestamp(t.createdAt),
    name: t.name,
    description: t.description || undefined,
    properties: t.properties,
    selfLink: link(templatePath(t.project, t.name)),
  };
}

export function insertTemplate(rt: GceRuntime, call: GceCall): SimResponse {
  return mutate(rt, call, () => {
    const b = objectField(call.body, 'resource');
    const name = validName('resource.name', b.name);
    if (rt.state.templates.has(`${call.project}/${name}`)) throw alreadyExists(templatePath(call.project, name));
    const properties = objectField(b.properties, 'resource.properties');
    const mt = str(properties.machineType);
    if (!mt) throw required('resource.properties.machineType');
    if (!MACHINE_TYPE_BY_NAME.has(refName(mt, call.project, 'machineTypes')?.name ?? '')) throw invalidField('resource.properties.machineType', mt, `Machine type with name '${mt}' does not exist.`);
    validLabels('resource.properties.labels', properties.labels);
    validMetadata('resource.properties.metadata', properties.metadata);
    const t = { project: call.project, name, id: rt.newId(), createdAt: rt.now(), description: str(b.description), properties };
    rt.state.templates.set(`${call.project}/${name}`, t);
    return {
      scope: 'global',
      location: '',
      operationType: 'insert',
      targetPath: templatePath(call.project, name),
      targetId: t.id,
      durationMs: rt.shortMs,
    };
  });
}

export function getTemplate(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  const t = rt.state.templates.get(`${call.project}/${name}`);
  if (!t) throw notFound(templatePath(call.project, name));
  return ok(renderTemplate(rt, t));
}

export function listTemplates(rt: GceRuntime, call: GceCall): Record<string, unknown>[] {
  return [...rt.state.templates.values()].filter((t) => t.project === call.project).map((t) => renderTemplate(rt, t));
}

export function deleteTemplate(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  return mutate(rt, call, () => {
    const key = `${call.project}/${name}`;
    const t = rt.state.templates.get(key);
    if (!t) throw notFound(templatePath(call.project, name));
    rt.state.templates.delete(key);
    return {
      scope: 'global',
      location: '',
      operationType: 'delete',
      targetPath: templatePath(call.project, name),
      targetId: t.id,
      durationMs: rt.shortMs,
    };
  });
}

/** Live VMs for the admin inventory (purging the ones whose deletion finished). */
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
