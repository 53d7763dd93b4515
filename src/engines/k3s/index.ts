import { renderTemplate, withinLimit } from '../../bootstrap/user-data.js';
import { EngineError, PrerequisiteError, SkypoolError, SpecError } from '../../errors.js';
import type { ProviderName, Role } from '../../spec/schema.js';
import { isIpv4 } from '../../util/ipv4.js';
import type {
  BootstrapInput,
  DrainResult,
  EngineDriver,
  EngineEndpoint,
  EngineNode,
  EngineSettings,
  HostRequirements,
  WaitOptions,
  WorkloadKind,
} from '../types.js';

/**
 * k3s, as far as this machine allows: k3s cannot be downloaded here, so this release has its boot scripts
 * (templates/k3s/, rendered and checked by test/k3s-units.test.ts) and refuses to apply. The local provider
 * cannot run it at all (PREREQUISITE_MISSING); on the clouds the scripts are ready but the driver's Kubernetes API
 * calls are not written yet (SpecError on engine).
 */

export const requirements: HostRequirements = {
  commands: ['k3s'],
  packages: [],
  ports: [
    { port: 6443, protocol: 'tcp', why: 'Kubernetes API (client certificates of the cluster CA), from the SDK' },
    { port: 8472, protocol: 'udp', why: 'flannel VXLAN between nodes' },
    { port: 10250, protocol: 'tcp', why: 'kubelet, from the server' },
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
        'engine "k3s" has boot scripts only in this release (templates/k3s); its Kubernetes API driver is not written yet: use engine: swarm or slurm',
    },
  ]);
}

export function createEngine(settings: EngineSettings): K3sDriver {
  return new K3sDriver(settings.clusterSecret('k3s join token', 32).toString('hex'));
}

const LABEL = /^[A-Za-z0-9]([\w./-]*[A-Za-z0-9])?$/;

export class K3sDriver implements EngineDriver {
  readonly engine = 'k3s' as const;
  readonly requirements = requirements;

  constructor(private readonly token: string) {}

  renderUserData(input: BootstrapInput): string {
    const server = input.role === 'manager';
    const invalid = (message: string) =>
      new SkypoolError('INTERNAL', `cannot render user-data: ${message}`, { exitCode: 2 });
    if (server && !input.first) throw invalid('this release runs one k3s server: set the manager pool count to 1');
    // k3s templates still name the node and carry its certificate: per-node input only (the core gives none yet).
    if (!input.nodeName || !input.nodeIp || !input.server)
      throw invalid(`the k3s templates need nodeName, nodeIp and server (per-node user-data) for pool ${input.pool}`);
    const serverAddr = server ? input.nodeIp : input.managers?.[0];
    if (!serverAddr || !isIpv4(serverAddr)) throw invalid(`node ${input.nodeName} needs its k3s server's address`);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(input.nodeName))
      throw invalid(`node name "${input.nodeName}" is not a valid hostname`);
    const labels = Object.entries(input.labels ?? {}).map(([k, v]) => {
      const key = `skypool.io/${k}`;
      if (!LABEL.test(k) || (v !== '' && !LABEL.test(v)) || v.length > 63)
        throw invalid(`label ${k}=${v} is not a valid Kubernetes label`);
      return `${key}=${v}`;
    });
    return withinLimit(
      renderTemplate(server ? 'k3s/server.sh' : 'k3s/agent.sh', {
        node_name: input.nodeName,
        node_ip: input.nodeIp,
        deadline_seconds: String(input.deadlineSeconds ?? 300),
        server_addr: serverAddr,
        node_labels: labels.join(' '),
        k3s_token: this.token,
        tls_ca: input.caPem.trim(),
        tls_cert: input.server.certPem.trim(),
        tls_key: input.server.keyPem.trim(),
      }),
    );
  }

  private notYet(what: string, endpoint: EngineEndpoint): never {
    throw new EngineError(`k3s: ${what} needs the Kubernetes API driver, which this release lacks`, {
      node: endpoint.name,
    });
  }

  waitReady(endpoint: EngineEndpoint, _role: Role, _options: WaitOptions): Promise<void> {
    return this.notYet('waiting for a node', endpoint);
  }
  listNodes(manager: EngineEndpoint): Promise<EngineNode[]> {
    return this.notYet('listing nodes', manager);
  }
  setNodeLabels(manager: EngineEndpoint): Promise<boolean> {
    return this.notYet('labelling nodes', manager);
  }
  drainNode(manager: EngineEndpoint): Promise<DrainResult> {
    return this.notYet('draining nodes', manager);
  }
  removeNode(manager: EngineEndpoint): Promise<void> {
    return this.notYet('removing nodes', manager);
  }
  close(): void {}
}
