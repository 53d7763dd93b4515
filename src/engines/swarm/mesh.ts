import { existsSync } from 'node:fs';
import type { EngineSettings } from '../types.js';

/** Kept apart from the driver so status and the SDK's index can use it without loading dockerode. */
export const NO_MESH_NOTE =
  'no IPVS in this kernel: the swarm routing mesh and VIPs do not work, so services use DNS round robin (dnsrr) and ' +
  'host-mode published ports with a dynamic host port per replica; reach each replica at the address:hostPort of its task';

/**
 * False where the kernel has no IPVS (the local provider on this kind of host): no ingress mesh, no VIPs. An
 * explicit setting wins.
 */
export function detectRoutingMesh(settings: Pick<EngineSettings, 'providers' | 'routingMesh'>): boolean {
  if (settings.routingMesh !== undefined) return settings.routingMesh;
  return !(settings.providers.includes('local') && !existsSync('/proc/net/ip_vs'));
}

/** Status notes: how services are published where there is no mesh. */
export function notes(settings: Pick<EngineSettings, 'providers' | 'routingMesh'>): string[] {
  return detectRoutingMesh(settings) ? [] : [NO_MESH_NOTE];
}
