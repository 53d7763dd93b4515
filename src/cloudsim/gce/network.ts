import type { SimResponse } from '../core/types.js';
import { findRegion, REGIONS } from './catalog.js';
import { alreadyExists, inUse, invalidField, notFound, notReady, required } from './errors.js';
import { mutate } from './operations.js';
import { listResponse } from './paging.js';
import { link, refName } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import type { FirewallRec, NetworkRec, SubnetRec } from './state.js';
import { intToIp, objectField, overlaps, parseCidr, str, validName } from './validate.js';

/** VPC networks, regional subnetworks and firewall rules. None of them has labels in compute/v1. */

/** Ranges Compute Engine gives the subnetworks of an auto-mode network. */
const AUTO_RANGES: Record<string, string> = {
  'us-central1': '10.128.0.0/20',
  'us-east1': '10.142.0.0/20',
  'europe-west1': '10.132.0.0/20',
  'europe-west4': '10.164.0.0/20',
  'asia-northeast1': '10.146.0.0/20',
};

const networkPath = (project: string, name: string) => `projects/${project}/global/networks/${name}`;
const subnetPath = (s: Pick<SubnetRec, 'project' | 'region' | 'name'>) =>
  `projects/${s.project}/regions/${s.region}/subnetworks/${s.name}`;
const firewallPath = (project: string, name: string) => `projects/${project}/global/firewalls/${name}`;

// ---- networks ----------------------------------------------------------------------------------------------

/** Looks up a network reference and checks it can be used (exists and its creation finished). */
export function usableNetwork(rt: GceRuntime, project: string, ref: unknown, field: string): NetworkRec {
  if (typeof ref !== 'string' || !ref) throw required(field);
  const parsed = refName(ref, project, 'networks');
  if (!parsed) throw invalidField(field, ref, 'The URL is malformed.');
  const network = rt.state.networks.get(`${parsed.project}/${parsed.name}`);
  if (!network) throw notFound(networkPath(parsed.project, parsed.name));
  if (rt.now() < network.readyAt) throw notReady(networkPath(network.project, network.name));
  return network;
}

function renderNetwork(rt: GceRuntime, n: NetworkRec): Record<string, unknown> {
  const subnets = [...rt.state.subnets.values()]
    .filter((s) => s.project === n.project && s.network === n.name)
    .map((s) => link(subnetPath(s)));
  return {
    kind: 'compute#network',
    id: n.id,
    creationTimestamp: rt.timestamp(n.createdAt),
    name: n.name,
    description: n.description || undefined,
    selfLink: link(networkPath(n.project, n.name)),
    selfLinkWithId: link(`projects/${n.project}/global/networks/${n.id}`),
    autoCreateSubnetworks: n.autoCreateSubnetworks,
    subnetworks: subnets,
    routingConfig: { routingMode: n.routingMode, bgpBestPathSelectionMode: 'LEGACY' },
    networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL',
    mtu: n.mtu,
  };
}

export function insertNetwork(rt: GceRuntime, call: GceCall): SimResponse {
  return mutate(rt, call, () => {
    const b = objectField(call.body, 'resource');
    const name = validName('resource.name', b.name);
    const key = `${call.project}/${name}`;
    if (rt.state.networks.has(key)) throw alreadyExists(networkPath(call.project, name));
    if (b.IPv4Range !== undefined)
      throw invalidField('resource.IPv4Range', b.IPv4Range, 'Legacy networks are not supported; create a VPC network.');
    const mtu = b.mtu === undefined ? 1460 : Number(b.mtu);
    if (!Number.isInteger(mtu) || mtu < 1300 || mtu > 8896)
      throw invalidField('resource.mtu', b.mtu, 'MTU must be between 1300 and 8896.');
    const routingMode = str((b.routingConfig as { routingMode?: unknown } | undefined)?.routingMode) || 'REGIONAL';
    if (routingMode !== 'REGIONAL' && routingMode !== 'GLOBAL')
      throw invalidField('resource.routingConfig.routingMode', routingMode, 'Must be REGIONAL or GLOBAL.');
    const now = rt.now();
    const network: NetworkRec = {
      project: call.project,
      name,
      id: rt.newId(),
      createdAt: now,
      readyAt: now + rt.shortMs,
      description: str(b.description),
      autoCreateSubnetworks: b.autoCreateSubnetworks !== false,
      mtu,
      routingMode,
    };
    rt.state.networks.set(key, network);
    if (network.autoCreateSubnetworks) {
      for (const region of REGIONS)
        createSubnet(rt, {
          project: call.project,
          region: region.name,
          name,
          network: name,
          cidr: AUTO_RANGES[region.name]!,
          description: '',
          privateIpGoogleAccess: false,
        });
    }
    return {
      scope: 'global',
      location: '',
      operationType: 'insert',
      targetPath: networkPath(call.project, name),
      targetId: network.id,
      durationMs: rt.shortMs,
    };
  });
}

