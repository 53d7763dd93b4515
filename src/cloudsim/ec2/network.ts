import { type ActionContext, type ActionHandler, page } from './action.js';
import { ACCOUNT_ID, zoneByName, zonesOf } from './catalog.js';
import { type Cidr, formatCidr, overlaps, parseCidr, within } from './cidr.js';
import { checkId, Ec2Error, notFound } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import type { InternetGateway, Permission, RouteTable, SecurityGroup, Subnet, Vpc } from './model.js';
import { NO_TAGS, parseTagSpecifications, type Tags } from './tags.js';
import { tagSet, type XmlValue } from './xml.js';

/** VPCs, subnets, security groups, internet gateways and route tables. */

function cidrParam(ctx: ActionContext, name: string, min: number, max: number, rangeCode: string): Cidr {
  const text = ctx.params.required(name);
  const cidr = parseCidr(text);
  if (!cidr)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${text}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
    );
  if (cidr.prefix < min || cidr.prefix > max) throw new Ec2Error(rangeCode, `The CIDR '${text}' is invalid.`);
  return cidr;
}

const inRegion = <T extends { region: string }>(ctx: ActionContext, map: Map<string, T>): T[] => {
  ctx.store.ensureDefaults(ctx.region);
  return [...map.values()].filter((r) => r.region === ctx.region);
};

/** Id prefix and the error-code stem EC2 uses for a malformed id, per Describe* id parameter. */
const ID_SHAPES: Readonly<Record<string, readonly [string, string]>> = {
  VpcId: ['vpc', 'VpcID'],
  SubnetId: ['subnet', 'SubnetID'],
  GroupId: ['sg', 'GroupId'],
  InternetGatewayId: ['igw', 'InternetGatewayID'],
  RouteTableId: ['rtb', 'RouteTableID'],
};

/** Describe* over a small resource kind: ids (all must exist), filters, paging. */
function describe<T extends { id: string; region: string; tags: Tags }>(
  ctx: ActionContext,
  map: Map<string, T>,
  idParam: string,
  fields: FilterFields<T>,
  notFoundKind: string,
  what: string,
  maxResults = 1000,
): { items: T[]; nextToken?: string } {
  const ids = ctx.params.strList(idParam);
  let items = inRegion(ctx, map);
  if (ids.length) {
    const [prefix, kind] = ID_SHAPES[idParam]!;
    for (const id of ids) checkId(id, prefix, kind);
    const missing = ids.filter((id) => !items.some((r) => r.id === id));
    if (missing.length) throw notFound(notFoundKind, what, missing);
    items = items.filter((r) => ids.includes(r.id));
  }
  const filter = parseFilters(ctx.params, fields);
  if (filter) items = items.filter((r) => filter.test(r));
  return page(ctx, items, 5, maxResults);
}

const vpcXml = (v: Vpc): XmlValue => ({
  vpcId: v.id,
  ownerId: ACCOUNT_ID,
  state: 'available',
  cidrBlock: formatCidr(v.cidr),
  cidrBlockAssociationSet: [
    {
      associationId: `vpc-cidr-assoc-${v.id.slice(4)}`,
      cidrBlock: formatCidr(v.cidr),
      cidrBlockState: { state: 'associated' },
    },
  ],
  dhcpOptionsId: 'dopt-0a1b2c3d4e5f60718',
  instanceTenancy: 'default',
  isDefault: v.isDefault,
  tagSet: tagSet(v.tags),
  blockPublicAccessStates: { internetGatewayBlockMode: 'off' },
});

