import { renderTemplate, withinLimit } from '../../bootstrap/user-data.js';
import { EngineError, PrerequisiteError, SkypoolError, SpecError } from '../../errors.js';
import type { ProviderName, Role } from '../../spec/schema.js';
import { pollUntil } from '../../util/poll.js';
import type {
  BootstrapInput,
  DrainResult,
  EngineClientTls,
  EngineDriver,
  EngineEndpoint,
  EngineNode,
  EngineSettings,
  HostRequirements,
  JoinTokens,
  ServiceEngine,
  WaitOptions,
  WorkloadKind,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.js';
import { connectKube, type K3sEndpoint, type KubeApi, type KubeTarget, targetOf } from './api.js';
import { drain, labelPatch, remove, toEngineNode } from './nodes.js';
import { secureToken } from './server-ca.js';
import { applyDeployment, NAMESPACE, serviceStatus, waitDeployment } from './services.js';

/**
 * k3s, as far as this machine allows: k3s cannot be downloaded here. This release has its boot scripts
 * (templates/k3s/, checked by test/k3s-units.test.ts) and a driver that talks to the Kubernetes API over mTLS
 * (checked against a local HTTPS server answering recorded API shapes, test/k3s-api.test.ts); no k3s has run.
 * Apply stays refused until the core hands k3s nodes their fabric prefix and join volume (see checkProviders).
 */

export const requirements: HostRequirements = {
  commands: ['k3s'],
  packages: [],
  ports: [
    { port: 6443, protocol: 'tcp', why: 'Kubernetes API (client certificates of the cluster CA), from the SDK' },
    { port: 2376, protocol: 'tcp', why: "the node's mailbox (dockerd, mTLS): fabric peers and the join token" },
    { port: 8472, protocol: 'udp', why: 'flannel VXLAN between nodes (inside wg0)' },
    { port: 10250, protocol: 'tcp', why: 'kubelet, from the server (inside wg0)' },
  ],
};

export const workloadKinds: readonly WorkloadKind[] = ['service'];

/** Refuses what cannot work, before any lock, network or PKI exists. */
export function checkProviders(providers: readonly ProviderName[]): void {
  if (providers.includes('local')) {
    throw new PrerequisiteError(
      'engine k3s cannot run on the local provider: k3s is not packaged by Debian and cannot be downloaded on this machine (offline); use engine: swarm or slurm locally, or a cloud provider for k3s',
      { engine: 'k3s', provider: 'local' },
    );
  }
  throw new SpecError([
    {
      path: 'engine',
      message:
        'engine "k3s" has boot scripts and an API driver in this release but has never run against a real k3s, and the core does not launch it yet: use engine: swarm or slurm',
    },
  ]);
}

export function createEngine(settings: EngineSettings): K3sDriver {
  return new K3sDriver(settings.clusterSecret('k3s join token', 32).toString('hex'), settings.tls);
}

/** Fabric prefixes the templates take: the network's /16 of 100.64.0.0/10. */
const FABRIC_PREFIX = /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.0\.0\/16$/;
const LABEL = /^[A-Za-z0-9]([\w./-]*[A-Za-z0-9])?$/;
const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** What the k3s templates take beyond the common input: the fabric prefix (BootstrapInput gains it with the fabric). */
export type K3sBootstrapInput = BootstrapInput & { readonly fabricPrefix?: string };

/**
 * The shared fabric and dockerd partials with k3s's own pass EC2's 16 KB only without their comment lines: they
 * go (not the shebang, the script's header or shellcheck directives); a heredoc line starting `# ` is a comment
 * in every file these scripts write (shell, systemd units, YAML).
 */
export function compact(script: string): string {
  const lines = script.split('\n');
  const kept = lines.filter((line, i) => i < 2 || !/^\s*# /.test(line) || /^\s*# shellcheck /.test(line));
  return withinLimit(kept.join('\n'));
}

export class K3sDriver implements EngineDriver {
  readonly engine = 'k3s' as const;
  readonly requirements = requirements;
  readonly services: ServiceEngine;
  private readonly clients = new Map<string, Promise<KubeApi>>();
  /** The server last seen by a manager call: agents have no API, their readiness is read there. */
  private server: EngineEndpoint | undefined;

  /** `token` is a secret: it reaches nodes through joinTokens() (the join volume), never through user-data. */
  constructor(
    private readonly token: string,
    private readonly tls: EngineClientTls,
    private readonly target: (endpoint: EngineEndpoint) => KubeTarget = (e) => targetOf(e, tls.caPem),
  ) {
    this.services = {
      runService: (manager, workload) => this.runService(manager, workload),
      services: async (manager, name) => serviceStatus(await this.api(manager), name),
      waitService: async (manager, name, options) => waitDeployment(await this.api(manager), name, options),
    };
  }

  renderUserData(input: K3sBootstrapInput): string {
    const server = input.role === 'manager';
    const invalid = (message: string) =>
      new SkypoolError('INTERNAL', `cannot render user-data: ${message}`, { exitCode: 2 });
    if (server && !input.first) throw invalid('this release runs one k3s server: set the manager pool count to 1');
    // k3s templates still name the node and carry its certificate: per-node input only (the core gives none yet).
    if (!input.nodeName || !input.nodeIp || !input.server)
      throw invalid(
        `the k3s templates need nodeName, nodeIp and server (per-node user-data) for node ${input.nodeName}`,
      );
    if (!HOSTNAME.test(input.nodeName)) throw invalid(`node name "${input.nodeName}" is not a valid hostname`);
    if (!input.fabricPrefix || !FABRIC_PREFIX.test(input.fabricPrefix))
      throw invalid(`node ${input.nodeName} needs its network's fabric prefix (a /16 of 100.64.0.0/10)`);
    if (!input.caPem.includes('BEGIN CERTIFICATE') || /PRIVATE KEY/.test(input.caPem))
      throw invalid('caPem must be the cluster CA certificate (and nothing secret)');
    const labels = Object.entries(input.labels ?? {}).map(([k, v]) => {
      if (!LABEL.test(k) || (v !== '' && !LABEL.test(v)) || v.length > 63)
        throw invalid(`label ${k}=${v} is not a valid Kubernetes label`);
      return `skypool.io/${k}=${v}`;
    });
    return compact(
      renderTemplate(server ? 'k3s/server.sh' : 'k3s/agent.sh', {
        node_name: input.nodeName,
        node_ip: input.nodeIp,
        deadline_seconds: String(input.deadlineSeconds ?? 300),
        fabric_prefix: input.fabricPrefix,
        node_labels: labels.join(' '),
        tls_ca: input.caPem.trim(),
        tls_cert: input.server.certPem.trim(),
        tls_key: input.server.keyPem.trim(),
      }),
    );
  }

  /**
   * The join secrets (k3s has one per server): the core writes them with the server's fabric address into each
   * node's join volume (skypool.join.token, skypool.join.addrs), which the templates wait for. The server takes
   * the bare secret; agents get k3s's secure form with the hash of the server CA pinned from its console.
   */
  async joinTokens(manager: K3sEndpoint): Promise<JoinTokens> {
    return { worker: manager.apiCaPem ? secureToken(manager.apiCaPem, this.token) : this.token, manager: this.token };
  }

  private api(manager: EngineEndpoint): Promise<KubeApi> {
    this.server = manager;
    const target = this.target(manager);
    const key = `${target.server} ${target.serverName ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      client = connectKube(target, this.tls, manager.name);
      client.catch(() => this.clients.delete(key));
      this.clients.set(key, client);
    }
    return client;
  }

  /** Polls the server until the node is a Ready member (the server itself for role manager). */
  async waitReady(endpoint: EngineEndpoint, role: Role, options: WaitOptions): Promise<void> {
    const server = role === 'manager' ? endpoint : this.server;
    if (!server)
      throw new EngineError(`k3s: cannot wait for agent ${endpoint.name} before the server is known`, {
        node: endpoint.name,
      });
    await pollUntil(
      async () => {
        const nodes = (await (await this.api(server)).listNodes()).map(toEngineNode);
        const node = nodes.find((n) => n.name === endpoint.name);
        return node?.state === 'ready' && node.role === role ? true : undefined;
      },
      {
        ...options,
        what: `k3s node ${endpoint.name} to be Ready`,
        intervalMs: 500,
        isFatal: (e) => e instanceof SkypoolError && e.code === 'ENGINE_ERROR' && e.retryable === false,
      },
    );
  }

  async listNodes(manager: EngineEndpoint): Promise<EngineNode[]> {
    return (await (await this.api(manager)).listNodes()).map(toEngineNode);
  }

  async setNodeLabels(
    manager: EngineEndpoint,
    nodeId: string,
    labels: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    const api = await this.api(manager);
    const patch = labelPatch(await api.readNode(nodeId), labels);
    if (!patch) return false;
    await api.patchNode(nodeId, patch);
    return true;
  }

  async drainNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<DrainResult> {
    return drain(await this.api(manager), nodeId, options);
  }

  async removeNode(manager: EngineEndpoint, nodeId: string): Promise<void> {
    await remove(await this.api(manager), nodeId);
  }

  /** Sets a service's replica count (the Deployment's scale subresource). */
  async scaleService(manager: EngineEndpoint, name: string, replicas: number): Promise<void> {
    await (await this.api(manager)).scaleDeployment(NAMESPACE, name, replicas);
  }

  private async runService(manager: EngineEndpoint, workload: WorkloadSpec): Promise<void> {
    await applyDeployment(await this.api(manager), workload);
  }

  /** Waits for a service and returns its status (for callers holding a driver, as the services API does). */
  waitService(manager: EngineEndpoint, name: string, options: WaitOptions): Promise<WorkloadStatus> {
    return this.services.waitService(manager, name, options);
  }

  close(): void {
    this.clients.clear();
  }
}
