import { type ArmCall, type ArmReply, groupsInScope, type Json, jsonBody, obj, requireGroup, str } from './call.js';
import { contains, overlaps, parseCidr } from './cidr.js';
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
import { type ArmError, badRequest, resourceNotFound } from './errors.js';
import { parseId, resourceId } from './route.js';
import {
  derivedUuid,
  type Lifecycle,
  type NsgRecord,
  provisioningState,
  type ResourceGroupRecord,
  type SecurityRule,
  type SubnetRecord,
  type VnetRecord,
} from './store.js';

/** Virtual networks, subnets, network security groups and their rules (Microsoft.Network). */
const NET = 'Microsoft.Network';
const PAGE = 100;

const seedOf = (call: ArmCall) => call.context.settings.seed;

function fresh(call: ArmCall, gen: number): Lifecycle {
  return { gen, readyAt: call.now + call.networkOpMs, createdAt: Date.now() };
}

function touch(call: ArmCall, r: Lifecycle): void {
  r.gen = call.store.nextGen();
  r.readyAt = call.now + call.networkOpMs;
  r.updating = true;
}

// ---------- rendering ----------

/** Network resources report Updating (not Creating) while a PUT is in progress. */
function state(call: ArmCall, r: Lifecycle): string {
  const p = provisioningState(r, call.now);
  return p === 'Creating' ? 'Updating' : p;
}

function subnetJson(call: ArmCall, rg: ResourceGroupRecord, vnet: VnetRecord, s: SubnetRecord): Json {
  const props: Json = {
    provisioningState: state(call, s),
    addressPrefix: s.addressPrefix,
    delegations: [],
    privateEndpointNetworkPolicies: 'Disabled',
    privateLinkServiceNetworkPolicies: 'Enabled',
  };
  if (s.nsgId) props.networkSecurityGroup = { id: s.nsgId };
  return {
    name: s.name,
    id: resourceId(call.sub, rg.name, NET, 'virtualNetworks', vnet.name, 'subnets', s.name),
    etag: etag(seedOf(call), s.gen, s.gen),
    type: 'Microsoft.Network/virtualNetworks/subnets',
    properties: props,
  };
}

function vnetJson(call: ArmCall, rg: ResourceGroupRecord, v: VnetRecord): Json {
  return {
    name: v.name,
    id: resourceId(call.sub, rg.name, NET, 'virtualNetworks', v.name),
    etag: etag(seedOf(call), v.gen, 1),
    type: 'Microsoft.Network/virtualNetworks',
    location: v.location,
    tags: v.tags,
    properties: {
      provisioningState: state(call, v),
      resourceGuid: v.guid,
      addressSpace: { addressPrefixes: v.addressPrefixes },
      subnets: [...v.subnets.values()].map((s) => subnetJson(call, rg, v, s)),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    },
  };
}

const DEFAULT_RULES: ReadonlyArray<[string, number, 'Inbound' | 'Outbound', 'Allow' | 'Deny', string, string]> = [
  ['AllowVnetInBound', 65000, 'Inbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'],
  ['AllowAzureLoadBalancerInBound', 65001, 'Inbound', 'Allow', 'AzureLoadBalancer', '*'],
  ['DenyAllInBound', 65500, 'Inbound', 'Deny', '*', '*'],
  ['AllowVnetOutBound', 65000, 'Outbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'],
  ['AllowInternetOutBound', 65001, 'Outbound', 'Allow', '*', 'Internet'],
  ['DenyAllOutBound', 65500, 'Outbound', 'Deny', '*', '*'],
];

function ruleJson(
  call: ArmCall,
  nsgId: string,
  r: SecurityRule & Partial<Lifecycle>,
  collection = 'securityRules',
): Json {
  return {
    name: r.name,
    id: `${nsgId}/${collection}/${r.name}`,
    etag: etag(seedOf(call), r.gen ?? 0, 2),
    type: `Microsoft.Network/networkSecurityGroups/${collection === 'securityRules' ? 'securityRules' : 'defaultSecurityRules'}`,
    properties: { provisioningState: r.gen === undefined ? 'Succeeded' : state(call, r as Lifecycle), ...r.properties },
  };
}

