/**
 * The cluster's WireGuard fabric, SDK side: address allocation (one /16 of 100.64.0.0/10 per cloud network),
 * the peer model and the labelled volumes that carry peers and join information to each node's engine API.
 * The node side is templates/common/fabric.sh.
 */
export {
  FABRIC_NETWORK_BITS,
  FABRIC_PORT,
  FABRIC_RANGE,
  FABRIC_TAG,
  fabricIpOf,
  fabricPrefixFor,
  fabricPrefixOctets,
} from './addresses.js';
export { type FabricMember, type FabricPeer, fabricMember, networkKey, peersFor } from './peers.js';
export {
  JOIN_LABELS,
  JOIN_VOLUME,
  type JoinInfo,
  PEER_LABELS,
  PEER_VOLUME_PREFIX,
  type PeerVolumeSync,
  peerLabels,
  peerVolumeName,
  pushJoin,
  pushTrust,
  syncPeerVolumes,
  TRUST_LABEL,
  TRUST_VOLUME,
  type VolumeApi,
} from './volumes.js';
