import { type ArmCall, type ArmReply, groupsInScope, type Json, jsonBody, obj, requireGroup, str } from './call.js';
import { containsIp, formatIp, parseIp } from './cidr.js';
import {
  bodyLocation,
  checkName,
  checkSameLocation,
  deleteReply,
  etag,
  page,
  properties,
  putReply,
  tagsBody,
} from './common.js';
import { badRequest, resourceNotFound } from './errors.js';
import { findSubnet, invalidReference, requireNsg } from './network.js';
import { findPublicIp } from './public-ip.js';
import { networkResourceRef, parseId, resourceId } from './route.js';
import {
  type ArmStore,
  derivedUuid,
  type NicRecord,
  provisioningState,
  type ResourceGroupRecord,
  type SubnetRecord,
} from './store.js';

/** Network interfaces (Microsoft.Network/networkInterfaces) with one IP configuration each. */
const NET = 'Microsoft.Network';
const PAGE = 100;
/** Azure keeps the network address, the gateway, two DNS addresses and the broadcast address of a subnet. */
const RESERVED_HEAD = 4;

function mac(seq: number): string {
  const hex = (0x224800000000 + seq).toString(16).toUpperCase().padStart(12, '0');
  return hex.match(/../g)!.join('-');
}

export function nicJson(call: ArmCall, rg: ResourceGroupRecord, n: NicRecord): Json {
  const id = resourceId(call.sub, rg.name, NET, 'networkInterfaces', n.name);
  const state = provisioningState(n, call.now);
  const shown = state === 'Creating' ? 'Updating' : state;
  const props: Json = {
    provisioningState: shown,
    resourceGuid: derivedUuid(call.context.settings.seed, n.seq, 21),
    ipConfigurations: [
      {
        name: n.ipConfigName,
        id: `${id}/ipConfigurations/${n.ipConfigName}`,
        etag: etag(call.context.settings.seed, n.seq, n.gen),
        type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
        properties: {
          provisioningState: shown,
          privateIPAddress: formatIp(n.ip),
          privateIPAllocationMethod: n.allocation,
          subnet: { id: n.subnetId },
          ...(n.publicIpId ? { publicIPAddress: { id: n.publicIpId } } : {}),
          primary: true,
          privateIPAddressVersion: 'IPv4',
        },
      },
    ],
    dnsSettings: { dnsServers: [], appliedDnsServers: [] },
    enableAcceleratedNetworking: false,
    enableIPForwarding: false,
    disableTcpStateTracking: false,
    nicType: 'Standard',
    vnetEncryptionSupported: false,
    auxiliaryMode: 'None',
  };
  if (n.nsgId) props.networkSecurityGroup = { id: n.nsgId };
  if (n.vmId) {
    props.virtualMachine = { id: n.vmId };
    props.primary = true;
    props.macAddress = mac(n.seq);
  }
  return {
    name: n.name,
    id,
    etag: etag(call.context.settings.seed, n.seq, n.gen),
    type: 'Microsoft.Network/networkInterfaces',
    location: n.location,
    tags: n.tags,
    properties: props,
  };
}

function allocate(subnet: SubnetRecord, nicId: string, ipConfig: string): number {
  for (let ip = subnet.base + RESERVED_HEAD; ip < subnet.base + subnet.size - 1; ip++)
    if (!subnet.used.has(ip)) return ip;
  throw badRequest(
    'SubnetIsFull',
    `Subnet ${subnet.name} with address prefix ${subnet.addressPrefix} does not have enough capacity for 1 IP addresses (needed by ${nicId}/ipConfigurations/${ipConfig}).`,
  );
}