function nsgJson(call: ArmCall, rg: ResourceGroupRecord, n: NsgRecord): Json {
  const id = resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', n.name);
  return {
    name: n.name,
    id,
    etag: etag(seedOf(call), n.gen, 3),
    type: 'Microsoft.Network/networkSecurityGroups',
    location: n.location,
    tags: n.tags,
    properties: {
      provisioningState: state(call, n),
      resourceGuid: n.guid,
      securityRules: [...n.rules.values()].map((r) => ruleJson(call, id, r)),
      defaultSecurityRules: DEFAULT_RULES.map(([name, priority, direction, access, src, dst]) =>
        ruleJson(
          call,
          id,
          {
            name,
            properties: {
              description: `Default ${name} rule`,
              protocol: '*',
              sourcePortRange: '*',
              destinationPortRange: '*',
              sourceAddressPrefix: src,
              destinationAddressPrefix: dst,
              access,
              priority,
              direction,
              sourcePortRanges: [],
              destinationPortRanges: [],
              sourceAddressPrefixes: [],
              destinationAddressPrefixes: [],
            },
          },
          'defaultSecurityRules',
        ),
      ),
    },
  };
}

// ---------- validation ----------

function checkCidr(text: unknown, target: string): NonNullable<ReturnType<typeof parseCidr>> {
  const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
  if (!cidr)
    throw badRequest(
      'InvalidCIDRNotation',
      `The address prefix ${String(text)} in resource ${target} has an invalid CIDR notation. For the given prefix length, the address prefix should be ${String(text)}.`,
    );
  return cidr;
}

/** Builds a subnet from its wire form; checks its prefix lies in the address space and its NSG exists. */
function subnetFrom(
  call: ArmCall,
  vnetPrefixes: string[],
  vnetId: string,
  name: string,
  props: Json,
  previous: SubnetRecord | undefined,
  gen: number,
): SubnetRecord {
  checkName(name, 'Microsoft.Network/virtualNetworks/subnets');
  const prefix =
    str(props.addressPrefix) ?? (Array.isArray(props.addressPrefixes) ? str(props.addressPrefixes[0]) : undefined);
  const id = `${vnetId}/subnets/${name}`;
  if (!prefix)
    throw badRequest(
      'InvalidRequestFormat',
      `Subnet ${name} must have an addressPrefix. Resource: ${id}.`,
      'properties.addressPrefix',
    );
  const cidr = checkCidr(prefix, id);
  if (!vnetPrefixes.some((p) => contains(parseCidr(p)!, cidr))) {
    throw badRequest(
      'NetcfgSubnetRangeOutsideVnet',
      `Subnet '${name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnetId.split('/').pop()}'.`,
    );
  }
  const nsgRef = obj(props.networkSecurityGroup).id;
  const nsgId = nsgRef === undefined ? undefined : requireNsg(call, nsgRef, id).id;
  if (previous && previous.used.size > 0 && (previous.base !== cidr.base || previous.size !== cidr.size)) {
    throw badRequest(
      'InUseSubnetCannotBeUpdated',
      `Subnet ${name} is in use and its address prefix cannot be updated.`,
    );
  }
  return {
    name,
    addressPrefix: prefix,
    base: cidr.base,
    size: cidr.size,
    nsgId: nsgId && call.store.intern.string(nsgId),
    used: previous?.used ?? new Set(),
    gen,
    readyAt: call.now + call.networkOpMs,
    createdAt: previous?.createdAt ?? Date.now(),
  };
}

export function requireNsg(call: ArmCall, ref: unknown, referencedBy: string): { id: string; nsg: NsgRecord } {
  const id = parseId(ref);
  const rg = id && call.store.group(id.subscription, id.resourceGroup);
  const nsg =
    id &&
    id.namespace.toLowerCase() === 'microsoft.network' &&
    id.rest[0]?.toLowerCase() === 'networksecuritygroups' &&
    id.rest.length === 2
      ? rg?.nsgs.get(id.rest[1]!.toLowerCase())
      : undefined;
  if (!nsg || nsg.deleteAt !== undefined) throw invalidReference(String(ref), referencedBy);
  return { id: String(ref), nsg };
}