const subnetXml = (ctx: ActionContext, s: Subnet): XmlValue => ({
  subnetId: s.id,
  subnetArn: `arn:aws:ec2:${s.region}:${ACCOUNT_ID}:subnet/${s.id}`,
  state: 'available',
  ownerId: ACCOUNT_ID,
  vpcId: s.vpcId,
  cidrBlock: formatCidr(s.cidr),
  availableIpAddressCount: s.cidr.size - 5 - s.used.size,
  availabilityZone: s.zone,
  availabilityZoneId: zoneByName(ctx.region, s.zone)?.id,
  defaultForAz: s.isDefault,
  mapPublicIpOnLaunch: s.mapPublicIp,
  assignIpv6AddressOnCreation: false,
  ipv6CidrBlockAssociationSet: [],
  tagSet: tagSet(s.tags),
  privateDnsNameOptionsOnLaunch: {
    hostnameType: 'ip-name',
    enableResourceNameDnsARecord: false,
    enableResourceNameDnsAAAARecord: false,
  },
});

export const createVpc: ActionHandler = (ctx) => {
  const cidr = cidrParam(ctx, 'CidrBlock', 16, 28, 'InvalidVpc.Range');
  const tags = parseTagSpecifications(ctx.params, ['vpc']).get('vpc') ?? NO_TAGS;
  ctx.store.ensureDefaults(ctx.region);
  return { vpc: vpcXml(ctx.store.createVpc(ctx.region, cidr, tags)) };
};

const vpcFields: FilterFields<Vpc> = {
  'vpc-id': (v) => v.id,
  'cidr-block': (v) => formatCidr(v.cidr),
  cidr: (v) => formatCidr(v.cidr),
  'is-default': (v) => String(v.isDefault),
  state: () => 'available',
  'owner-id': () => ACCOUNT_ID,
};

export const describeVpcs: ActionHandler = (ctx) => {
  const { items, nextToken } = describe(ctx, ctx.store.vpcs, 'VpcId', vpcFields, 'VpcID', 'vpc ID');
  return { vpcSet: items.map(vpcXml), nextToken };
};

export const deleteVpc: ActionHandler = (ctx) => {
  const vpc = ctx.store.vpc(ctx.params.required('VpcId'), ctx.region);
  const { store } = ctx;
  const dependent =
    [...store.subnets.values()].some((s) => s.vpcId === vpc.id) ||
    [...store.groups.values()].some((g) => g.vpcId === vpc.id && g.id !== vpc.defaultGroupId) ||
    [...store.gateways.values()].some((g) => g.vpcId === vpc.id) ||
    [...store.routeTables.values()].some((r) => r.vpcId === vpc.id && !r.main);
  if (dependent)
    throw new Ec2Error('DependencyViolation', `The vpc '${vpc.id}' has dependencies and cannot be deleted.`);
  store.vpcs.delete(vpc.id);
  store.groups.delete(vpc.defaultGroupId);
  for (const r of [...store.routeTables.values()]) if (r.vpcId === vpc.id) store.routeTables.delete(r.id);
  return { return: true };
};