export function getNetwork(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  const n = rt.state.networks.get(`${call.project}/${name}`);
  if (!n) throw notFound(networkPath(call.project, name));
  return ok(renderNetwork(rt, n));
}

export function listNetworks(rt: GceRuntime, call: GceCall): SimResponse {
  const items = [...rt.state.networks.values()]
    .filter((n) => n.project === call.project)
    .map((n) => renderNetwork(rt, n));
  return listResponse(call, 'compute#networkList', `projects/${call.project}/global/networks`, items);
}

export function deleteNetwork(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  return mutate(rt, call, () => {
    const key = `${call.project}/${name}`;
    const n = rt.state.networks.get(key);
    if (!n) throw notFound(networkPath(call.project, name));
    for (const fw of rt.state.firewalls.values()) {
      if (fw.project === n.project && fw.network === n.name)
        throw inUse(networkPath(n.project, n.name), firewallPath(fw.project, fw.name));
    }
    const subnets = [...rt.state.subnets.entries()].filter(([, s]) => s.project === n.project && s.network === n.name);
    for (const [, s] of subnets) {
      const user = subnetUser(rt, s);
      // Auto-mode subnetworks go with their network; custom ones must be deleted first.
      if (user || !n.autoCreateSubnetworks) throw inUse(networkPath(n.project, n.name), user ?? subnetPath(s));
    }
    for (const [k] of subnets) rt.state.subnets.delete(k);
    rt.state.networks.delete(key);
    return {
      scope: 'global',
      location: '',
      operationType: 'delete',
      targetPath: networkPath(call.project, name),
      targetId: n.id,
      durationMs: rt.shortMs,
    };
  });
}

/** GCE's firewall rules of a project's `default` network. */
const DEFAULT_FIREWALLS: ReadonlyArray<{
  name: string;
  description: string;
  allowed: unknown[];
  sourceRanges: string[];
}> = [
  {
    name: 'default-allow-internal',
    description: 'Allow internal traffic on the default network',
    allowed: [
      { IPProtocol: 'tcp', ports: ['0-65535'] },
      { IPProtocol: 'udp', ports: ['0-65535'] },
      { IPProtocol: 'icmp' },
    ],
    sourceRanges: ['10.128.0.0/9'],
  },
  {
    name: 'default-allow-ssh',
    description: 'Allow SSH from anywhere',
    allowed: [{ IPProtocol: 'tcp', ports: ['22'] }],
    sourceRanges: ['0.0.0.0/0'],
  },
  {
    name: 'default-allow-rdp',
    description: 'Allow RDP from anywhere',
    allowed: [{ IPProtocol: 'tcp', ports: ['3389'] }],
    sourceRanges: ['0.0.0.0/0'],
  },
  {
    name: 'default-allow-icmp',
    description: 'Allow ICMP from anywhere',
    allowed: [{ IPProtocol: 'icmp' }],
    sourceRanges: ['0.0.0.0/0'],
  },
];

/**
 * A new project has the `default` auto-mode network (one subnetwork per region from 10.128.0.0/9) and GCE's
 * four default firewall rules, made on the project's first call. Like EC2's default VPC they are not in the
 * inventory, so leftover checks see only what a test made; deleted, they do not come back.
 */
export function ensureDefaultNetwork(rt: GceRuntime, project: string): void {
  if (rt.state.defaultsMade.has(project)) return;
  rt.state.defaultsMade.add(project);
  const key = `${project}/default`;
  if (rt.state.networks.has(key)) return;
  const now = rt.now();
  rt.state.networks.set(key, {
    project,
    name: 'default',
    id: rt.newId(),
    createdAt: now,
    readyAt: now,
    description: 'Default network for the project',
    autoCreateSubnetworks: true,
    mtu: 1460,
    routingMode: 'REGIONAL',
    builtIn: true,
  });
  for (const region of REGIONS) {
    if (rt.state.subnets.has(`${project}/${region.name}/default`)) continue;
    createSubnet(rt, {
      project,
      region: region.name,
      name: 'default',
      network: 'default',
      cidr: AUTO_RANGES[region.name]!,
      description: '',
      privateIpGoogleAccess: false,
      builtIn: true,
    });
  }
  for (const fw of DEFAULT_FIREWALLS) {
    if (rt.state.firewalls.has(`${project}/${fw.name}`)) continue;
    rt.state.firewalls.set(`${project}/${fw.name}`, {
      project,
      name: fw.name,
      id: rt.newId(),
      createdAt: now,
      readyAt: now,
      network: 'default',
      body: {
        description: fw.description,
        priority: 65534,
        direction: 'INGRESS',
        allowed: fw.allowed,
        sourceRanges: fw.sourceRanges,
        disabled: false,
        logConfig: { enable: false },
      },
      builtIn: true,
    });
  }
}