export function invalidReference(ref: string, by: string): ArmError {
  return badRequest(
    'InvalidResourceReference',
    `Resource ${ref} referenced by resource ${by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
  );
}

function subnetInUse(_call: ArmCall, vnetId: string, s: SubnetRecord): ArmError {
  return badRequest(
    'InUseSubnetCannotBeDeleted',
    `Subnet ${s.name} is in use by ${s.used.size} IP configuration(s) of network interfaces in ${vnetId} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
  );
}

const PROTOCOLS = ['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*'];

function ruleFrom(name: string, props: Json, nsgId: string): SecurityRule {
  checkName(name, 'Microsoft.Network/networkSecurityGroups/securityRules');
  const id = `${nsgId}/securityRules/${name}`;
  const fail = (what: string, value: unknown) =>
    badRequest(
      'SecurityRuleParameterContainsUnsupportedValue',
      `Security rule parameter ${what} for rule with Id ${id} cannot specify existing VNET subnet or contains unsupported value ${JSON.stringify(value)}.`,
    );
  const protocol = props.protocol;
  const access = props.access;
  const direction = props.direction;
  const priority = props.priority;
  if (typeof protocol !== 'string' || !PROTOCOLS.some((p) => p.toLowerCase() === protocol.toLowerCase()))
    throw fail('Protocol', protocol);
  if (access !== 'Allow' && access !== 'Deny') throw fail('Access', access);
  if (direction !== 'Inbound' && direction !== 'Outbound') throw fail('Direction', direction);
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
    throw badRequest(
      'SecurityRuleInvalidPriority',
      `Security rule ${name} has invalid Priority. Value provided: ${String(priority)} Allowed range 100-4096.`,
    );
  }
  const list = (key: string) => (Array.isArray(props[key]) ? (props[key] as unknown[]).map(String) : []);
  const single = (key: string) => (typeof props[key] === 'string' ? (props[key] as string) : undefined);
  const sourcePorts = single('sourcePortRange') ?? (list('sourcePortRanges').length ? undefined : '*');
  const destinationPorts = single('destinationPortRange');
  if (destinationPorts === undefined && list('destinationPortRanges').length === 0)
    throw fail('DestinationPortRange', null);
  const src = single('sourceAddressPrefix');
  if (src === undefined && list('sourceAddressPrefixes').length === 0) throw fail('SourceAddressPrefix', null);
  const dst = single('destinationAddressPrefix');
  if (dst === undefined && list('destinationAddressPrefixes').length === 0)
    throw fail('DestinationAddressPrefix', null);
  const properties: Json = {
    protocol,
    sourcePortRange: sourcePorts,
    destinationPortRange: destinationPorts,
    sourceAddressPrefix: src,
    destinationAddressPrefix: dst,
    access,
    priority,
    direction,
    sourcePortRanges: list('sourcePortRanges'),
    destinationPortRanges: list('destinationPortRanges'),
    sourceAddressPrefixes: list('sourceAddressPrefixes'),
    destinationAddressPrefixes: list('destinationAddressPrefixes'),
  };
  if (typeof props.description === 'string') properties.description = props.description;
  for (const key of Object.keys(properties)) if (properties[key] === undefined) delete properties[key];
  return { name, properties };
}

function checkPriorities(rules: Iterable<SecurityRule>): void {
  const seen = new Map<string, string>();
  for (const r of rules) {
    const key = `${String(r.properties.direction)}/${String(r.properties.priority)}`;
    const other = seen.get(key);
    if (other)
      throw badRequest(
        'SecurityRuleConflict',
        `Security rule ${r.name} conflicts with rule ${other}. Rules cannot have the same Priority and Direction.`,
      );
    seen.set(key, r.name);
  }
}

// ---------- virtual networks ----------

