import type { NetworkSecurityGroup, SecurityRule, VirtualNetwork } from '@azure/arm-network';
import { CloudApiError } from '../../src/errors.js';
import { type NetworkRef, TAG_KEYS } from '../../src/providers/types.js';
import { addressesAt } from '../../src/util/ipv4.js';
import type { AzureClients } from './clients.js';
import { isNotFound, mapAzureError } from './errors.js';

/** Names of what skypool creates per cluster; all of it lives in one resource group. */
export const names = {
  group: (cluster: string) => `skypool-${cluster}`,
  /** `region` only for a region other than the resource group's (the first network's): one NSG and VNet per region. */
  nsg: (cluster: string, region?: string) => `${cluster}${region ? `-${region}` : ''}-nsg`,
  vnet: (cluster: string, region?: string) => `${cluster}${region ? `-${region}` : ''}-vnet`,
  /** The NSG rule that opens the fabric's WireGuard port (51820/udp) to any source. */
  fabricRule: 'skypool-fabric',
  subnet: 'nodes',
  nic: (node: string) => `${node}-nic`,
  publicIp: (node: string) => `${node}-ip`,
};

export interface NetworkSettings {
  readonly region: string;
  /** VNet address space; default `10.X.0.0/16` with X derived from the cluster name. */
  readonly addressSpace?: string;
  /** Sources (CIDRs or one service tag) allowed to reach the Docker engine API (2376/tcp, mTLS). */
  readonly engineApiSources: readonly string[];
  readonly pollIntervalMs: number;
}

/** Azure keeps the first four addresses of every subnet (network, gateway, 2 × DNS) and the broadcast one. */
function reserved(cidr: string): string[] {
  return addressesAt(cidr, [0, 1, 2, 3]);
}

function defaultSpace(cluster: string): string {
  let h = 0x811c9dc5;
  for (const ch of cluster) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `10.${16 + (h % 224)}.0.0/16`;
}

/** First /20 of the address space: room for 4,091 nodes. */
function subnetOf(space: string): string {
  const [base, bits] = space.split('/');
  return `${base}/${Math.max(Number(bits), 20)}`;
}

function swarmRules(engineApiSources: readonly string[]): SecurityRule[] {
  const rule = (
    name: string,
    priority: number,
    protocol: 'Tcp' | 'Udp',
    port: string,
    source: string,
  ): SecurityRule => ({
    name,
    priority,
    protocol,
    access: 'Allow',
    direction: 'Inbound',
    sourceAddressPrefix: source,
    sourcePortRange: '*',
    destinationAddressPrefix: 'VirtualNetwork',
    destinationPortRange: port,
  });
  return [
    rule('swarm-manager', 100, 'Tcp', '2377', 'VirtualNetwork'),
    rule('swarm-gossip-tcp', 110, 'Tcp', '7946', 'VirtualNetwork'),
    rule('swarm-gossip-udp', 120, 'Udp', '7946', 'VirtualNetwork'),
    rule('swarm-overlay', 130, 'Udp', '4789', 'VirtualNetwork'),
    fabricRule(),
    engineApiSources.length === 1
      ? rule('engine-api', 140, 'Tcp', '2376', engineApiSources[0]!)
      : {
          ...rule('engine-api', 140, 'Tcp', '2376', ''),
          sourceAddressPrefix: undefined,
          sourceAddressPrefixes: [...engineApiSources],
        },
  ];
}

export const FABRIC_PORT = 51820;

/** 51820/udp from anywhere: nodes of other clouds peer with this VNet's nodes over their public addresses. */
function fabricRule(): SecurityRule {
  return {
    name: names.fabricRule,
    priority: 150,
    protocol: 'Udp',
    access: 'Allow',
    direction: 'Inbound',
    sourceAddressPrefix: '*',
    sourcePortRange: '*',
    destinationAddressPrefix: 'VirtualNetwork',
    destinationPortRange: String(FABRIC_PORT),
  };
}

const sameLocation = (a: string | undefined, b: string) =>
  (a ?? '').toLowerCase().replace(/\s+/g, '') === b.toLowerCase().replace(/\s+/g, '');

const ownedBy = (cluster: string) => (r: { tags?: Record<string, string> }) => r.tags?.[TAG_KEYS.cluster] === cluster;

async function first<T>(items: AsyncIterable<T>, match: (item: T) => boolean): Promise<T | undefined> {
  for await (const item of items) if (match(item)) return item;
  return undefined;
}