// ---- subnetworks -------------------------------------------------------------------------------------------

function createSubnet(
  rt: GceRuntime,
  s: {
    project: string;
    region: string;
    name: string;
    network: string;
    cidr: string;
    description: string;
    privateIpGoogleAccess: boolean;
    builtIn?: boolean;
  },
): SubnetRec {
  const cidr = parseCidr(s.cidr)!;
  const now = rt.now();
  const rec: SubnetRec = {
    ...s,
    id: rt.newId(),
    createdAt: now,
    readyAt: s.builtIn ? now : now + rt.shortMs,
    base: cidr.base,
    size: cidr.size,
    // Compute Engine keeps the network, gateway, second-to-last and broadcast addresses.
    used: new Set([cidr.base, cidr.base + 1, cidr.base + cidr.size - 2, cidr.base + cidr.size - 1]),
    next: cidr.base + 2,
  };
  rt.state.subnets.set(`${s.project}/${s.region}/${s.name}`, rec);
  return rec;
}

function renderSubnet(rt: GceRuntime, s: SubnetRec): Record<string, unknown> {
  return {
    kind: 'compute#subnetwork',
    id: s.id,
    creationTimestamp: rt.timestamp(s.createdAt),
    name: s.name,
    description: s.description || undefined,
    network: link(networkPath(s.project, s.network)),
    ipCidrRange: s.cidr,
    gatewayAddress: intToIp(s.base + 1),
    region: link(`projects/${s.project}/regions/${s.region}`),
    selfLink: link(subnetPath(s)),
    privateIpGoogleAccess: s.privateIpGoogleAccess,
    fingerprint: Buffer.from(s.id.slice(-8)).toString('base64'),
    purpose: 'PRIVATE',
    stackType: 'IPV4_ONLY',
  };
}

/** The first live instance using the subnetwork, as a resource path, if any. */
function subnetUser(rt: GceRuntime, s: SubnetRec): string | undefined {
  for (const [key, zone] of rt.state.zones) {
    if (!key.startsWith(`${s.project}/${s.region}-`)) continue;
    for (const vm of zone.byName.values()) {
      if (vm.goneAt !== undefined && rt.now() >= vm.goneAt) continue;
      if (vm.props.subnet === s.name && vm.props.subnetRegion === s.region)
        return `projects/${s.project}/zones/${vm.zone}/instances/${vm.name}`;
    }
  }
  return undefined;
}

export function knownRegion(region: string): void {
  if (!findRegion(region)) throw invalidField('region', region, 'Unknown region.');
}

export function insertSubnet(rt: GceRuntime, call: GceCall, region: string): SimResponse {
  return mutate(rt, call, () => {
    knownRegion(region);
    const b = objectField(call.body, 'resource');
    const name = validName('resource.name', b.name);
    if (rt.state.subnets.has(`${call.project}/${region}/${name}`))
      throw alreadyExists(subnetPath({ project: call.project, region, name }));
    const network = usableNetwork(rt, call.project, b.network, 'resource.network');
    const rangeText = str(b.ipCidrRange);
    if (!rangeText) throw required('resource.ipCidrRange');
    const cidr = parseCidr(rangeText);
    if (!cidr) throw invalidField('resource.ipCidrRange', rangeText, `Invalid IPCidrRange: ${rangeText}.`);
    if (cidr.prefix < 8 || cidr.prefix > 29)
      throw invalidField(
        'resource.ipCidrRange',
        rangeText,
        `Invalid IPCidrRange: ${rangeText}. The prefix length must be between 8 and 29.`,
      );
    for (const other of rt.state.subnets.values()) {
      if (
        other.project === call.project &&
        other.network === network.name &&
        overlaps(cidr, { base: other.base, size: other.size, prefix: 32 - Math.log2(other.size) })
      ) {
        throw invalidField(
          'resource.ipCidrRange',
          rangeText,
          `Invalid IPCidrRange: ${rangeText} conflicts with existing subnetwork '${other.name}' in region '${other.region}'.`,
        );
      }
    }
    const rec = createSubnet(rt, {
      project: call.project,
      region,
      name,
      network: network.name,
      cidr: rangeText,
      description: str(b.description),
      privateIpGoogleAccess: b.privateIpGoogleAccess === true,
    });
    return {
      scope: 'regions',
      location: region,
      operationType: 'insert',
      targetPath: subnetPath(rec),
      targetId: rec.id,
      durationMs: rt.shortMs,
    };
  });
}

