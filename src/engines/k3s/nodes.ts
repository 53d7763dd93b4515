import { EngineError, SkypoolError, TimeoutError } from '../../errors.js';
import { cancelled, pollUntil, sleep } from '../../util/poll.js';
import type { DrainResult, EngineNode, EngineNodeState, WaitOptions } from '../types.js';
import type { KubeApi, V1Node, V1Pod } from './api.js';

/** Prefix of the labels skypool sets (node labels from the spec, provider, pool). */
export const LABEL_PREFIX = 'skypool.io/';
/** Set by drainNode: a cordoned node with it is drained ('drain'), without it only cordoned ('pause'). */
export const DRAINED_ANNOTATION = 'skypool.io/drained';

const CONTROL_PLANE = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

function readyState(node: V1Node): { state: EngineNodeState; word: string } {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { state: 'ready', word: 'Ready' };
  if (ready?.status === 'False') return { state: 'down', word: 'NotReady' };
  // Unknown: the node controller has not heard from the kubelet within its grace period.
  return ready ? { state: 'disconnected', word: 'Unknown' } : { state: 'unknown', word: 'Unknown' };
}

/** A Kubernetes Node as the engine-neutral EngineNode; the id is the node's name (what every call takes). */
export function toEngineNode(node: V1Node): EngineNode {
  const name = node.metadata?.name ?? '';
  const all = node.metadata?.labels ?? {};
  const manager = CONTROL_PLANE.some((key) => all[key] === 'true');
  const { state, word } = readyState(node);
  const cordoned = node.spec?.unschedulable === true;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(all))
    if (key.startsWith(LABEL_PREFIX)) labels[key.slice(LABEL_PREFIX.length)] = value;
  const address = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return {
    id: name,
    name,
    ...(address ? { address } : {}),
    role: manager ? 'manager' : 'worker',
    state,
    availability: !cordoned ? 'active' : node.metadata?.annotations?.[DRAINED_ANNOTATION] ? 'drain' : 'pause',
    // One k3s server in this release: it is the control plane.
    leader: manager,
    labels,
    engineState: cordoned ? `${word},SchedulingDisabled` : word,
  };
}

/** The merge patch that brings the node's skypool labels to `wanted`; undefined when nothing changes. */
export function labelPatch(node: V1Node, wanted: Readonly<Record<string, string>>): object | undefined {
  const current = node.metadata?.labels ?? {};
  const changes: Record<string, string> = {};
  for (const [key, value] of Object.entries(wanted))
    if (current[LABEL_PREFIX + key] !== value) changes[LABEL_PREFIX + key] = value;
  return Object.keys(changes).length > 0 ? { metadata: { labels: changes } } : undefined;
}

/**
 * Pods a drain moves: not those of DaemonSets (they belong on every node), not mirror pods (the kubelet's
 * static pods) and not those that already finished.
 */
export function evictable(pod: V1Pod): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false;
  if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) return false;
  return !pod.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet');
}

const podKey = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`;

/**
 * `kubectl drain`: cordons the node (marked drained), evicts its pods (an eviction a PodDisruptionBudget turns
 * away with 429 is tried again after its Retry-After) and waits until they are gone from the node.
 */
export async function drain(api: KubeApi, node: string, options: WaitOptions): Promise<DrainResult> {
  const started = Date.now();
  await api.patchNode(node, {
    spec: { unschedulable: true },
    metadata: { annotations: { [DRAINED_ANNOTATION]: 'true' } },
  });
  const pods = (await api.podsOnNode(node)).filter(evictable);
  for (const pod of pods) await evictWithRetry(api, pod, node, options);
  const keys = new Set(pods.map(podKey));
  if (keys.size > 0)
    await pollUntil(
      async () => ((await api.podsOnNode(node)).some((p) => keys.has(podKey(p)) && evictable(p)) ? undefined : true),
      { ...options, what: `the pods of ${node} to leave it`, intervalMs: 250 },
    );
  return { node, durationMs: Date.now() - started, movedTasks: pods.length };
}

async function evictWithRetry(api: KubeApi, pod: V1Pod, node: string, options: WaitOptions): Promise<void> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  for (;;) {
    if (options.signal?.aborted) throw cancelled(options.signal);
    try {
      await api.evictPod(namespace, name);
      return;
    } catch (error) {
      if (error instanceof SkypoolError && error.code === 'NOT_FOUND') return; // gone already
      if (!(error instanceof SkypoolError) || error.code !== 'THROTTLED') throw error;
      const wait = (error.details.retryAfterMs as number | undefined) ?? 1000;
      if (Date.now() + wait > options.deadline)
        throw new TimeoutError(
          `timed out draining ${node}: the eviction of ${namespace}/${name} is still refused (${error.message})`,
          { node, pod: `${namespace}/${name}` },
        );
      await sleep(wait, options.signal);
    }
  }
}

/** Deletes a node; refuses the last control-plane node (the pool would have no API left). */
export async function remove(api: KubeApi, name: string): Promise<void> {
  const nodes = (await api.listNodes()).map(toEngineNode);
  const node = nodes.find((n) => n.id === name);
  if (!node) return;
  if (node.role === 'manager' && nodes.filter((n) => n.role === 'manager').length === 1)
    throw new EngineError(`k3s: refusing to remove ${name}: it is the pool's only server`, { node: name });
  try {
    await api.deleteNode(name);
  } catch (error) {
    if (!(error instanceof SkypoolError && error.code === 'NOT_FOUND')) throw error;
  }
}