export const createSubnet: ActionHandler = (ctx) => {
  const vpc = ctx.store.vpc(ctx.params.required('VpcId'), ctx.region);
  const cidr = cidrParam(ctx, 'CidrBlock', 16, 28, 'InvalidSubnet.Range');
  const text = formatCidr(cidr);
  if (!within(vpc.cidr, cidr)) throw new Ec2Error('InvalidSubnet.Range', `The CIDR '${text}' is invalid.`);
  for (const s of ctx.store.subnets.values()) {
    if (s.vpcId === vpc.id && overlaps(s.cidr, cidr))
      throw new Ec2Error('InvalidSubnet.Conflict', `The CIDR '${text}' conflicts with another subnet`);
  }
  const zones = zonesOf(ctx.region);
  const zoneName = ctx.params.str('AvailabilityZone');
  const zoneId = ctx.params.str('AvailabilityZoneId');
  const zone = zoneName
    ? zones.find((z) => z.name === zoneName)
    : zoneId
      ? zones.find((z) => z.id === zoneId)
      : zones[0];
  if (!zone) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${zoneName ?? zoneId}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${zones.map((z) => z.name).join(', ')}.`,
    );
  }
  const tags = parseTagSpecifications(ctx.params, ['subnet']).get('subnet') ?? NO_TAGS;
  return { subnet: subnetXml(ctx, ctx.store.createSubnet(vpc, zone.name, cidr, tags)) };
};

const subnetFields: FilterFields<Subnet> = {
  'subnet-id': (s) => s.id,
  'vpc-id': (s) => s.vpcId,
  'cidr-block': (s) => formatCidr(s.cidr),
  cidr: (s) => formatCidr(s.cidr),
  cidrBlock: (s) => formatCidr(s.cidr),
  'availability-zone': (s) => s.zone,
  'default-for-az': (s) => String(s.isDefault),
  'map-public-ip-on-launch': (s) => String(s.mapPublicIp),
  state: () => 'available',
  'owner-id': () => ACCOUNT_ID,
};

export const describeSubnets: ActionHandler = (ctx) => {
  const { items, nextToken } = describe(ctx, ctx.store.subnets, 'SubnetId', subnetFields, 'SubnetID', 'subnet ID');
  return { subnetSet: items.map((s) => subnetXml(ctx, s)), nextToken };
};

export const modifySubnetAttribute: ActionHandler = (ctx) => {
  const subnet = ctx.store.subnet(ctx.params.required('SubnetId'), ctx.region);
  const map = ctx.params.bool('MapPublicIpOnLaunch.Value');
  if (map !== undefined) subnet.mapPublicIp = map;
  return { return: true };
};

export const deleteSubnet: ActionHandler = (ctx) => {
  const subnet = ctx.store.subnet(ctx.params.required('SubnetId'), ctx.region);
  const now = ctx.store.now();
  for (const i of ctx.store.instances.values()) {
    if (i.launch.subnetId === subnet.id && ctx.store.stateOf(i, now).name !== 'terminated') {
      throw new Ec2Error('DependencyViolation', `The subnet '${subnet.id}' has dependencies and cannot be deleted.`);
    }
  }
  ctx.store.subnets.delete(subnet.id);
  return { return: true };
};

// Security groups ------------------------------------------------------------------------------------------

const PROTOCOLS: Readonly<Record<string, string>> = { '6': 'tcp', '17': 'udp', '1': 'icmp', all: '-1' };

function permissionsXml(perms: readonly Permission[]): XmlValue {
  const grouped = new Map<string, Permission[]>();
  for (const p of perms) {
    const key = `${p.protocol}/${p.from}/${p.to}`;
    grouped.set(key, [...(grouped.get(key) ?? []), p]);
  }
  return [...grouped.values()].map((ps) => {
    const p = ps[0]!;
    return {
      ipProtocol: p.protocol,
      fromPort: p.protocol === '-1' ? undefined : p.from,
      toPort: p.protocol === '-1' ? undefined : p.to,
      groups: ps
        .filter((x) => x.groupId)
        .map((x) => ({ description: x.description, userId: ACCOUNT_ID, groupId: x.groupId })),
      ipRanges: ps.filter((x) => x.cidr).map((x) => ({ cidrIp: x.cidr, description: x.description })),
      ipv6Ranges: [],
      prefixListIds: [],
    };
  });
}

const groupXml = (g: SecurityGroup): XmlValue => ({
  ownerId: ACCOUNT_ID,
  groupId: g.id,
  groupName: g.name,
  groupDescription: g.description,
  vpcId: g.vpcId,
  securityGroupArn: `arn:aws:ec2:${g.region}:${ACCOUNT_ID}:security-group/${g.id}`,
  ipPermissions: permissionsXml(g.ingress),
  ipPermissionsEgress: permissionsXml(g.egress),
  tagSet: tagSet(g.tags),
});

export const createSecurityGroup: ActionHandler = (ctx) => {
  const name = ctx.params.required('GroupName');
  const description = ctx.params.required('GroupDescription');
  if (name.length > 255 || description.length > 255)
    throw new Ec2Error('InvalidParameterValue', 'Group name and description must be at most 255 characters');
  if (/^sg-/i.test(name)) throw new Ec2Error('InvalidParameterValue', 'Group names may not be in the format sg-*.');
  if (name === 'default') throw new Ec2Error('InvalidGroup.Reserved', "The security group 'default' is reserved");
  const vpcId = ctx.params.str('VpcId');
  ctx.store.ensureDefaults(ctx.region);
  const vpc = vpcId
    ? ctx.store.vpc(vpcId, ctx.region)
    : [...ctx.store.vpcs.values()].find((v) => v.region === ctx.region && v.isDefault)!;
  for (const g of ctx.store.groups.values()) {
    if (g.vpcId === vpc.id && g.name === name)
      throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpc.id}'`);
  }
  const tags = parseTagSpecifications(ctx.params, ['security-group']).get('security-group') ?? NO_TAGS;
  const group: SecurityGroup = {
    id: ctx.store.newId('sg'),
    region: ctx.region,
    vpcId: vpc.id,
    name,
    description,
    ingress: [],
    egress: [{ id: ctx.store.newId('sgr'), protocol: '-1', from: -1, to: -1, cidr: '0.0.0.0/0' }],
    tags,
  };
  ctx.store.groups.set(group.id, group);
  return {
    return: true,
    groupId: group.id,
    securityGroupArn: `arn:aws:ec2:${ctx.region}:${ACCOUNT_ID}:security-group/${group.id}`,
    tagSet: tagSet(tags),
  };
};

