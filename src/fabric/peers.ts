import type { NodeIdentity } from '../bootstrap/node-identity.js';
import type { Instance } from '../providers/types.js';
import { FABRIC_PORT } from './addresses.js';

/** One peer as wg0 of a node gets it: what a peer volume carries. */
export interface FabricPeer {
  /** The peer's node name. */
  readonly node: string;
  /** Its WireGuard public key (base64). */
  readonly key: string;
  /** Its fabric address (the peer's allowed IP, a /32). */
  readonly ip: string;
  /** `<ip>:51820` where the peer's WireGuard listens; absent when it has no address reachable from here. */
  readonly endpoint?: string;
}

/** A node of the fabric as the SDK knows it (from the cloud's listing and the node's console identity). */
export interface FabricMember {
  readonly node: string;
  readonly key: string;
  readonly fabricIp: string;
  readonly provider: string;
  readonly region?: string;
  readonly privateIp?: string;
  readonly publicIp?: string;
}

/** A cloud network of the cluster: the provider and the region (empty for the provider's default). */
export const networkKey = (at: { readonly provider: string; readonly region?: string | undefined }): string =>
  `${at.provider}/${at.region ?? ''}`;

const sameNetwork = (a: FabricMember, b: FabricMember): boolean => networkKey(a) === networkKey(b);

/**
 * The peers `target` should have: every other member, reached at its private address when both are in the same
 * cloud network (provider + region), else at its public one. A member with no such address gets no endpoint:
 * wg0 learns it from the member's own handshake (it has ours, or neither side can reach the other).
 */
export function peersFor(target: FabricMember, all: readonly FabricMember[]): FabricPeer[] {
  return all
    .filter((m) => m.node !== target.node && m.key !== target.key)
    .map((m) => {
      const address = sameNetwork(target, m) ? (m.privateIp ?? m.publicIp) : m.publicIp;
      return {
        node: m.node,
        key: m.key,
        ip: m.fabricIp,
        ...(address ? { endpoint: `${address}:${FABRIC_PORT}` } : {}),
      };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
}

/** A fabric member from the cloud's listing of a VM and the identity the VM printed on its console. */
export function fabricMember(
  instance: Pick<Instance, 'name' | 'provider' | 'region' | 'privateIp' | 'publicIp'>,
  identity: Pick<NodeIdentity, 'fabricIp' | 'wireguardKey'>,
): FabricMember {
  return {
    node: instance.name,
    key: identity.wireguardKey,
    fabricIp: identity.fabricIp,
    provider: instance.provider,
    ...(instance.region !== undefined ? { region: instance.region } : {}),
    ...(instance.privateIp !== undefined ? { privateIp: instance.privateIp } : {}),
    ...(instance.publicIp !== undefined ? { publicIp: instance.publicIp } : {}),
  };
}
