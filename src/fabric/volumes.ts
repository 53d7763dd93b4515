import { createHash } from 'node:crypto';
import { apiMessage, apiStatus } from '../engines/swarm/api.js';
import { EngineError } from '../errors.js';
import type { FabricPeer } from './peers.js';

/**
 * The SDK -> node channel: labelled volumes on the node's engine API (mTLS). The node's fabric loop
 * (templates/common/fabric.sh) turns peer volumes into wg0 peers; its join step reads the join volume.
 */
/** Name prefix of the peer volumes: one per peer, see peerVolumeName. */
export const PEER_VOLUME_PREFIX = 'skypool-fabric-peer-';
/** The volume carrying the join token and manager addresses (labels JOIN_LABELS); the node removes it once joined. */
export const JOIN_VOLUME = 'skypool-join';

/** Labels of a peer volume, as templates/common/fabric.sh reads them. */
export const PEER_LABELS = {
  node: 'skypool.fabric.node',
  key: 'skypool.fabric.key',
  ip: 'skypool.fabric.ip',
  endpoint: 'skypool.fabric.endpoint',
} as const;

/** Labels of the join volume. */
export const JOIN_LABELS = {
  token: 'skypool.join.token',
  addrs: 'skypool.join.addrs',
} as const;

/** The part of a dockerode client these functions use (dockerode's `Docker` fits). */
export interface VolumeApi {
  /** `GET /volumes` with label filters. */
  listVolumes(options?: { filters?: { [key: string]: string[] } }): Promise<{
    Volumes?: ReadonlyArray<{ Name: string; Labels?: { [key: string]: string } | null }> | null;
  }>;
  /** `POST /volumes/create`. */
  createVolume(options: { Name: string; Labels: { [key: string]: string } }): Promise<unknown>;
  /** A handle on one volume by name. */
  getVolume(name: string): {
    /** `DELETE /volumes/{name}`. */
    remove(): Promise<unknown>;
  };
}

/** `skypool-fabric-peer-<first 16 hex of sha256(wg public key)>`. */
export function peerVolumeName(key: string): string {
  return `${PEER_VOLUME_PREFIX}${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** The labels of a peer's volume (no endpoint label when the peer has none). */
export function peerLabels(peer: FabricPeer): Record<string, string> {
  return {
    [PEER_LABELS.node]: peer.node,
    [PEER_LABELS.key]: peer.key,
    [PEER_LABELS.ip]: peer.ip,
    ...(peer.endpoint ? { [PEER_LABELS.endpoint]: peer.endpoint } : {}),
  };
}

/** What a sync changed, by volume name. */
export interface PeerVolumeSync {
  readonly created: string[];
  readonly replaced: string[];
  readonly removed: string[];
  readonly unchanged: string[];
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

async function volumeCall<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const status = apiStatus(error);
    throw new EngineError(`${action} failed: ${apiMessage(error)}`, { action, ...(status ? { status } : {}) }, error);
  }
}

/** Removes a volume; one already gone is fine. */
async function removeVolume(docker: VolumeApi, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove();
  } catch (error) {
    if (apiStatus(error) === 404) return;
    const status = apiStatus(error);
    throw new EngineError(
      `removing volume ${name} failed: ${apiMessage(error)}`,
      { volume: name, ...(status ? { status } : {}) },
      error,
    );
  }
}

/** Creates a volume with these labels, replacing one of that name whose labels differ (a create keeps the old). */
async function putVolume(
  docker: VolumeApi,
  name: string,
  labels: Record<string, string>,
  existing?: Record<string, string> | null,
): Promise<'created' | 'replaced' | 'unchanged'> {
  if (existing && sameLabels(existing, labels)) return 'unchanged';
  if (existing) await removeVolume(docker, name);
  await volumeCall(`creating volume ${name}`, () => docker.createVolume({ Name: name, Labels: labels }));
  return existing ? 'replaced' : 'created';
}

/**
 * Makes the node's peer volumes exactly `wanted`: creates the missing, recreates those whose labels differ
 * (a new endpoint), removes those of peers no longer wanted. Idempotent; the node's loop follows within ~2 s.
 */
export async function syncPeerVolumes(docker: VolumeApi, wanted: readonly FabricPeer[]): Promise<PeerVolumeSync> {
  const listed = await volumeCall('listing the fabric peer volumes', () =>
    docker.listVolumes({ filters: { label: [PEER_LABELS.key] } }),
  );
  const existing = new Map<string, Record<string, string>>();
  for (const v of listed.Volumes ?? []) if (v.Name.startsWith(PEER_VOLUME_PREFIX)) existing.set(v.Name, v.Labels ?? {});
  const result: PeerVolumeSync = { created: [], replaced: [], removed: [], unchanged: [] };
  const names = new Set<string>();
  for (const peer of wanted) {
    const name = peerVolumeName(peer.key);
    if (names.has(name)) continue;
    names.add(name);
    result[await putVolume(docker, name, peerLabels(peer), existing.get(name))].push(name);
  }
  for (const name of existing.keys()) {
    if (names.has(name)) continue;
    await removeVolume(docker, name);
    result.removed.push(name);
  }
  return result;
}

/** What a node needs to join the engine: the token of its role and the managers' fabric addresses. */
export interface JoinInfo {
  readonly token: string;
  readonly addrs: readonly string[];
}

/**
 * Hands the node its join token and managers through the `skypool-join` volume (replaced when it differs); the
 * node deletes it once it joined. The token never appears in errors (apiMessage redacts).
 */
export async function pushJoin(docker: VolumeApi, join: JoinInfo): Promise<void> {
  const labels = { [JOIN_LABELS.token]: join.token, [JOIN_LABELS.addrs]: join.addrs.join(' ') };
  const listed = await volumeCall(`listing volume ${JOIN_VOLUME}`, () =>
    docker.listVolumes({ filters: { name: [JOIN_VOLUME] } }),
  );
  const existing = (listed.Volumes ?? []).find((v) => v.Name === JOIN_VOLUME);
  await putVolume(docker, JOIN_VOLUME, labels, existing ? (existing.Labels ?? {}) : undefined);
}

/** The volume carrying the CA the node's engine API must trust clients from (label TRUST_LABEL, base64 PEM). */
export const TRUST_VOLUME = 'skypool-tls-ca';
export const TRUST_LABEL = 'skypool.tls.ca';

/**
 * Tells the node which CA its engine API trusts clients from (`skypool rotate-ca`): its fabric loop rewrites
 * the engine's CA file and restarts dockerd when this differs from what it has. Public material only.
 */
export async function pushTrust(docker: VolumeApi, caPem: string): Promise<'created' | 'replaced' | 'unchanged'> {
  if (/PRIVATE KEY/.test(caPem)) throw new EngineError('refusing to push a private key as a trusted CA', {});
  const labels = { [TRUST_LABEL]: Buffer.from(`${caPem.trim()}\n`).toString('base64') };
  const listed = await volumeCall(`listing volume ${TRUST_VOLUME}`, () =>
    docker.listVolumes({ filters: { name: [TRUST_VOLUME] } }),
  );
  const existing = (listed.Volumes ?? []).find((v) => v.Name === TRUST_VOLUME);
  return putVolume(docker, TRUST_VOLUME, labels, existing ? (existing.Labels ?? {}) : undefined);
}
