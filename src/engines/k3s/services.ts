import { SkypoolError, SpecError } from '../../errors.js';
import { pollUntil } from '../../util/poll.js';
import type { WaitOptions, WorkloadSpec, WorkloadStatus, WorkloadTask } from '../types.js';
import type { KubeApi, V1Deployment, V1Pod } from './api.js';
import { LABEL_PREFIX } from './nodes.js';

/** Replicated services as Deployments in one namespace, labelled as skypool's. */
export const NAMESPACE = 'default';
export const MANAGED_BY = 'app.kubernetes.io/managed-by=skypool';
const SERVICE_LABEL = `${LABEL_PREFIX}service`;

/** `node.labels.KEY==VALUE` constraints (Swarm's syntax) become a nodeSelector on skypool's labels. */
export function nodeSelector(constraints: readonly string[] = []): Record<string, string> {
  const selector: Record<string, string> = {};
  constraints.forEach((constraint, i) => {
    const match = /^node\.labels\.([\w./-]+)\s*==\s*([\w./-]+)$/.exec(constraint.trim());
    if (!match?.[1] || !match[2])
      throw new SpecError([
        {
          path: `workload.constraints[${i}]`,
          message: `k3s takes only node.labels.KEY==VALUE constraints, not "${constraint}"`,
        },
      ]);
    selector[LABEL_PREFIX + match[1]] = match[2];
  });
  return selector;
}

/** The Deployment of a service: one container, its port, env and placement. */
export function deploymentOf(workload: WorkloadSpec): V1Deployment {
  const labels = { [SERVICE_LABEL]: workload.name };
  const selector = nodeSelector(workload.constraints);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: workload.name,
      namespace: NAMESPACE,
      labels: { ...labels, 'app.kubernetes.io/managed-by': 'skypool' },
    },
    spec: {
      replicas: workload.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          ...(Object.keys(selector).length > 0 ? { nodeSelector: selector } : {}),
          containers: [
            {
              name: workload.name,
              image: workload.image,
              ...(workload.command?.length ? { args: [...workload.command] } : {}),
              ...(workload.port ? { ports: [{ containerPort: workload.port }] } : {}),
              ...(workload.env ? { env: Object.entries(workload.env).map(([name, value]) => ({ name, value })) } : {}),
            },
          ],
        },
      },
    },
  };
}

/** Creates the Deployment, or replaces it (same resourceVersion: a concurrent change is a 409) when it exists. */
export async function applyDeployment(api: KubeApi, workload: WorkloadSpec): Promise<void> {
  const body = deploymentOf(workload);
  try {
    await api.createDeployment(NAMESPACE, body);
    return;
  } catch (error) {
    if (!(error instanceof SkypoolError && error.code === 'ENGINE_ERROR' && error.details.status === 409)) throw error;
  }
  const current = await api.readDeployment(NAMESPACE, workload.name);
  await api.replaceDeployment(NAMESPACE, workload.name, {
    ...body,
    metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion },
  });
}

function taskOf(pod: V1Pod): WorkloadTask {
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  return {
    id: pod.metadata?.uid ?? pod.metadata?.name ?? '',
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    state: (pod.status?.phase ?? 'Unknown').toLowerCase(),
    desiredState: pod.metadata?.deletionTimestamp ? 'shutdown' : 'running',
    ...(pod.status?.podIP ? { address: pod.status.podIP } : {}),
    ...(waiting?.reason ? { error: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` } : {}),
  };
}

/** A Deployment and its pods as a WorkloadStatus (no published port: k3s services are not exposed by skypool). */
export function statusOf(deployment: V1Deployment, pods: readonly V1Pod[]): WorkloadStatus {
  const container = deployment.spec?.template.spec?.containers[0];
  const port = container?.ports?.[0]?.containerPort;
  return {
    name: deployment.metadata?.name ?? '',
    image: container?.image ?? '',
    desiredReplicas: deployment.spec?.replicas ?? 0,
    runningReplicas: deployment.status?.readyReplicas ?? 0,
    endpointMode: 'vip',
    publishMode: 'none',
    ...(port ? { targetPort: port } : {}),
    tasks: pods.map(taskOf),
  };
}

export async function serviceStatus(api: KubeApi, name?: string): Promise<WorkloadStatus[]> {
  const deployments = name
    ? [await api.readDeployment(NAMESPACE, name)]
    : await api.listDeployments(NAMESPACE, MANAGED_BY);
  return Promise.all(
    deployments.map(async (d) =>
      statusOf(d, await api.listPods(NAMESPACE, `${SERVICE_LABEL}=${d.metadata?.name ?? ''}`)),
    ),
  );
}

/** Polls until the Deployment's current generation has every replica ready. */
export function waitDeployment(api: KubeApi, name: string, options: WaitOptions): Promise<WorkloadStatus> {
  return pollUntil(
    async () => {
      const deployment = await api.readDeployment(NAMESPACE, name);
      const want = deployment.spec?.replicas ?? 0;
      const s = deployment.status;
      const current = (s?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
      if (!current || (s?.readyReplicas ?? 0) < want || (s?.updatedReplicas ?? 0) < want) return undefined;
      return statusOf(deployment, await api.listPods(NAMESPACE, `${SERVICE_LABEL}=${name}`));
    },
    { ...options, what: `deployment ${name} to have every replica ready`, intervalMs: 500 },
  );
}
