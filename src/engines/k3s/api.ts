import type * as K8s from '@kubernetes/client-node';
import { EngineError, SkypoolError, ThrottledError } from '../../errors.js';
import type { EngineClientTls, EngineEndpoint } from '../types.js';

/**
 * The few Kubernetes API calls the k3s driver makes, over mTLS with the cluster's client certificate, through
 * `@kubernetes/client-node` (loaded on first use: importing skypool stays fast). Every failure becomes a typed
 * error (see `kubeError`); nothing here retries.
 */

export type { V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';

type ClientModule = typeof K8s;
let loading: Promise<ClientModule> | undefined;
const clientModule = (): Promise<ClientModule> => {
  loading ??= import('@kubernetes/client-node');
  return loading;
};

/** Port of the k3s API (the supervisor serves the Kubernetes API on it). */
export const K3S_API_PORT = 6443;

export interface KubeTarget {
  /** Base URL, e.g. https://100.64.0.5:6443 (tests: a loopback server). */
  readonly server: string;
  /** CA the server's certificate must chain to (the cluster CA, or a node's pinned certificate). */
  readonly caPem: string;
  /** Name the server's certificate must carry when it differs from the URL's host. */
  readonly serverName?: string;
}

/** An endpoint of a k3s server: with the server CA pinned from its console (server-ca.ts) once it is known. */
export type K3sEndpoint = EngineEndpoint & { readonly apiCaPem?: string };

/**
 * The server URL and trust of an endpoint: its pinned server CA, checked against the node's name, when it has
 * one; else the cluster CA (tests, and servers whose serving certificate the cluster CA signed).
 */
export function targetOf(endpoint: K3sEndpoint, caPem: string): KubeTarget {
  const host = endpoint.host.includes(':') && !endpoint.host.startsWith('[') ? `[${endpoint.host}]` : endpoint.host;
  const server = `https://${host}:${K3S_API_PORT}`;
  return endpoint.apiCaPem ? { server, caPem: endpoint.apiCaPem, serverName: endpoint.name } : { server, caPem };
}

/** What the API said when it refused: the HTTP status, the Status reason and, for 429, when to come back. */
export interface KubeFailure {
  readonly status: number;
  readonly reason?: string;
  readonly retryAfterMs?: number;
}

interface StatusBody {
  readonly kind?: string;
  readonly message?: string;
  readonly reason?: string;
}

function parseStatus(body: unknown): StatusBody {
  const value = typeof body === 'string' ? safeJson(body) : body;
  return value && typeof value === 'object' ? (value as StatusBody) : {};
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds (what the API server sends) or an HTTP date, as milliseconds from now. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Maps an API failure to skypool's errors: 401/403 (the client certificate is not accepted) and 404 are not
 * retryable, 409 (a conflict: someone else changed the object) is, 429 is THROTTLED with `retryAfterMs`.
 */
export function kubeError(what: string, node: string, error: unknown): SkypoolError {
  if (error instanceof SkypoolError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'number') {
    const message = error instanceof Error ? error.message : String(error);
    return new EngineError(`k3s API on ${node}: ${what} failed: ${message}`, { node, retryable: true }, error);
  }
  const headers = ((error as { headers?: Record<string, string> }).headers ?? {}) as Record<string, string>;
  const status = parseStatus((error as { body?: unknown }).body);
  const said = status.message ? `: ${status.message}` : '';
  const details = { node, status: code, ...(status.reason ? { reason: status.reason } : {}) };
  if (code === 401 || code === 403)
    return new SkypoolError(
      'ENGINE_ERROR',
      `k3s API on ${node} refused ${what} (${code}${said}); the server must trust the cluster CA for clients (client-ca-file) and bind skypool-client to a role (templates/k3s/server.sh)`,
      { details, retryable: false, cause: error },
    );
  if (code === 404)
    return new SkypoolError('NOT_FOUND', `k3s API on ${node}: ${what}: not found${said}`, {
      details,
      retryable: false,
      cause: error,
    });
  if (code === 429) {
    const after = retryAfterMs(headers['retry-after'] ?? headers['Retry-After']);
    return new ThrottledError(
      `k3s API on ${node}: ${what} was turned away (429${said})${after !== undefined ? `; retry after ${after} ms` : ''}`,
      { ...details, ...(after !== undefined ? { retryAfterMs: after } : {}) },
      error,
    );
  }
  if (code === 409)
    return new SkypoolError('ENGINE_ERROR', `k3s API on ${node}: ${what}: conflict (409${said})`, {
      details,
      retryable: true,
      cause: error,
    });
  return new SkypoolError('ENGINE_ERROR', `k3s API on ${node}: ${what} failed (${code}${said})`, {
    details,
    retryable: code >= 500,
    cause: error,
  });
}

export interface KubeApi {
  listNodes(): Promise<K8s.V1Node[]>;
  readNode(name: string): Promise<K8s.V1Node>;
  /** Merge patch of a node (labels, annotations, spec.unschedulable). */
  patchNode(name: string, patch: object): Promise<K8s.V1Node>;
  deleteNode(name: string): Promise<void>;
  podsOnNode(name: string): Promise<K8s.V1Pod[]>;
  /** Evicts one pod (policy/v1 Eviction): PodDisruptionBudgets may answer 429. */
  evictPod(namespace: string, name: string): Promise<void>;
  listDeployments(namespace: string, labelSelector: string): Promise<K8s.V1Deployment[]>;
  readDeployment(namespace: string, name: string): Promise<K8s.V1Deployment>;
  createDeployment(namespace: string, body: K8s.V1Deployment): Promise<K8s.V1Deployment>;
  replaceDeployment(namespace: string, name: string, body: K8s.V1Deployment): Promise<K8s.V1Deployment>;
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<void>;
  listPods(namespace: string, labelSelector: string): Promise<K8s.V1Pod[]>;
}

/** A Kubernetes API client for one server, authenticated with the cluster's client certificate. */
export async function connectKube(target: KubeTarget, tls: EngineClientTls, node: string): Promise<KubeApi> {
  const k8s = await clientModule();
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: 'k3s',
        server: target.server,
        caData: b64(target.caPem),
        skipTLSVerify: false,
        ...(target.serverName ? { tlsServerName: target.serverName } : {}),
      },
    ],
    users: [{ name: 'skypool', certData: b64(tls.client.certPem), keyData: b64(tls.client.keyPem) }],
    contexts: [{ name: 'skypool', cluster: 'k3s', user: 'skypool' }],
    currentContext: 'skypool',
  });
  const core = config.makeApiClient(k8s.CoreV1Api);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw kubeError(what, node, error);
    }
  };
  return {
    listNodes: () => call('listing nodes', async () => (await core.listNode()).items),
    readNode: (name) => call(`reading node ${name}`, () => core.readNode({ name })),
    patchNode: (name, body) => call(`updating node ${name}`, () => core.patchNode({ name, body }, merge)),
    deleteNode: (name) =>
      call(`deleting node ${name}`, async () => {
        await core.deleteNode({ name });
      }),
    podsOnNode: (name) =>
      call(
        `listing the pods of node ${name}`,
        async () => (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` })).items,
      ),
    evictPod: (namespace, name) =>
      call(`evicting pod ${namespace}/${name}`, async () => {
        await core.createNamespacedPodEviction({
          name,
          namespace,
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } },
        });
      }),
    listDeployments: (namespace, labelSelector) =>
      call(
        'listing deployments',
        async () => (await apps.listNamespacedDeployment({ namespace, labelSelector })).items,
      ),
    readDeployment: (namespace, name) =>
      call(`reading deployment ${name}`, () => apps.readNamespacedDeployment({ namespace, name })),
    createDeployment: (namespace, body) =>
      call(`creating deployment ${body.metadata?.name}`, () => apps.createNamespacedDeployment({ namespace, body })),
    replaceDeployment: (namespace, name, body) =>
      call(`replacing deployment ${name}`, () => apps.replaceNamespacedDeployment({ namespace, name, body })),
    scaleDeployment: (namespace, name, replicas) =>
      call(`scaling deployment ${name}`, async () => {
        await apps.patchNamespacedDeploymentScale({ namespace, name, body: { spec: { replicas } } }, merge);
      }),
    listPods: (namespace, labelSelector) =>
      call('listing pods', async () => (await core.listNamespacedPod({ namespace, labelSelector })).items),
  };
}
