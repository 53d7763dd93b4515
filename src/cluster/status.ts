import type { EngineNode, JobStatus, WorkloadStatus } from '../engines/types.js';
import type { Instance } from '../providers/types.js';
import type { ClusterContext } from './context.js';
import { type ManagerRef, nodesByName } from './nodes.js';
import { driftWarnings, outsidePools, surveyCluster } from './survey.js';
import type { ClusterStatus, EngineNodeSummary, NodeStatus } from './types.js';

export { NO_MESH_NOTE } from '../engines/swarm/mesh.js';

/** Where the user reaches a task: the VM's public address when it has one, else its private one. */
export function withReachableAddresses(status: WorkloadStatus, instances: readonly Instance[]): WorkloadStatus {
  const byName = new Map(instances.map((i) => [i.name, i]));
  return {
    ...status,
    tasks: status.tasks.map((t) => {
      const instance = t.node ? byName.get(t.node) : undefined;
      const address = instance?.publicIp ?? instance?.privateIp ?? t.address;
      return address ? { ...t, address } : t;
    }),
  };
}

/** One collator for every comparison: `localeCompare` with options builds one per call (seconds for 10,000 names). */
const numericOrder = new Intl.Collator(undefined, { numeric: true });

function engineSummary(node: EngineNode): EngineNodeSummary {
  return {
    id: node.id,
    state: node.state,
    availability: node.availability,
    role: node.role,
    leader: node.leader,
    labels: node.labels,
    ...(node.address ? { address: node.address } : {}),
    ...(node.engineState ? { engineState: node.engineState } : {}),
  };
}

function nodeStatus(instance: Instance, node: EngineNode | undefined): NodeStatus {
  return {
    name: instance.name,
    pool: instance.tags.pool,
    role: instance.tags.role,
    provider: instance.provider,
    instanceId: instance.id,
    instanceState: instance.state,
    ...(instance.privateIp ? { privateIp: instance.privateIp } : {}),
    ...(instance.publicIp ? { publicIp: instance.publicIp } : {}),
    ...(instance.zone ? { zone: instance.zone } : {}),
    ...(node ? { engine: engineSummary(node) } : {}),
  };
}

/** The VMs without the engine's word: this machine holds no CA of the cluster. */
function withoutPki(ctx: ClusterContext, instances: readonly Instance[], notes: string[]): ClusterStatus {
  return {
    cluster: ctx.spec.name,
    engine: ctx.spec.engine,
    nodes: instances.map((i) => nodeStatus(i, undefined)),
    workloads: [],
    notes: [
      ...notes,
      `no PKI for this cluster in ${ctx.options.stateDir}: the engine API cannot be reached from here; use the state directory the cluster was made with`,
    ],
  };
}

/** Provider instances merged with the engine's nodes and workloads. */
export async function clusterStatus(ctx: ClusterContext, signal?: AbortSignal): Promise<ClusterStatus> {
  const notes: string[] = await ctx.engineNotes();
  const pki = ctx.hasPki();
  // Every VM of the cluster, also on providers the spec no longer names (a spec from before `migrate`).
  const survey = await surveyCluster(ctx, { waitMs: 3_000, findManager: pki, ...(signal ? { signal } : {}) });
  const instances = [...survey.own, ...survey.beyond];
  notes.push(...survey.warnings, ...driftWarnings(ctx.spec, survey, outsidePools(survey.beyond)));
  if (instances.length > 0 && !pki) return withoutPki(ctx, instances, notes);
  if (instances.length === 0) {
    return {
      cluster: ctx.spec.name,
      engine: ctx.spec.engine,
      nodes: [],
      workloads: [],
      notes: [...notes, 'no VMs: run `skypool up` to create the cluster'],
    };
  }
  const manager: ManagerRef | undefined = survey.manager;
  let engineNodes: EngineNode[] = [];
  let workloads: WorkloadStatus[] = [];
  let jobs: JobStatus[] = [];
  if (manager) {
    const driver = await ctx.driver();
    [engineNodes, workloads, jobs] = await Promise.all([
      driver.listNodes(manager.endpoint),
      driver.services?.services(manager.endpoint) ?? [],
      driver.jobs?.jobs(manager.endpoint) ?? [],
    ]);
  } else {
    notes.push(
      'no manager answers on its engine API: the pool is still forming, or its managers are down (check those VMs; `skypool up` replaces only VMs whose boot failed)',
    );
  }
  const names = new Set(instances.map((i) => i.name));
  const nodeFor = nodesByName(engineNodes);
  const nodes: NodeStatus[] = [
    ...instances.map((i) => nodeStatus(i, nodeFor(i.name))).sort((a, b) => numericOrder.compare(a.name, b.name)),
    ...engineNodes
      .filter((n) => !names.has(n.name))
      .map((n): NodeStatus => ({ name: n.name, instanceState: 'absent', engine: engineSummary(n) })),
  ];
  return {
    cluster: ctx.spec.name,
    engine: ctx.spec.engine,
    nodes,
    workloads: workloads.map((w) => withReachableAddresses(w, instances)),
    ...(jobs.length > 0 ? { jobs } : {}),
    notes,
  };
}