function checkStatic(
  subnet: SubnetRecord,
  subnetId: string,
  ipText: unknown,
  nicId: string,
  ipConfig: string,
  own: number | undefined,
): number {
  const ip = typeof ipText === 'string' ? parseIp(ipText) : undefined;
  const where = `${nicId}/ipConfigurations/${ipConfig}`;
  if (ip === undefined)
    throw badRequest(
      'PrivateIPAddressIsNotValid',
      `IP configuration ${where} has an invalid private IP address ${String(ipText)}.`,
    );
  if (!containsIp(subnet, ip))
    throw badRequest(
      'PrivateIPAddressNotInSubnet',
      `IP configuration ${where} references the private IP address ${formatIp(ip)} which does not belong to subnet ${subnetId}.`,
    );
  if (ip < subnet.base + RESERVED_HEAD || ip === subnet.base + subnet.size - 1) {
    throw badRequest(
      'PrivateIPAddressInReservedRange',
      `Private static IP address ${formatIp(ip)} falls within reserved IP range of subnet prefix ${subnet.addressPrefix}.`,
    );
  }
  if (ip !== own && subnet.used.has(ip))
    throw badRequest(
      'PrivateIPAddressInUse',
      `IP configuration ${where} is referencing a private IP address ${formatIp(ip)} which is already in use by another resource.`,
    );
  return ip;
}