/** Finds the cluster's resource group, NSG and VNet by tag, creating what is missing. */
export async function ensureNetwork(
  clients: AzureClients,
  cluster: string,
  settings: NetworkSettings,
  signal?: AbortSignal,
): Promise<NetworkRef> {
  const tags = { [TAG_KEYS.cluster]: cluster };
  const group = names.group(cluster);
  const poll = { updateIntervalInMs: settings.pollIntervalMs, abortSignal: signal };
  const ctx = { operation: 'ensureNetwork', region: settings.region };
  try {
    const existing = await clients.resources.resourceGroups
      .get(group, { abortSignal: signal })
      .catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (existing && !ownedBy(cluster)(existing as { tags?: Record<string, string> })) {
      throw new CloudApiError(
        `resource group ${group} exists but is not tagged ${TAG_KEYS.cluster}=${cluster}; skypool will not use it: delete or rename it`,
        { group },
      );
    }
    if (!existing)
      await clients.resources.resourceGroups.createOrUpdate(
        group,
        { location: settings.region, tags },
        { abortSignal: signal },
      );

    // The group's own region keeps the plain names (clusters made before networks were per region).
    const other = existing && !sameLocation(existing.location, settings.region) ? settings.region : undefined;
    const here = (r: { tags?: Record<string, string>; location?: string }) =>
      ownedBy(cluster)(r) && sameLocation(r.location, settings.region);
    let nsg: NetworkSecurityGroup | undefined = existing
      ? await first(clients.network.networkSecurityGroups.list(group, { abortSignal: signal }), here)
      : undefined;
    if (nsg && !nsg.securityRules?.some((r) => r.name === names.fabricRule))
      // A network made before the fabric: open its port now.
      await clients.network.securityRules.beginCreateOrUpdateAndWait(
        group,
        nsg.name!,
        names.fabricRule,
        fabricRule(),
        poll,
      );
    nsg ??= await clients.network.networkSecurityGroups.beginCreateOrUpdateAndWait(
      group,
      names.nsg(cluster, other),
      { location: settings.region, tags, securityRules: swarmRules(settings.engineApiSources) },
      poll,
    );

    let vnet: VirtualNetwork | undefined = existing
      ? await first(clients.network.virtualNetworks.list(group, { abortSignal: signal }), here)
      : undefined;
    if (!vnet) {
      const space = settings.addressSpace ?? defaultSpace(cluster);
      vnet = await clients.network.virtualNetworks.beginCreateOrUpdateAndWait(
        group,
        names.vnet(cluster, other),
        {
          location: settings.region,
          tags,
          addressSpace: { addressPrefixes: [space] },
          subnets: [{ name: names.subnet, addressPrefix: subnetOf(space), networkSecurityGroup: { id: nsg.id } }],
        },
        poll,
      );
    }
    const subnet = vnet.subnets?.find((s) => s.name === names.subnet) ?? vnet.subnets?.[0];
    if (!subnet?.id || !subnet.addressPrefix)
      throw new CloudApiError(
        `virtual network ${vnet.name} of cluster ${cluster} has no subnet; delete the network (skypool destroy) and retry`,
        { vnet: vnet.id },
      );
    return {
      id: subnet.id,
      region: settings.region,
      cidr: subnet.addressPrefix,
      reservedAddresses: reserved(subnet.addressPrefix),
    };
  } catch (error) {
    throw mapAzureError(error, ctx);
  }
}

/** Why the region's NSG does not carry the fabric's allow rule (51820/udp from any source), if it does not. */
export async function fabricFirewallProblem(
  clients: AzureClients,
  cluster: string,
  region: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const here = (r: { tags?: Record<string, string>; location?: string }) =>
    ownedBy(cluster)(r) && sameLocation(r.location, region);
  try {
    const nsg = await first(
      clients.network.networkSecurityGroups.list(names.group(cluster), { abortSignal: signal }),
      here,
    );
    if (!nsg) return undefined;
    const rule = nsg.securityRules?.find((r) => r.name === names.fabricRule);
    const what = `network security group ${nsg.name} in ${region}`;
    if (!rule)
      return `${what} lacks its rule "${names.fabricRule}" (udp/${FABRIC_PORT} from any source): the fabric's WireGuard packets cannot reach the nodes there`;
    if (rule.access !== 'Allow')
      return `${what}: its rule "${names.fabricRule}" (udp/${FABRIC_PORT}) does not allow: the fabric's WireGuard packets cannot reach the nodes there`;
    return undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw mapAzureError(error, { operation: 'fabricFirewallProblem' });
  }
}

/** Deletes the cluster's resource group (and so everything left in it), if it is skypool's; idempotent. */
export async function deleteNetwork(
  clients: AzureClients,
  cluster: string,
  pollIntervalMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const group = names.group(cluster);
  try {
    const existing = await clients.resources.resourceGroups
      .get(group, { abortSignal: signal })
      .catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (!existing) return;
    if (!ownedBy(cluster)(existing as { tags?: Record<string, string> })) {
      throw new CloudApiError(
        `resource group ${group} is not tagged ${TAG_KEYS.cluster}=${cluster}; skypool leaves it alone: delete it yourself if it is unused`,
        { group },
      );
    }
    await clients.resources.resourceGroups.beginDeleteAndWait(group, {
      updateIntervalInMs: pollIntervalMs,
      abortSignal: signal,
    });
  } catch (error) {
    if (isNotFound(error)) return;
    throw mapAzureError(error, { operation: 'deleteNetwork' });
  }
}