export function putVnet(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Network/virtualNetworks', 64);
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Network/virtualNetworks');
  const existing = rg.vnets.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const props = properties(body);
  const id = resourceId(call.sub, rg.name, NET, 'virtualNetworks', name);
  const prefixes = obj(props.addressSpace).addressPrefixes;
  if (!Array.isArray(prefixes) || prefixes.length === 0)
    throw badRequest(
      'InvalidRequestFormat',
      `Virtual network ${id} must have at least one address prefix in addressSpace.addressPrefixes.`,
      'properties.addressSpace',
    );
  const spaces = prefixes.map((p) => checkCidr(p, id));
  for (let i = 0; i < spaces.length; i++)
    for (let j = i + 1; j < spaces.length; j++) {
      if (overlaps(spaces[i]!, spaces[j]!))
        throw badRequest(
          'VnetAddressSpacesOverlap',
          `Cannot create or update virtual network ${id}. The address space ${String(prefixes[i])} overlaps with ${String(prefixes[j])}.`,
        );
    }
  const addressPrefixes = prefixes.map(String);
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const gen = call.store.nextGen();
  // A PUT carries the full subnet list: subnets left out are deleted, which fails while they hold NICs.
  const subnets = new Map<string, SubnetRecord>();
  const bodySubnets = Array.isArray(props.subnets) ? (props.subnets as unknown[]) : [];
  for (const raw of bodySubnets) {
    const s = obj(raw);
    const sName = str(s.name);
    if (!sName) throw badRequest('InvalidRequestFormat', `Every subnet of ${id} needs a name.`, 'properties.subnets');
    const subnet = subnetFrom(
      call,
      addressPrefixes,
      id,
      sName,
      obj(s.properties),
      existing?.subnets.get(sName.toLowerCase()),
      gen,
    );
    for (const other of subnets.values()) {
      if (overlaps(subnet, other))
        throw badRequest(
          'NetcfgSubnetRangesOverlap',
          `Subnet '${subnet.name}' is not valid because its IP address range overlaps with that of an existing subnet '${other.name}' in virtual network '${name}'.`,
        );
    }
    subnets.set(sName.toLowerCase(), subnet);
  }
  if (existing) {
    for (const [key, s] of existing.subnets) if (!subnets.has(key) && s.used.size > 0) throw subnetInUse(call, id, s);
  }
  const record: VnetRecord = existing ?? {
    name,
    location,
    tags,
    addressPrefixes,
    subnets,
    guid: derivedUuid(seedOf(call), gen, 11),
    ...fresh(call, gen),
  };
  if (existing) {
    touch(call, existing);
    existing.tags = tags;
    existing.addressPrefixes = addressPrefixes;
    existing.subnets.clear();
    for (const [k, s] of subnets) existing.subnets.set(k, s);
  } else {
    rg.vnets.set(name.toLowerCase(), record);
  }
  return putReply(call, 'network', location, 'vnet', [name], record, !existing, vnetJson(call, rg, record));
}

function findVnet(call: ArmCall, name: string, writing = false): { rg: ResourceGroupRecord; vnet: VnetRecord } {
  const rg = requireGroup(call, writing);
  const vnet = rg.vnets.get(name.toLowerCase());
  if (!vnet) throw resourceNotFound('Microsoft.Network/virtualNetworks', name, rg.name);
  return { rg, vnet };
}

export function getVnet(call: ArmCall, name: string): ArmReply {
  const { rg, vnet } = findVnet(call, name);
  return { status: 200, body: vnetJson(call, rg, vnet) };
}

export function deleteVnet(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const vnet = rg.vnets.get(name.toLowerCase());
  if (!vnet) return { status: 204 };
  const id = resourceId(call.sub, rg.name, NET, 'virtualNetworks', name);
  for (const s of vnet.subnets.values()) if (s.used.size > 0) throw subnetInUse(call, id, s);
  rg.vnets.delete(name.toLowerCase());
  return deleteReply(call, 'network', vnet.location, 'vnet', [name], vnet.gen, 0);
}

export function listVnets(call: ArmCall): ArmReply {
  const groups = groupsInScope(call);
  const all = groups.flatMap((rg) => [...rg.vnets.values()].map((v) => [rg, v] as const));
  return page(call, all, ([rg, v]) => vnetJson(call, rg, v), PAGE);
}

// ---------- subnets ----------

