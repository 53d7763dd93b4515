import { type ArmCall, type ArmReply, groupsInScope, type Json, jsonBody, str } from './call.js';
import { isRegion, normalizeLocation, REGIONS } from './catalog.js';
import { page, tagsBody } from './common.js';
import { ArmError, badRequest, resourceGroupNotFound } from './errors.js';
import { groupDeleteLocation } from './lro.js';
import { releaseIp } from './nic.js';
import { groupId, resourceId } from './route.js';
import { newResourceGroup, type ResourceGroupRecord } from './store.js';

/** Resource groups (Microsoft.Resources): synchronous PUT, asynchronous DELETE that removes everything inside. */
const RG_NAME = /^[-\w._()\p{L}]{1,90}$/u;

function groupJson(call: ArmCall, rg: ResourceGroupRecord): Json {
  return {
    id: groupId(call.sub, rg.name),
    name: rg.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: rg.location,
    tags: rg.tags,
    properties: { provisioningState: rg.deleteAt !== undefined ? 'Deleting' : 'Succeeded' },
  };
}

export function putGroup(call: ArmCall, name: string): ArmReply {
  if (!RG_NAME.test(name) || name.endsWith('.')) {
    throw badRequest(
      'InvalidResourceGroup',
      `The provided resource group name '${name}' has these invalid characters: it must be 1-90 characters of letters, digits, '_', '-', '.', '(' and ')', and not end with a period.`,
    );
  }
  const body = jsonBody(call);
  const raw = str(body.location);
  if (!raw) throw badRequest('LocationRequired', 'The location property is required for this definition.');
  const location = normalizeLocation(raw);
  if (!isRegion(location)) {
    throw badRequest(
      'LocationNotAvailableForResourceGroup',
      `The provided location '${raw}' is not available for resource group. List of available regions is '${REGIONS.join(',')}'.`,
    );
  }
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const groups = call.store.groups(call.sub);
  const existing = groups.get(name.toLowerCase());
  if (existing) {
    if (existing.deleteAt !== undefined)
      throw new ArmError(
        409,
        'ResourceGroupBeingDeleted',
        `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`,
      );
    if (existing.location !== location) {
      throw new ArmError(
        409,
        'InvalidResourceGroupLocation',
        `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
      );
    }
    existing.tags = tags;
    return { status: 200, body: groupJson(call, existing) };
  }
  const rg = newResourceGroup(name, location, tags, call.store.nextGen(), call.now);
  groups.set(name.toLowerCase(), rg);
  return { status: 201, body: groupJson(call, rg) };
}

/** PATCH: only `tags` (replaced as a whole, as ARM does) can change on a resource group. */
export function patchGroup(call: ArmCall, name: string): ArmReply {
  const rg = call.store.group(call.sub, name);
  if (!rg) throw resourceGroupNotFound(name);
  const body = jsonBody(call);
  if (body.location !== undefined && normalizeLocation(String(body.location)) !== rg.location) {
    throw new ArmError(
      409,
      'InvalidResourceGroupLocation',
      `Invalid resource group location '${String(body.location)}'. The Resource group already exists in location '${rg.location}'.`,
    );
  }
  if (body.tags !== undefined) rg.tags = call.store.intern.tagsOf(tagsBody(body));
  return { status: 200, body: groupJson(call, rg) };
}

export function getGroup(call: ArmCall, name: string): ArmReply {
  const rg = call.store.group(call.sub, name);
  if (!rg) throw resourceGroupNotFound(name);
  return { status: 200, body: groupJson(call, rg) };
}

export function headGroup(call: ArmCall, name: string): ArmReply {
  return { status: call.store.group(call.sub, name) ? 204 : 404 };
}

export function deleteGroup(call: ArmCall, name: string): ArmReply {
  const rg = call.store.group(call.sub, name);
  if (!rg) throw resourceGroupNotFound(name);
  if (rg.deleteAt === undefined) {
    rg.gen = call.store.nextGen();
    rg.deleteAt = call.now + Math.max(1, Math.round(call.context.settings.bootTimeMs / 2));
    const groups = call.store.groups(call.sub);
    const backing = call.context.settings.backing === 'local' ? call.context.backing : undefined;
    call.defer(rg.deleteAt, () => {
      if (groups.get(rg.name.toLowerCase()) !== rg) return;
      groups.delete(rg.name.toLowerCase());
      // NICs of this group may hold addresses in another group's subnet.
      for (const nic of rg.nics.values()) releaseIp(call.store, nic);
      call.store.vmsChanged(rg);
      if (backing)
        for (const vm of rg.vms.values())
          void backing
            .stop({
              cloud: 'azure',
              id: resourceId(call.sub, rg.name, 'Microsoft.Compute', 'virtualMachines', vm.name),
            })
            .catch(() => undefined);
    });
  }
  return {
    status: 202,
    headers: groupDeleteLocation(call, {
      op: 'delete',
      kind: 'rg',
      rg: rg.name,
      names: [],
      gen: rg.gen,
      started: Date.now(),
    }),
  };
}

/** Generic resources of a group or the subscription (`$filter` on tagName/tagValue or resourceType). */
export function listResources(call: ArmCall): ArmReply {
  const filter = call.request.url.searchParams.get('$filter') ?? '';
  const tagName = /tagName\s+eq\s+'([^']*)'/i.exec(filter)?.[1];
  const tagValue = /tagValue\s+eq\s+'([^']*)'/i.exec(filter)?.[1];
  const type = /resourceType\s+eq\s+'([^']*)'/i.exec(filter)?.[1]?.toLowerCase();
  const groups = groupsInScope(call);
  const items: Json[] = [];
  for (const rg of groups) {
    const add = (
      namespace: string,
      kind: string,
      r: { name: string; location: string; tags: Readonly<Record<string, string>> },
      zone?: string,
    ) => {
      const t = `${namespace}/${kind}`;
      if (type && t.toLowerCase() !== type) return;
      if (
        tagName !== undefined &&
        (r.tags[tagName] === undefined || (tagValue !== undefined && r.tags[tagName] !== tagValue))
      )
        return;
      items.push({
        id: resourceId(call.sub, rg.name, namespace, kind, r.name),
        name: r.name,
        type: t,
        location: r.location,
        tags: r.tags,
        ...(zone ? { zones: [zone] } : {}),
      });
    };
    for (const v of rg.vnets.values()) add('Microsoft.Network', 'virtualNetworks', v);
    for (const n of rg.nsgs.values()) add('Microsoft.Network', 'networkSecurityGroups', n);
    for (const n of rg.nics.values()) add('Microsoft.Network', 'networkInterfaces', n);
    for (const p of rg.publicIps.values()) add('Microsoft.Network', 'publicIPAddresses', p);
    for (const s of rg.vmss.values()) add('Microsoft.Compute', 'virtualMachineScaleSets', s);
    for (const v of rg.vms.values()) add('Microsoft.Compute', 'virtualMachines', v, v.zone);
    for (const d of rg.disks.values()) add('Microsoft.Compute', 'disks', d, d.zone);
  }
  const top = Number(call.request.url.searchParams.get('$top') ?? '1000');
  return page(call, items, (i) => i, Number.isInteger(top) && top > 0 && top <= 1000 ? top : 1000);
}

export function listGroups(call: ArmCall): ArmReply {
  const filter = call.request.url.searchParams.get('$filter') ?? '';
  const tagName = /tagName\s+eq\s+'([^']*)'/i.exec(filter)?.[1];
  const tagValue = /tagValue\s+eq\s+'([^']*)'/i.exec(filter)?.[1];
  let groups = [...call.store.groups(call.sub).values()];
  if (tagName !== undefined)
    groups = groups.filter(
      (g) => g.tags[tagName] !== undefined && (tagValue === undefined || g.tags[tagName] === tagValue),
    );
  const top = Number(call.request.url.searchParams.get('$top') ?? '100');
  return page(call, groups, (g) => groupJson(call, g), Number.isInteger(top) && top > 0 && top <= 1000 ? top : 100);
}