export function getSubnet(rt: GceRuntime, call: GceCall, region: string, name: string): SimResponse {
  knownRegion(region);
  const s = rt.state.subnets.get(`${call.project}/${region}/${name}`);
  if (!s) throw notFound(subnetPath({ project: call.project, region, name }));
  return ok(renderSubnet(rt, s));
}

export function listSubnets(rt: GceRuntime, call: GceCall, region: string): SimResponse {
  knownRegion(region);
  const items = [...rt.state.subnets.values()]
    .filter((s) => s.project === call.project && s.region === region)
    .map((s) => renderSubnet(rt, s));
  return listResponse(call, 'compute#subnetworkList', `projects/${call.project}/regions/${region}/subnetworks`, items);
}

export function deleteSubnet(rt: GceRuntime, call: GceCall, region: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    knownRegion(region);
    const key = `${call.project}/${region}/${name}`;
    const s = rt.state.subnets.get(key);
    if (!s) throw notFound(subnetPath({ project: call.project, region, name }));
    const user = subnetUser(rt, s);
    if (user) throw inUse(subnetPath(s), user);
    rt.state.subnets.delete(key);
    return {
      scope: 'regions',
      location: region,
      operationType: 'delete',
      targetPath: subnetPath(s),
      targetId: s.id,
      durationMs: rt.shortMs,
    };
  });
}

/** Resolves the subnetwork a NIC names, checking it belongs to the network and the zone's region. */
export function usableSubnet(rt: GceRuntime, project: string, region: string, ref: string, field: string): SubnetRec {
  const parsed = refName(ref, project, 'subnetworks');
  if (!parsed) throw invalidField(field, ref, 'The URL is malformed.');
  const r = parsed.scope ?? region;
  const s = rt.state.subnets.get(`${parsed.project}/${r}/${parsed.name}`);
  if (!s) throw notFound(subnetPath({ project: parsed.project, region: r, name: parsed.name }));
  if (s.region !== region) throw invalidField(field, ref, `Subnetwork must be in region '${region}'.`);
  if (rt.now() < s.readyAt) throw notReady(subnetPath(s));
  return s;
}

// ---- firewalls ---------------------------------------------------------------------------------------------

const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'esp', 'ah', 'sctp', 'ipip', 'all']);

function validRules(field: string, value: unknown): { IPProtocol: string; ports?: string[] }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidField(field, value, 'Must be a list.');
  return value.map((rule: unknown, i) => {
    const { IPProtocol, ports } = (rule ?? {}) as { IPProtocol?: unknown; ports?: unknown };
    const proto = str(IPProtocol).toLowerCase();
    if (!proto) throw required(`${field}[${i}].IPProtocol`);
    if (!PROTOCOLS.has(proto) && !(/^\d{1,3}$/.test(proto) && Number(proto) <= 255))
      throw invalidField(`${field}[${i}].IPProtocol`, IPProtocol, 'Invalid IP protocol.');
    if (ports === undefined || ports === null || (Array.isArray(ports) && ports.length === 0))
      return { IPProtocol: proto };
    if (!Array.isArray(ports)) throw invalidField(`${field}[${i}].ports`, ports, 'Must be a list.');
    if (!['tcp', 'udp', 'sctp', 'all'].includes(proto))
      throw invalidField(
        `${field}[${i}].ports`,
        '',
        `Ports can only be specified for protocols tcp, udp, sctp or all.`,
      );
    for (const p of ports) {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(p));
      if (!m || Number(m[1]) > 65535 || (m[2] !== undefined && (Number(m[2]) > 65535 || Number(m[2]) < Number(m[1])))) {
        throw invalidField(`${field}[${i}].ports`, String(p), 'Invalid port or port range.');
      }
    }
    return { IPProtocol: proto, ports: ports.map(String) };
  });
}

function validRanges(field: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidField(field, value, 'Must be a list.');
  return value.map((v: unknown, i) => {
    const text = String(v);
    const withPrefix = text.includes('/') ? text : `${text}/32`;
    const [ip, prefix] = withPrefix.split('/');
    if (!parseCidr(`${ip}/32`) || !/^\d{1,2}$/.test(prefix!) || Number(prefix) > 32)
      throw invalidField(`${field}[${i}]`, text, 'Invalid IPv4 CIDR range.');
    return text;
  });
}

