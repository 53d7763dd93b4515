import type Docker from 'dockerode';
import { EngineError } from '../../errors.js';
import type { Role } from '../../spec/schema.js';
import type { EngineNode, EngineNodeState, NodeAvailability } from '../types.js';

/** The subset of the Engine API's Node object skypool reads. */
export interface ApiNode {
  ID: string;
  Version: { Index: number };
  Spec: { Name?: string; Labels?: Record<string, string>; Role: Role; Availability: NodeAvailability };
  Description?: { Hostname?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

export interface ApiTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: {
    State: string;
    Err?: string;
    PortStatus?: { Ports?: Array<{ TargetPort?: number; PublishedPort?: number; PublishMode?: string }> };
  };
}

/** Task states in which a container is (or is about to be) running on its node. */
export const LIVE_TASK_STATES = new Set([
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
]);

function nodeAddress(node: ApiNode): string | undefined {
  const addr = node.Status?.Addr;
  // A manager may report 0.0.0.0; its ManagerStatus carries the advertised address.
  if (addr && addr !== '0.0.0.0') return addr;
  return node.ManagerStatus?.Addr?.replace(/:\d+$/, '');
}

export function toEngineNode(node: ApiNode): EngineNode {
  const state = node.Status?.State;
  return {
    id: node.ID,
    name: node.Description?.Hostname ?? node.Spec.Name ?? node.ID,
    address: nodeAddress(node),
    role: node.Spec.Role,
    state: (['ready', 'down', 'disconnected'].includes(state ?? '') ? state : 'unknown') as EngineNodeState,
    availability: node.Spec.Availability,
    leader: node.ManagerStatus?.Leader === true,
    labels: node.Spec.Labels ?? {},
    ...(node.ManagerStatus ? { managerReachable: node.ManagerStatus.Reachability === 'reachable' } : {}),
  };
}

export async function inspectNode(docker: Docker, id: string): Promise<ApiNode> {
  return (await docker.getNode(id).inspect()) as ApiNode;
}

/** Node updates replace the whole spec and need the current version, like `docker node update`. */
export async function updateNodeSpec(
  docker: Docker,
  id: string,
  change: (spec: ApiNode['Spec']) => ApiNode['Spec'] | undefined,
): Promise<boolean> {
  // Swarm versions node objects and refuses an update made from an older read ("update out of sequence"): the
  // swarm itself updates nodes too (a CA rotation re-certifying them), so read again and retry.
  for (let attempt = 1; ; attempt += 1) {
    const node = await inspectNode(docker, id);
    const next = change(structuredClone(node.Spec));
    if (!next) return false;
    try {
      await docker.getNode(id).update({ _query: { version: node.Version.Index }, _body: next });
      return true;
    } catch (error) {
      if (attempt >= 10 || !/update out of sequence/.test(String((error as Error).message))) throw error;
    }
  }
}

export function assertNotLastManager(nodes: readonly EngineNode[], id: string): void {
  const target = nodes.find((n) => n.id === id);
  if (target?.role !== 'manager') return;
  const others = nodes.filter((n) => n.role === 'manager' && n.id !== id && n.state === 'ready');
  if (others.length === 0) {
    throw new EngineError(
      `refusing to remove ${target.name}: it is the last manager of the swarm; add a manager first (or destroy the cluster)`,
      { node: target.name },
    );
  }
}