function targetGroup(ctx: ActionContext): SecurityGroup {
  const id = ctx.params.str('GroupId');
  if (id) return ctx.store.group(id, ctx.region);
  const name = ctx.params.str('GroupName');
  if (!name) throw new Ec2Error('MissingParameter', 'The request must contain the parameter groupName or groupId');
  ctx.store.ensureDefaults(ctx.region);
  const found = [...ctx.store.groups.values()].find(
    (g) => g.region === ctx.region && g.name === name && ctx.store.vpcs.get(g.vpcId)?.isDefault,
  );
  if (!found) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC`);
  return found;
}

/** IpPermissions.N (or the legacy top-level fields) → one Permission per source, validated. */
function parsePermissions(ctx: ActionContext, group: SecurityGroup): Permission[] {
  const specs = ctx.params.list('IpPermissions');
  const legacy = ctx.params.has('IpProtocol') ? [ctx.params] : [];
  const out: Permission[] = [];
  for (const spec of [...specs, ...legacy]) {
    const raw = spec.required('IpProtocol').toLowerCase();
    const protocol = PROTOCOLS[raw] ?? raw;
    if (!['tcp', 'udp', 'icmp', '-1'].includes(protocol) && !/^\d+$/.test(protocol)) {
      throw new Ec2Error('InvalidParameterValue', `Invalid value '${raw}' for IP protocol. Unknown protocol.`);
    }
    let from = spec.int('FromPort', -1, 65535);
    let to = spec.int('ToPort', -1, 65535);
    if (protocol === 'tcp' || protocol === 'udp') {
      if (from === undefined || to === undefined)
        throw new Ec2Error(
          'InvalidParameterValue',
          "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
        );
      if (from < 0 || to < from)
        throw new Ec2Error('InvalidParameterValue', `Invalid TCP/UDP port range: from ${from} to ${to}`);
    } else if (protocol === '-1') {
      from = -1;
      to = -1;
    }
    const base = { protocol, from: from ?? -1, to: to ?? -1 };
    const cidrs =
      spec === ctx.params
        ? spec.str('CidrIp')
          ? [{ cidr: spec.str('CidrIp')!, description: undefined }]
          : []
        : spec.list('IpRanges').map((r) => ({ cidr: r.required('CidrIp'), description: r.str('Description') }));
    for (const { cidr, description } of cidrs) {
      if (!parseCidr(cidr)) throw new Ec2Error('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
      out.push({ id: ctx.store.newId('sgr'), ...base, cidr, description });
    }
    const pairs =
      spec === ctx.params
        ? []
        : spec.list('Groups').map((g) => ({ groupId: g.required('GroupId'), description: g.str('Description') }));
    for (const { groupId, description } of pairs) {
      const peer = ctx.store.group(groupId, ctx.region);
      if (peer.vpcId !== group.vpcId)
        throw new Ec2Error(
          'InvalidGroup.NotFound',
          `You have specified two resources that belong to different networks.`,
        );
      out.push({ id: ctx.store.newId('sgr'), ...base, groupId, description });
    }
    if (spec.list('Ipv6Ranges').length || spec.list('PrefixListIds').length)
      throw new Ec2Error(
        'Unsupported',
        'cloudsim does not simulate IPv6 ranges or prefix lists in security group rules',
      );
  }
  if (out.length === 0) throw new Ec2Error('MissingParameter', 'No ip permissions or source specified.');
  return out;
}

const samePermission = (a: Permission, b: Permission) =>
  a.protocol === b.protocol && a.from === b.from && a.to === b.to && a.cidr === b.cidr && a.groupId === b.groupId;

function describePermission(p: Permission): string {
  const ports = p.protocol === '-1' ? 'ALL' : `${p.protocol.toUpperCase()}, from port: ${p.from}, to port: ${p.to}`;
  return `peer: ${p.cidr ?? p.groupId}, ${ports}, ALLOW`;
}

function authorize(direction: 'ingress' | 'egress'): ActionHandler {
  return (ctx) => {
    const group = targetGroup(ctx);
    const perms = parsePermissions(ctx, group);
    const list = group[direction];
    for (const p of perms) {
      if (list.some((q) => samePermission(p, q)) || perms.filter((q) => samePermission(p, q)).length > 1) {
        throw new Ec2Error(
          'InvalidPermission.Duplicate',
          `the specified rule "${describePermission(p)}" already exists`,
        );
      }
    }
    list.push(...perms);
    return {
      return: true,
      securityGroupRuleSet: perms.map((p) => ({
        securityGroupRuleId: p.id,
        groupId: group.id,
        groupOwnerId: ACCOUNT_ID,
        isEgress: direction === 'egress',
        ipProtocol: p.protocol,
        fromPort: p.from,
        toPort: p.to,
        cidrIpv4: p.cidr,
        referencedGroupInfo: p.groupId ? { groupId: p.groupId, userId: ACCOUNT_ID } : undefined,
        description: p.description,
        securityGroupRuleArn: `arn:aws:ec2:${ctx.region}:${ACCOUNT_ID}:security-group-rule/${p.id}`,
      })),
    };
  };
}

function revoke(direction: 'ingress' | 'egress'): ActionHandler {
  return (ctx) => {
    const group = targetGroup(ctx);
    const list = group[direction];
    const ruleIds = ctx.params.strList('SecurityGroupRuleId');
    const perms = ruleIds.length ? [] : parsePermissions(ctx, group);
    const unknown: string[] = [];
    for (const id of ruleIds) {
      const i = list.findIndex((q) => q.id === id);
      if (i < 0) unknown.push(id);
      else list.splice(i, 1);
    }
    if (unknown.length)
      throw new Ec2Error(
        'InvalidSecurityGroupRuleId.NotFound',
        `The security group rule ID '${unknown.join(', ')}' does not exist`,
      );
    const missing = perms.filter((p) => {
      const i = list.findIndex((q) => samePermission(p, q));
      if (i >= 0) list.splice(i, 1);
      return i < 0;
    });
    if (missing.length) {
      return { return: true, unknownIpPermissionSet: permissionsXml(missing) };
    }
    return { return: true };
  };
}

export const authorizeSecurityGroupIngress = authorize('ingress');
export const authorizeSecurityGroupEgress = authorize('egress');
export const revokeSecurityGroupIngress = revoke('ingress');
export const revokeSecurityGroupEgress = revoke('egress');

const groupFields: FilterFields<SecurityGroup> = {
  'group-id': (g) => g.id,
  'group-name': (g) => g.name,
  'vpc-id': (g) => g.vpcId,
  description: (g) => g.description,
  'owner-id': () => ACCOUNT_ID,
};

export const describeSecurityGroups: ActionHandler = (ctx) => {
  const names = ctx.params.strList('GroupName');
  const { items, nextToken } = describe(ctx, ctx.store.groups, 'GroupId', groupFields, 'Group', 'security group');
  const selected = names.length ? items.filter((g) => names.includes(g.name)) : items;
  return { securityGroupInfo: selected.map(groupXml), nextToken };
};

export const deleteSecurityGroup: ActionHandler = (ctx) => {
  const group = targetGroup(ctx);
  if (group.name === 'default')
    throw new Ec2Error(
      'CannotDelete',
      `the specified group: "${group.id}" name: "default" cannot be deleted by a user`,
    );
  const now = ctx.store.now();
  const inUse =
    [...ctx.store.instances.values()].some(
      (i) => i.launch.groupIds.includes(group.id) && ctx.store.stateOf(i, now).name !== 'terminated',
    ) ||
    [...ctx.store.groups.values()].some(
      (g) => g.id !== group.id && [...g.ingress, ...g.egress].some((p) => p.groupId === group.id),
    );
  if (inUse) throw new Ec2Error('DependencyViolation', `resource ${group.id} has a dependent object`);
  ctx.store.groups.delete(group.id);
  return { return: true, groupId: group.id };
};

// Internet gateways and routes -----------------------------------------------------------------------------

const gatewayXml = (g: InternetGateway): XmlValue => ({
  internetGatewayId: g.id,
  ownerId: ACCOUNT_ID,
  attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [],
  tagSet: tagSet(g.tags),
});

export const createInternetGateway: ActionHandler = (ctx) => {
  const tags = parseTagSpecifications(ctx.params, ['internet-gateway']).get('internet-gateway') ?? NO_TAGS;
  const igw: InternetGateway = { id: ctx.store.newId('igw'), region: ctx.region, isDefault: false, tags };
  ctx.store.gateways.set(igw.id, igw);
  return { internetGateway: gatewayXml(igw) };
};

const gateway = (ctx: ActionContext) =>
  ctx.store.find(
    ctx.store.gateways,
    ctx.params.required('InternetGatewayId'),
    ctx.region,
    'igw',
    'InternetGatewayID',
    'internet gateway ID',
  );

export const attachInternetGateway: ActionHandler = (ctx) => {
  const igw = gateway(ctx);
  const vpc = ctx.store.vpc(ctx.params.required('VpcId'), ctx.region);
  if (igw.vpcId)
    throw new Ec2Error('Resource.AlreadyAssociated', `resource ${igw.id} is already attached to network ${igw.vpcId}`);
  if ([...ctx.store.gateways.values()].some((g) => g.vpcId === vpc.id))
    throw new Ec2Error('InvalidParameterValue', `Network ${vpc.id} already has an internet gateway attached`);
  igw.vpcId = vpc.id;
  return { return: true };
};

export const detachInternetGateway: ActionHandler = (ctx) => {
  const igw = gateway(ctx);
  const vpcId = ctx.params.required('VpcId');
  if (igw.vpcId !== vpcId)
    throw new Ec2Error('Gateway.NotAttached', `resource ${igw.id} is not attached to network ${vpcId}`);
  igw.vpcId = undefined;
  return { return: true };
};

export const deleteInternetGateway: ActionHandler = (ctx) => {
  const igw = gateway(ctx);
  if (igw.vpcId)
    throw new Ec2Error(
      'DependencyViolation',
      `The internetGateway '${igw.id}' has dependencies and cannot be deleted.`,
    );
  ctx.store.gateways.delete(igw.id);
  return { return: true };
};

const gatewayFields: FilterFields<InternetGateway> = {
  'internet-gateway-id': (g) => g.id,
  'attachment.vpc-id': (g) => g.vpcId,
  'attachment.state': (g) => (g.vpcId ? 'available' : undefined),
  'owner-id': () => ACCOUNT_ID,
};

export const describeInternetGateways: ActionHandler = (ctx) => {
  const { items, nextToken } = describe(
    ctx,
    ctx.store.gateways,
    'InternetGatewayId',
    gatewayFields,
    'InternetGatewayID',
    'internet gateway ID',
  );
  return { internetGatewaySet: items.map(gatewayXml), nextToken };
};

const routeTableXml = (ctx: ActionContext, r: RouteTable): XmlValue => {
  const vpc = ctx.store.vpcs.get(r.vpcId);
  return {
    routeTableId: r.id,
    vpcId: r.vpcId,
    ownerId: ACCOUNT_ID,
    routeSet: [
      ...(vpc
        ? [
            {
              destinationCidrBlock: formatCidr(vpc.cidr),
              gatewayId: 'local',
              state: 'active',
              origin: 'CreateRouteTable',
            },
          ]
        : []),
      ...r.routes.map((x) => ({
        destinationCidrBlock: x.destination,
        gatewayId: x.gatewayId,
        state: ctx.store.gateways.get(x.gatewayId)?.vpcId === r.vpcId ? 'active' : 'blackhole',
        origin: 'CreateRoute',
      })),
    ],
    associationSet: r.main
      ? [
          {
            routeTableAssociationId: `rtbassoc-${r.id.slice(4)}`,
            routeTableId: r.id,
            main: true,
            associationState: { state: 'associated' },
          },
        ]
      : [],
    propagatingVgwSet: [],
    tagSet: tagSet(r.tags),
  };
};

const routeTableFields: FilterFields<RouteTable> = {
  'route-table-id': (r) => r.id,
  'vpc-id': (r) => r.vpcId,
  'association.main': (r) => String(r.main),
  'owner-id': () => ACCOUNT_ID,
};

export const describeRouteTables: ActionHandler = (ctx) => {
  const { items, nextToken } = describe(
    ctx,
    ctx.store.routeTables,
    'RouteTableId',
    routeTableFields,
    'RouteTableID',
    'route table ID',
    100,
  );
  return { routeTableSet: items.map((r) => routeTableXml(ctx, r)), nextToken };
};

export const createRoute: ActionHandler = (ctx) => {
  const table = ctx.store.find(
    ctx.store.routeTables,
    ctx.params.required('RouteTableId'),
    ctx.region,
    'rtb',
    'RouteTableID',
    'route table ID',
  );
  const destination = ctx.params.required('DestinationCidrBlock');
  if (!parseCidr(destination))
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${destination}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`,
    );
  const gatewayId = ctx.params.required('GatewayId');
  const igw = ctx.store.find(ctx.store.gateways, gatewayId, ctx.region, 'igw', 'GatewayID', 'gateway ID');
  if (igw.vpcId !== table.vpcId)
    throw new Ec2Error(
      'InvalidParameterValue',
      `route table ${table.id} and network gateway ${igw.id} belong to different networks`,
    );
  if (table.routes.some((r) => r.destination === destination)) {
    throw new Ec2Error('RouteAlreadyExists', `The route identified by ${destination} already exists.`);
  }
  table.routes.push({ destination, gatewayId });
  return { return: true };
};

export const deleteRoute: ActionHandler = (ctx) => {
  const table = ctx.store.find(
    ctx.store.routeTables,
    ctx.params.required('RouteTableId'),
    ctx.region,
    'rtb',
    'RouteTableID',
    'route table ID',
  );
  const destination = ctx.params.required('DestinationCidrBlock');
  const i = table.routes.findIndex((r) => r.destination === destination);
  if (i < 0)
    throw new Ec2Error(
      'InvalidRoute.NotFound',
      `no route with destination-cidr-block ${destination} in route table ${table.id}`,
    );
  table.routes.splice(i, 1);
  return { return: true };
};