export function putSubnet(call: ArmCall, vnetName: string, name: string): ArmReply {
  const { rg, vnet } = findVnet(call, vnetName, true);
  const body = jsonBody(call);
  const id = resourceId(call.sub, rg.name, NET, 'virtualNetworks', vnet.name);
  const existing = vnet.subnets.get(name.toLowerCase());
  const gen = call.store.nextGen();
  const subnet = subnetFrom(call, vnet.addressPrefixes, id, name, properties(body), existing, gen);
  for (const other of vnet.subnets.values()) {
    if (other !== existing && overlaps(subnet, other))
      throw badRequest(
        'NetcfgSubnetRangesOverlap',
        `Subnet '${name}' is not valid because its IP address range overlaps with that of an existing subnet '${other.name}' in virtual network '${vnet.name}'.`,
      );
  }
  if (existing) subnet.updating = true;
  vnet.subnets.set(name.toLowerCase(), subnet);
  return putReply(
    call,
    'network',
    vnet.location,
    'subnet',
    [vnet.name, name],
    subnet,
    !existing,
    subnetJson(call, rg, vnet, subnet),
  );
}

export function getSubnet(call: ArmCall, vnetName: string, name: string): ArmReply {
  const { rg, vnet } = findVnet(call, vnetName);
  const subnet = vnet.subnets.get(name.toLowerCase());
  if (!subnet) throw resourceNotFound('Microsoft.Network/virtualNetworks/subnets', `${vnetName}/${name}`, rg.name);
  return { status: 200, body: subnetJson(call, rg, vnet, subnet) };
}

export function deleteSubnet(call: ArmCall, vnetName: string, name: string): ArmReply {
  const { rg, vnet } = findVnet(call, vnetName, true);
  const subnet = vnet.subnets.get(name.toLowerCase());
  if (!subnet) return { status: 204 };
  if (subnet.used.size > 0)
    throw subnetInUse(call, resourceId(call.sub, rg.name, NET, 'virtualNetworks', vnet.name), subnet);
  vnet.subnets.delete(name.toLowerCase());
  return deleteReply(call, 'network', vnet.location, 'subnet', [vnet.name, name], subnet.gen, 0);
}

export function listSubnets(call: ArmCall, vnetName: string): ArmReply {
  const { rg, vnet } = findVnet(call, vnetName);
  return page(call, [...vnet.subnets.values()], (s) => subnetJson(call, rg, vnet, s), PAGE);
}

// ---------- network security groups ----------

export function putNsg(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Network/networkSecurityGroups');
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Network/networkSecurityGroups');
  const existing = rg.nsgs.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const id = resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', name);
  const gen = call.store.nextGen();
  const rules = new Map<string, SecurityRule & Lifecycle>();
  const bodyRules = properties(body).securityRules;
  for (const raw of Array.isArray(bodyRules) ? bodyRules : []) {
    const r = obj(raw);
    const rName = str(r.name);
    if (!rName)
      throw badRequest(
        'InvalidRequestFormat',
        `Every security rule of ${id} needs a name.`,
        'properties.securityRules',
      );
    rules.set(rName.toLowerCase(), { ...ruleFrom(rName, obj(r.properties), id), ...fresh(call, gen) });
  }
  checkPriorities(rules.values());
  const tags = call.store.intern.tagsOf(tagsBody(body));
  let record = existing;
  if (record) {
    touch(call, record);
    record.tags = tags;
    record.rules = rules;
  } else {
    record = { name, location, tags, rules, guid: derivedUuid(seedOf(call), gen, 12), ...fresh(call, gen) };
    rg.nsgs.set(name.toLowerCase(), record);
  }
  return putReply(call, 'network', location, 'nsg', [name], record, !existing, nsgJson(call, rg, record));
}

function findNsg(call: ArmCall, name: string, writing = false): { rg: ResourceGroupRecord; nsg: NsgRecord } {
  const rg = requireGroup(call, writing);
  const nsg = rg.nsgs.get(name.toLowerCase());
  if (!nsg) throw resourceNotFound('Microsoft.Network/networkSecurityGroups', name, rg.name);
  return { rg, nsg };
}

export function getNsg(call: ArmCall, name: string): ArmReply {
  const { rg, nsg } = findNsg(call, name);
  return { status: 200, body: nsgJson(call, rg, nsg) };
}