export function putNic(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Network/networkInterfaces');
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Network/networkInterfaces');
  const existing = rg.nics.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const id = resourceId(call.sub, rg.name, NET, 'networkInterfaces', name);
  const props = properties(body);
  const configs = props.ipConfigurations;
  if (!Array.isArray(configs) || configs.length === 0) {
    throw badRequest(
      'InvalidRequestFormat',
      `Network interface ${id} must have at least one IP configuration.`,
      'properties.ipConfigurations',
    );
  }
  if (configs.length > 1)
    throw badRequest(
      'InvalidRequestFormat',
      `cloudsim supports one IP configuration per network interface; ${id} has ${configs.length}.`,
      'properties.ipConfigurations',
    );
  const config = obj(configs[0]);
  const ipConfigName = str(config.name) ?? 'ipconfig1';
  const cprops = obj(config.properties);
  const subnetRef = obj(cprops.subnet).id;
  const found = findSubnet(call, subnetRef);
  if (!found) throw invalidReference(String(subnetRef), id);
  if (found.vnet.location !== location) {
    throw badRequest(
      'InvalidResourceReference',
      `Resource ${String(subnetRef)} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    );
  }
  const nsgRef = obj(props.networkSecurityGroup).id;
  const nsgId = nsgRef === undefined ? undefined : requireNsg(call, nsgRef, id).id;
  const ipConfigId = `${id}/ipConfigurations/${ipConfigName}`;
  const pipRef = obj(cprops.publicIPAddress).id;
  const pip = pipRef === undefined ? undefined : findPublicIp(call, pipRef);
  if (pipRef !== undefined && !pip) throw invalidReference(String(pipRef), id);
  if (pip && pip.location !== location) throw invalidReference(String(pipRef), id);
  if (pip?.ipConfigurationId && pip.ipConfigurationId.toLowerCase() !== ipConfigId.toLowerCase()) {
    throw badRequest(
      'PublicIPAddressInUse',
      `Resource ${String(pipRef)} is already in use by ${pip.ipConfigurationId}; a public IP address can be associated with one IP configuration.`,
    );
  }
  const method = str(cprops.privateIPAllocationMethod) ?? (cprops.privateIPAddress ? 'Static' : 'Dynamic');
  if (method !== 'Static' && method !== 'Dynamic')
    throw badRequest(
      'InvalidRequestFormat',
      `privateIPAllocationMethod must be Static or Dynamic, not ${method}.`,
      'privateIPAllocationMethod',
    );
  const sameSubnet = existing && existing.subnetId.toLowerCase() === found.id.toLowerCase();
  const own = sameSubnet ? existing.ip : undefined;
  const ip =
    method === 'Static'
      ? checkStatic(found.subnet, found.id, cprops.privateIPAddress, id, ipConfigName, own)
      : (own ?? allocate(found.subnet, id, ipConfigName));
  if (existing && !sameSubnet) releaseIp(call.store, existing);
  else if (existing && own !== ip) found.subnet.used.delete(existing.ip);
  found.subnet.used.add(ip);
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const gen = call.store.nextGen();
  const subnetId = call.store.intern.string(found.id);
  if (existing?.publicIpId && existing.publicIpId.toLowerCase() !== String(pipRef ?? '').toLowerCase())
    detachPublicIp(call, existing);
  if (pip) pip.ipConfigurationId = ipConfigId;
  const publicIpId = pip ? String(pipRef) : undefined;
  let record = existing;
  if (record) {
    Object.assign(record, {
      gen,
      readyAt: call.now + call.networkOpMs,
      updating: true,
      tags,
      subnetId,
      ip,
      ipConfigName,
      allocation: method,
      nsgId,
      publicIpId,
    });
  } else {
    record = {
      name,
      location,
      tags,
      subnetId,
      ip,
      ipConfigName,
      allocation: method,
      nsgId: nsgId && call.store.intern.string(nsgId),
      publicIpId,
      seq: call.store.nextSeq(),
      gen,
      readyAt: call.now + call.networkOpMs,
      createdAt: Date.now(),
    };
    rg.nics.set(name.toLowerCase(), record);
  }
  return putReply(call, 'network', location, 'nic', [name], record, !existing, nicJson(call, rg, record));
}

/** A NIC with a dynamic address, made by the platform (members of a Flexible scale set). */
export function createPlatformNic(
  call: ArmCall,
  rg: ResourceGroupRecord,
  name: string,
  location: string,
  subnetRef: unknown,
  tags: NicRecord['tags'],
): NicRecord {
  const id = resourceId(call.sub, rg.name, NET, 'networkInterfaces', name);
  const found = findSubnet(call, subnetRef);
  if (!found || found.vnet.location !== location) throw invalidReference(String(subnetRef), id);
  const ip = allocate(found.subnet, id, 'ipconfig1');
  found.subnet.used.add(ip);
  const record: NicRecord = {
    name,
    location,
    tags,
    subnetId: call.store.intern.string(found.id),
    ip,
    ipConfigName: 'ipconfig1',
    allocation: 'Dynamic',
    seq: call.store.nextSeq(),
    gen: call.store.nextGen(),
    readyAt: call.now,
    createdAt: Date.now(),
  };
  rg.nics.set(name.toLowerCase(), record);
  return record;
}

/** Frees the NIC's public IP for other NICs (or for deletion). */
function detachPublicIp(call: ArmCall, nic: NicRecord): void {
  const pip = findPublicIp(call, nic.publicIpId);
  if (pip) pip.ipConfigurationId = undefined;
  nic.publicIpId = undefined;
}

/** Returns the NIC's addresses (on delete, or when it moves to another subnet). */
export function releaseIp(store: ArmStore, nic: NicRecord): void {
  if (nic.publicIpId) {
    const ref = parseId(nic.publicIpId);
    const pip = ref && store.group(ref.subscription, ref.resourceGroup)?.publicIps.get(ref.rest[1]!.toLowerCase());
    if (pip) pip.ipConfigurationId = undefined;
  }
  const id = parseId(nic.subnetId);
  if (!id) return;
  const vnet = store.group(id.subscription, id.resourceGroup)?.vnets.get(id.rest[1]!.toLowerCase());
  vnet?.subnets.get(id.rest[3]!.toLowerCase())?.used.delete(nic.ip);
}

export function getNic(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, false);
  const nic = rg.nics.get(name.toLowerCase());
  if (!nic) throw resourceNotFound('Microsoft.Network/networkInterfaces', name, rg.name);
  return { status: 200, body: nicJson(call, rg, nic) };
}

export function deleteNic(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const nic = rg.nics.get(name.toLowerCase());
  if (!nic) return { status: 204 };
  const id = resourceId(call.sub, rg.name, NET, 'networkInterfaces', nic.name);
  if (nic.vmId) {
    throw badRequest(
      'NicInUse',
      `Network Interface ${id} is used by existing resource ${nic.vmId}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
    );
  }
  rg.nics.delete(name.toLowerCase());
  releaseIp(call.store, nic);
  return deleteReply(call, 'network', nic.location, 'nic', [name], nic.gen, 0);
}

export function listNics(call: ArmCall): ArmReply {
  const groups = groupsInScope(call);
  const all = groups.flatMap((rg) => [...rg.nics.values()].map((n) => [rg, n] as const));
  return page(call, all, ([rg, n]) => nicJson(call, rg, n), PAGE);
}

/** Finds a NIC by id reference (from a VM body). */
export function findNic(call: ArmCall, ref: unknown): NicRecord | undefined {
  const target = networkResourceRef(ref, 'networkInterfaces');
  return target && call.store.group(target.subscription, target.resourceGroup)?.nics.get(target.name);
}