function validTags(field: string, value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidField(field, value, 'Must be a list.');
  return value.map((t: unknown, i) => validName(`${field}[${i}]`, t));
}

function renderFirewall(rt: GceRuntime, fw: FirewallRec): Record<string, unknown> {
  return {
    kind: 'compute#firewall',
    id: fw.id,
    creationTimestamp: rt.timestamp(fw.createdAt),
    name: fw.name,
    ...fw.body,
    network: link(networkPath(fw.project, fw.network)),
    selfLink: link(firewallPath(fw.project, fw.name)),
  };
}

export function insertFirewall(rt: GceRuntime, call: GceCall): SimResponse {
  return mutate(rt, call, () => {
    const b = objectField(call.body, 'resource');
    const name = validName('resource.name', b.name);
    if (rt.state.firewalls.has(`${call.project}/${name}`)) throw alreadyExists(firewallPath(call.project, name));
    const network = usableNetwork(rt, call.project, b.network ?? 'global/networks/default', 'resource.network');
    const direction = str(b.direction) || 'INGRESS';
    if (direction !== 'INGRESS' && direction !== 'EGRESS')
      throw invalidField('resource.direction', b.direction, 'Must be INGRESS or EGRESS.');
    const allowed = validRules('resource.allowed', b.allowed);
    const denied = validRules('resource.denied', b.denied);
    if (allowed.length > 0 === denied.length > 0)
      throw invalidField('resource.allowed', '', 'Exactly one of allowed or denied must be specified.');
    const priority = b.priority === undefined ? 1000 : Number(b.priority);
    if (!Number.isInteger(priority) || priority < 0 || priority > 65535)
      throw invalidField('resource.priority', b.priority, 'Must be between 0 and 65535.');
    let sourceRanges = validRanges('resource.sourceRanges', b.sourceRanges);
    const sourceTags = validTags('resource.sourceTags', b.sourceTags);
    const targetTags = validTags('resource.targetTags', b.targetTags);
    const destinationRanges = validRanges('resource.destinationRanges', b.destinationRanges);
    if (direction === 'EGRESS' && sourceTags?.length)
      throw invalidField('resource.sourceTags', '', 'Source tags cannot be set for EGRESS rules.');
    if (
      direction === 'INGRESS' &&
      !sourceRanges?.length &&
      !sourceTags?.length &&
      !(b.sourceServiceAccounts as unknown[] | undefined)?.length
    )
      sourceRanges = ['0.0.0.0/0'];
    const now = rt.now();
    const fw: FirewallRec = {
      project: call.project,
      name,
      id: rt.newId(),
      createdAt: now,
      readyAt: now + rt.shortMs,
      network: network.name,
      body: Object.fromEntries(
        Object.entries({
          description: str(b.description) || undefined,
          priority,
          direction,
          allowed: allowed.length ? allowed : undefined,
          denied: denied.length ? denied : undefined,
          sourceRanges: direction === 'INGRESS' ? sourceRanges : undefined,
          destinationRanges: direction === 'EGRESS' ? (destinationRanges ?? ['0.0.0.0/0']) : destinationRanges,
          sourceTags,
          targetTags,
          disabled: b.disabled === true,
          logConfig: { enable: (b.logConfig as { enable?: unknown } | undefined)?.enable === true },
        }).filter(([, v]) => v !== undefined),
      ),
    };
    rt.state.firewalls.set(`${call.project}/${name}`, fw);
    return {
      scope: 'global',
      location: '',
      operationType: 'insert',
      targetPath: firewallPath(call.project, name),
      targetId: fw.id,
      durationMs: rt.shortMs,
    };
  });
}

export function getFirewall(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  const fw = rt.state.firewalls.get(`${call.project}/${name}`);
  if (!fw) throw notFound(firewallPath(call.project, name));
  return ok(renderFirewall(rt, fw));
}

export function listFirewalls(rt: GceRuntime, call: GceCall): SimResponse {
  const items = [...rt.state.firewalls.values()]
    .filter((f) => f.project === call.project)
    .map((f) => renderFirewall(rt, f));
  return listResponse(call, 'compute#firewallList', `projects/${call.project}/global/firewalls`, items);
}

export function deleteFirewall(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  return mutate(rt, call, () => {
    const key = `${call.project}/${name}`;
    const fw = rt.state.firewalls.get(key);
    if (!fw) throw notFound(firewallPath(call.project, name));
    rt.state.firewalls.delete(key);
    return {
      scope: 'global',
      location: '',
      operationType: 'delete',
      targetPath: firewallPath(call.project, name),
      targetId: fw.id,
      durationMs: rt.shortMs,
    };
  });
}