/** Ids of subnets and NICs that reference the NSG (anywhere in the subscription). */
function nsgUsers(call: ArmCall, nsgId: string): string[] {
  const users: string[] = [];
  const key = nsgId.toLowerCase();
  for (const rg of call.store.groups(call.sub).values()) {
    for (const v of rg.vnets.values())
      for (const s of v.subnets.values())
        if (s.nsgId?.toLowerCase() === key)
          users.push(resourceId(call.sub, rg.name, NET, 'virtualNetworks', v.name, 'subnets', s.name));
    for (const n of rg.nics.values())
      if (n.nsgId?.toLowerCase() === key) users.push(resourceId(call.sub, rg.name, NET, 'networkInterfaces', n.name));
  }
  return users;
}

export function deleteNsg(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const nsg = rg.nsgs.get(name.toLowerCase());
  if (!nsg) return { status: 204 };
  const id = resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', nsg.name);
  const users = nsgUsers(call, id);
  if (users.length > 0) {
    throw badRequest(
      'InUseNetworkSecurityGroupCannotBeDeleted',
      `Network security group ${id} cannot be deleted because it is in use by the following resources: ${users.join(', ')}. In order to delete the Network security group, remove the association with the resource(s). To learn how to do this, see aka.ms/deletensg.`,
    );
  }
  rg.nsgs.delete(name.toLowerCase());
  return deleteReply(call, 'network', nsg.location, 'nsg', [name], nsg.gen, 0);
}

export function listNsgs(call: ArmCall): ArmReply {
  const groups = groupsInScope(call);
  const all = groups.flatMap((rg) => [...rg.nsgs.values()].map((n) => [rg, n] as const));
  return page(call, all, ([rg, n]) => nsgJson(call, rg, n), PAGE);
}

export function putRule(call: ArmCall, nsgName: string, name: string): ArmReply {
  const { rg, nsg } = findNsg(call, nsgName, true);
  const body = jsonBody(call);
  const id = resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', nsg.name);
  const existing = nsg.rules.get(name.toLowerCase());
  const rule = {
    ...ruleFrom(name, properties(body), id),
    ...fresh(call, call.store.nextGen()),
    updating: existing !== undefined,
  };
  checkPriorities([...[...nsg.rules.values()].filter((r) => r !== existing), rule]);
  nsg.rules.set(name.toLowerCase(), rule);
  return putReply(call, 'network', nsg.location, 'rule', [nsg.name, name], rule, !existing, ruleJson(call, id, rule));
}

export function getRule(call: ArmCall, nsgName: string, name: string): ArmReply {
  const { rg, nsg } = findNsg(call, nsgName);
  const rule = nsg.rules.get(name.toLowerCase());
  if (!rule)
    throw resourceNotFound('Microsoft.Network/networkSecurityGroups/securityRules', `${nsgName}/${name}`, rg.name);
  return {
    status: 200,
    body: ruleJson(call, resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', nsg.name), rule),
  };
}

export function deleteRule(call: ArmCall, nsgName: string, name: string): ArmReply {
  const { nsg } = findNsg(call, nsgName, true);
  const rule = nsg.rules.get(name.toLowerCase());
  if (!rule) return { status: 204 };
  nsg.rules.delete(name.toLowerCase());
  return deleteReply(call, 'network', nsg.location, 'rule', [nsg.name, name], rule.gen, 0);
}

export function listRules(call: ArmCall, nsgName: string): ArmReply {
  const { rg, nsg } = findNsg(call, nsgName);
  const id = resourceId(call.sub, rg.name, NET, 'networkSecurityGroups', nsg.name);
  return page(call, [...nsg.rules.values()], (r) => ruleJson(call, id, r), PAGE);
}

/** Resolves a subnet id reference (from a NIC body). */
export function findSubnet(
  call: ArmCall,
  ref: unknown,
): { vnet: VnetRecord; subnet: SubnetRecord; id: string } | undefined {
  const id = parseId(ref);
  if (id?.namespace.toLowerCase() !== 'microsoft.network' || id.rest.length !== 4) return undefined;
  if (id.rest[0]!.toLowerCase() !== 'virtualnetworks' || id.rest[2]!.toLowerCase() !== 'subnets') return undefined;
  const vnet = call.store.group(id.subscription, id.resourceGroup)?.vnets.get(id.rest[1]!.toLowerCase());
  const subnet = vnet?.subnets.get(id.rest[3]!.toLowerCase());
  return vnet && subnet ? { vnet, subnet, id: String(ref) } : undefined;
}
