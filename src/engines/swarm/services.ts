import type Docker from 'dockerode';
import { EngineError } from '../../errors.js';
import type { WorkloadSpec, WorkloadStatus, WorkloadTask } from '../types.js';
import { type ApiNode, type ApiTask, LIVE_TASK_STATES } from './nodes.js';

export interface PublishingOptions {
  /** False where the kernel lacks IPVS: services get dnsrr endpoints and host-mode ports instead of the mesh. */
  readonly routingMesh: boolean;
}

/** Label marking services skypool created (status lists only those). */
export const WORKLOAD_LABEL = 'skypool.workload';
const SECOND_NS = 1_000_000_000;

interface ApiPort {
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface ApiService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    TaskTemplate: { ContainerSpec: { Image: string } & Record<string, unknown>; ForceUpdate?: number } & Record<
      string,
      unknown
    >;
    UpdateConfig?: Record<string, unknown>;
    Mode: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
    EndpointSpec?: { Mode?: 'vip' | 'dnsrr'; Ports?: ApiPort[] };
  };
  UpdateStatus?: { State?: string; Message?: string };
}

export function validateWorkload(workload: WorkloadSpec): void {
  const problems: string[] = [];
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(workload.name))
    problems.push(`name "${workload.name}" must be lowercase letters, digits and '-'`);
  if (!workload.image) problems.push('image is required');
  if (!Number.isInteger(workload.replicas) || workload.replicas < 0)
    problems.push('replicas must be a whole number ≥ 0');
  if (workload.port !== undefined && (!Number.isInteger(workload.port) || workload.port < 1 || workload.port > 65535))
    problems.push('port must be 1-65535');
  if (problems.length > 0)
    throw new EngineError(`invalid workload: ${problems.join('; ')}`, { workload: workload.name });
}

/**
 * The service spec `docker service create --no-resolve-image --restart-delay 0s --stop-grace-period 1s` would
 * send. Without the routing mesh (no IPVS in the kernel) VIPs do not work, so the service uses DNS round robin
 * and host-mode ports with a dynamic host port per task: any number of replicas fit on a node.
 */
export function serviceSpec(workload: WorkloadSpec, publishing: PublishingOptions): ApiService['Spec'] {
  const env = Object.entries(workload.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const ports: ApiPort[] =
    workload.port === undefined
      ? []
      : publishing.routingMesh
        ? [{ Protocol: 'tcp', TargetPort: workload.port, PublishedPort: workload.port, PublishMode: 'ingress' }]
        : [{ Protocol: 'tcp', TargetPort: workload.port, PublishMode: 'host' }];
  return {
    Name: workload.name,
    Labels: { [WORKLOAD_LABEL]: 'true' },
    TaskTemplate: {
      ContainerSpec: {
        Image: workload.image,
        ...(workload.command?.length ? { Args: [...workload.command] } : {}),
        ...(env.length ? { Env: env } : {}),
        StopGracePeriod: SECOND_NS,
      },
      RestartPolicy: { Condition: 'any', Delay: 0, MaxAttempts: 0 },
      Placement: { Constraints: [...(workload.constraints ?? [])] },
    },
    Mode: { Replicated: { Replicas: workload.replicas } },
    EndpointSpec: { Mode: publishing.routingMesh ? 'vip' : 'dnsrr', Ports: ports },
  };
}

export async function findService(docker: Docker, name: string): Promise<ApiService | undefined> {
  const services = (await docker.listServices({ filters: { name: [name] } })) as unknown as ApiService[];
  return services.find((s) => s.Spec.Name === name);
}

/** Creates the service, or updates it in place when it exists (same name = same workload). */
export async function upsertService(
  docker: Docker,
  workload: WorkloadSpec,
  publishing: PublishingOptions,
): Promise<void> {
  const spec = serviceSpec(workload, publishing);
  const existing = await findService(docker, workload.name);
  if (!existing) {
    await docker.createService(spec as unknown as Docker.CreateServiceOptions);
    return;
  }
  await docker
    .getService(existing.ID)
    .update({ _query: { version: existing.Version.Index }, _body: spec } as unknown as Record<string, unknown>);
}

export function workloadStatus(
  service: ApiService,
  tasks: readonly ApiTask[],
  nodes: readonly ApiNode[],
  addressOf: (node: ApiNode) => string | undefined,
): WorkloadStatus {
  const byId = new Map(nodes.map((n) => [n.ID, n]));
  const ports = service.Spec.EndpointSpec?.Ports ?? [];
  const port = ports[0];
  const publishMode = port ? (port.PublishMode ?? 'ingress') : 'none';
  const current = tasks
    .filter((t) => t.ServiceID === service.ID && (t.DesiredState === 'running' || LIVE_TASK_STATES.has(t.Status.State)))
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || a.ID.localeCompare(b.ID));
  const taskList: WorkloadTask[] = current.map((t) => {
    const node = t.NodeID ? byId.get(t.NodeID) : undefined;
    const published = t.Status.PortStatus?.Ports?.find(
      (p) => p.PublishMode === 'host' && p.TargetPort === port?.TargetPort,
    )?.PublishedPort;
    return {
      id: t.ID,
      ...(t.Slot !== undefined ? { slot: t.Slot } : {}),
      ...(node ? { node: node.Description?.Hostname ?? node.ID } : {}),
      state: t.Status.State,
      desiredState: t.DesiredState,
      ...(node && addressOf(node) ? { address: addressOf(node) } : {}),
      ...(publishMode === 'host' && published
        ? { hostPort: published }
        : publishMode === 'ingress' && port?.PublishedPort
          ? { hostPort: port.PublishedPort }
          : {}),
      ...(t.Status.Err ? { error: t.Status.Err } : {}),
    };
  });
  return {
    name: service.Spec.Name,
    image: service.Spec.TaskTemplate.ContainerSpec.Image,
    desiredReplicas: service.Spec.Mode.Replicated?.Replicas ?? 0,
    runningReplicas: current.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').length,
    endpointMode: service.Spec.EndpointSpec?.Mode ?? 'vip',
    publishMode,
    ...(port?.TargetPort ? { targetPort: port.TargetPort } : {}),
    ...(publishMode === 'ingress' && port?.PublishedPort ? { publishedPort: port.PublishedPort } : {}),
    tasks: taskList,
    ...(service.UpdateStatus?.State
      ? {
          update: {
            state: service.UpdateStatus.State,
            ...(service.UpdateStatus.Message ? { message: service.UpdateStatus.Message } : {}),
          },
        }
      : {}),
  };
}

/**
 * The spec of `docker service update --force --update-order start-first --update-parallelism <replicas> --update-delay 0s`:
 * every task is replaced at once, each new one running before its old one stops, on the nodes that still take
 * work. Start-first never runs fewer than the desired count; all at once takes one start instead of one per batch
 * (a migration waits for it). The cost is room for twice the replicas during the move, which the target pools
 * (sized like the source) have.
 */
export function rescheduledSpec(spec: ApiService['Spec']): ApiService['Spec'] {
  const replicas = spec.Mode.Replicated?.Replicas ?? 1;
  return {
    ...spec,
    TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: (spec.TaskTemplate.ForceUpdate ?? 0) + 1 },
    UpdateConfig: {
      ...(spec.UpdateConfig ?? {}),
      Parallelism: Math.max(1, replicas),
      Delay: 0,
      Order: 'start-first',
      FailureAction: 'pause',
    },
  };
}
