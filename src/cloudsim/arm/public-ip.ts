import { type ArmCall, type ArmReply, groupsInScope, type Json, jsonBody, obj, requireGroup, str } from './call.js';
import { ZONES } from './catalog.js';
import { formatIp } from './cidr.js';
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
import { badRequest, conflict, invalidParameter, resourceNotFound } from './errors.js';
import { networkResourceRef, resourceId } from './route.js';
import { derivedUuid, type PublicIpRecord, provisioningState, type ResourceGroupRecord } from './store.js';

/** Public IP addresses (Microsoft.Network/publicIPAddresses), associated with a NIC's IP configuration. */
const NET = 'Microsoft.Network';
const PAGE = 100;

function pipJson(call: ArmCall, rg: ResourceGroupRecord, p: PublicIpRecord): Json {
  const state = provisioningState(p, call.now);
  const props: Json = {
    provisioningState: state === 'Creating' ? 'Updating' : state,
    resourceGuid: derivedUuid(call.context.settings.seed, p.seq, 61),
    publicIPAddressVersion: 'IPv4',
    publicIPAllocationMethod: p.allocation,
    idleTimeoutInMinutes: 4,
    ipTags: [],
  };
  // A Dynamic address exists only while it is associated, as in Azure.
  if ((p.allocation === 'Static' || p.ipConfigurationId) && !p.released) props.ipAddress = formatIp(p.address);
  if (p.ipConfigurationId) props.ipConfiguration = { id: p.ipConfigurationId };
  return {
    name: p.name,
    id: resourceId(call.sub, rg.name, NET, 'publicIPAddresses', p.name),
    etag: etag(call.context.settings.seed, p.seq, p.gen),
    type: 'Microsoft.Network/publicIPAddresses',
    location: p.location,
    tags: p.tags,
    ...(p.zones ? { zones: p.zones } : {}),
    sku: { name: p.sku, tier: 'Regional' },
    properties: props,
  };
}

export function putPublicIp(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Network/publicIPAddresses');
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Network/publicIPAddresses');
  const existing = rg.publicIps.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const skuName = str(obj(body.sku).name) ?? 'Standard';
  if (skuName !== 'Standard' && skuName !== 'Basic')
    throw invalidParameter('sku.name', `The public IP SKU ${skuName} is not valid; use Standard.`);
  const props = properties(body);
  const allocation = str(props.publicIPAllocationMethod) ?? (skuName === 'Standard' ? 'Static' : 'Dynamic');
  if (allocation !== 'Static' && allocation !== 'Dynamic')
    throw invalidParameter(
      'publicIPAllocationMethod',
      `publicIPAllocationMethod must be Static or Dynamic, not ${allocation}.`,
    );
  if (skuName === 'Standard' && allocation === 'Dynamic') {
    throw badRequest(
      'StandardSkuPublicIPAddressesCannotHaveDynamicAllocation',
      `Standard sku publicIp /subscriptions/${call.sub}/resourceGroups/${rg.name}/providers/Microsoft.Network/publicIPAddresses/${name} must have AllocationMethod set to Static.`,
    );
  }
  const zones = Array.isArray(body.zones) ? (body.zones as unknown[]).map(String) : undefined;
  if (zones?.some((z) => !(ZONES as readonly string[]).includes(z)))
    throw invalidParameter('zones', `The zones ${JSON.stringify(zones)} are not valid in location '${location}'.`);
  if (existing && existing.sku !== skuName)
    throw conflict('PropertyChangeNotAllowed', "Changing property 'sku' is not allowed.", 'sku');
  if (existing && JSON.stringify(existing.zones ?? []) !== JSON.stringify(zones ?? []))
    throw conflict('PropertyChangeNotAllowed', "Changing property 'zones' is not allowed.", 'zones');
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const gen = call.store.nextGen();
  let record = existing;
  if (record) {
    Object.assign(record, { gen, tags, allocation, updating: true, readyAt: call.now + call.networkOpMs });
  } else {
    record = {
      name,
      location,
      tags,
      sku: skuName,
      allocation,
      zones,
      address: call.store.nextPublicAddress(call.context.settings.network === 'realistic'),
      seq: call.store.nextSeq(),
      gen,
      readyAt: call.now + call.networkOpMs,
      createdAt: Date.now(),
    };
    rg.publicIps.set(name.toLowerCase(), record);
  }
  return putReply(call, 'network', location, 'pip', [name], record, !existing, pipJson(call, rg, record));
}

export function getPublicIp(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, false);
  const p = rg.publicIps.get(name.toLowerCase());
  if (!p) throw resourceNotFound('Microsoft.Network/publicIPAddresses', name, rg.name);
  return { status: 200, body: pipJson(call, rg, p) };
}

export function deletePublicIp(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const p = rg.publicIps.get(name.toLowerCase());
  if (!p) return { status: 204 };
  if (p.ipConfigurationId) {
    const id = resourceId(call.sub, rg.name, NET, 'publicIPAddresses', p.name);
    throw badRequest(
      'PublicIPAddressCannotBeDeleted',
      `Public IP address ${id} can not be deleted since it is still allocated to resource ${p.ipConfigurationId}. In order to delete the public IP, disassociate/detach the Public IP address from the resource. To learn how to do this, see aka.ms/deletepublicip.`,
    );
  }
  rg.publicIps.delete(name.toLowerCase());
  return deleteReply(call, 'network', p.location, 'pip', [name], p.gen, 0);
}

export function listPublicIps(call: ArmCall): ArmReply {
  const groups = groupsInScope(call);
  const all = groups.flatMap((rg) => [...rg.publicIps.values()].map((p) => [rg, p] as const));
  return page(call, all, ([rg, p]) => pipJson(call, rg, p), PAGE);
}

/** Resolves a public IP id reference (from a NIC body). */
export function findPublicIp(call: ArmCall, ref: unknown): PublicIpRecord | undefined {
  const target = networkResourceRef(ref, 'publicIPAddresses');
  return target && call.store.group(target.subscription, target.resourceGroup)?.publicIps.get(target.name);
}
