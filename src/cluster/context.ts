import { hkdfSync } from 'node:crypto';
import type { Logger } from 'pino';
import { type ClusterPki, ensureClusterPki, hasClusterPki } from '../bootstrap/cluster-pki.js';
import type { NodeIdentity } from '../bootstrap/node-identity.js';
import { assertEngine, loadEngine, usesConsoleIdentity } from '../engines/registry.js';
import type { EngineDriver, EngineEndpoint, NodeExec } from '../engines/types.js';
import { EngineError, PrerequisiteError } from '../errors.js';
import { loadProvider, preflightProvider } from '../providers/registry.js';
import type { Instance, NetworkRef, Provider } from '../providers/types.js';
import { ProvisioningQueue } from '../queue/provisioning-queue.js';
import type { ClusterSpec, NodePoolSpec, ProviderName } from '../spec/schema.js';
import { withAdminCidrs } from './engine-api.js';
import { loadPin, readIdentityOnce, removePin, savePin } from './identity.js';
import { Progress } from './progress.js';
import type { ClusterOptions } from './types.js';
import { unlockKeyPath } from './unlock-key.js';

/** Where the SDK reaches a node's engine; `exec` when its provider can run commands inside it. */
export function endpointOf(
  instance: Pick<Instance, 'name' | 'publicIp' | 'privateIp'>,
  exec?: NodeExec,
  serverCertPem?: string,
): EngineEndpoint {
  const host = instance.publicIp ?? instance.privateIp;
  if (!host)
    throw new EngineError(`node ${instance.name} has no address yet: wait for it to run, then retry`, {
      node: instance.name,
    });
  return { name: instance.name, host, ...(serverCertPem ? { serverCertPem } : {}), ...(exec ? { exec } : {}) };
}

/** New nodes of one pool, launched together with the same user-data. */
export interface PoolLaunch {
  readonly pool: NodePoolSpec;
  /** Names the core planned; the provider's answer is authoritative (EC2 names nodes after their ids). */
  readonly names: readonly string[];
}

/**
 * What every phase of a Cluster shares: the spec, loaded providers, the cluster PKI, the engine driver, the
 * networks, the provisioning queue and the progress fan-out. Built lazily on the first call that needs the
 * outside world. What only one phase needs lives in that phase's module (launch.ts, boot-log.ts, phases/).
 */
export class ClusterContext {
  readonly progress: Progress;
  readonly queue: ProvisioningQueue;
  /**
   * Launch tokens of VMs this run terminated (strays, duplicates): a cloud answers such a token with that gone VM
   * (EC2 ClientToken, GCE requestId), so the replacement's launch starts past them.
   */
  readonly goneLaunchTokens = new Set<string>();
  /**
   * True once the running converge rotated the join tokens after its launches: no VM can hold a valid token, so
   * the check after an apply (which lists every cloud and asks a manager) has nothing to find. False at the start
   * of every converge and at every launch.
   */
  joinTokensFresh = false;
  readonly readyTimeoutMs: number;
  readonly drainTimeoutMs: number;
  private providers = new Map<ProviderName, Provider>();
  private pkiValue: ClusterPki | undefined;
  private driverValue: EngineDriver | undefined;
  /** By `<provider> <region>` (empty region: the provider's own). */
  private networks = new Map<string, NetworkRef>();
  /** Pinned node identities by instance id (engines with `nodeIdentity: 'console'`). */
  private identities = new Map<string, NodeIdentity>();
  private prerequisitesChecked: Promise<void> | undefined;
  private settingsChecked: Promise<void> | undefined;

  constructor(
    public spec: ClusterSpec,
    readonly options: ClusterOptions & { stateDir: string },
    readonly logger: Logger,
  ) {
    this.progress = new Progress(logger);
    this.queue = new ProvisioningQueue({
      limits: options.queueLimits,
      placementTimeoutMs: options.readyTimeoutMs ?? 180_000,
      onEvent: (event) => this.progress.emit({ type: 'queue', event }),
    });
    this.readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  }

  get providerNames(): ProviderName[] {
    return [...new Set(this.spec.pools.map((p) => p.provider))];
  }

  /** The regions the spec's pools name on a provider (pools without one use the provider's own region). */
  regionsOf(name: ProviderName): string[] {
    return [...new Set(this.spec.pools.filter((p) => p.provider === name && p.region).map((p) => p.region!))];
  }

  async provider(name: ProviderName): Promise<Provider> {
    let provider = this.providers.get(name);
    if (!provider) {
      await this.checkSettings();
      const override = this.options.providers?.[name];
      // The engine, not the core, says which host commands a local VM needs.
      const settings =
        name === 'local' && (override === undefined || !('runInstances' in override))
          ? { ...(override ?? {}), requiredCommands: (await loadEngine(this.spec.engine)).requirements.commands }
          : override;
      provider = await loadProvider(name, withAdminCidrs(settings, this.options.adminCidrs ?? this.spec.adminCidrs));
      this.providers.set(name, provider);
    }
    return provider;
  }

  /**
   * Checks the settings of every provider the spec names before any of their SDKs loads (loading them takes
   * seconds and cannot be cancelled), once per context; a failed check is retried next time.
   */
  checkSettings(): Promise<void> {
    this.settingsChecked ??= Promise.all(
      this.providerNames.map((name) => preflightProvider(name, this.options.providers?.[name])),
    ).then(
      () => undefined,
      (error: unknown) => {
        this.settingsChecked = undefined;
        throw error;
      },
    );
    return this.settingsChecked;
  }

  /**
   * Checks the engine against the providers, then every provider, once per context (a failed check is retried
   * next time).
   */
  async checkPrerequisites(): Promise<void> {
    this.prerequisitesChecked ??= loadEngine(this.spec.engine)
      .then(async (engine) => {
        engine.checkProviders?.(this.providerNames);
        const providers = await Promise.all(this.providerNames.map((name) => this.provider(name)));
        const mute = engine.needsNodeExec ? providers.filter((p) => !p.execInVm) : [];
        if (mute.length > 0) {
          throw new PrerequisiteError(
            `engine ${this.spec.engine} is driven by running commands in its VMs, and provider(s) ${mute.map((p) => p.name).join(', ')} cannot: use the local provider for ${this.spec.engine} pools`,
            { engine: this.spec.engine, providers: mute.map((p) => p.name) },
          );
        }
        await Promise.all(providers.map((p) => p.checkPrerequisites()));
      })
      .then(
        () => undefined,
        (error: unknown) => {
          this.prerequisitesChecked = undefined;
          throw error;
        },
      );
    await this.prerequisitesChecked;
  }

  /** Refuses an engine this release lacks, before any lock, network or PKI exists. */
  assertEngineSupported(): void {
    assertEngine(this.spec.engine);
  }

  async pki(): Promise<ClusterPki> {
    this.pkiValue ??= await ensureClusterPki(this.options.stateDir, this.spec.name);
    return this.pkiValue;
  }

  /** Reads the PKI again (a CA rotation changed it): the next driver uses the new client identity. */
  async reloadPki(): Promise<void> {
    this.driverValue?.close();
    this.driverValue = undefined;
    this.pkiValue = undefined;
    await this.pki();
  }

  /** The engine driver, with the cluster's client certificate (the PKI is created on first use). */
  async driver(): Promise<EngineDriver> {
    if (!this.driverValue) {
      const engine = await loadEngine(this.spec.engine);
      const pki = await this.pki();
      this.driverValue = engine.createEngine({
        tls: { caPem: pki.serverCaPem, client: pki.client },
        unlockKeyFile: unlockKeyPath(this.options.stateDir, this.spec.name),
        providers: this.providerNames,
        // Stable for the cluster's life and never stored apart from the CA it comes from.
        clusterSecret: (label, bytes) =>
          Buffer.from(hkdfSync('sha256', pki.ca.keyPem, `skypool:${this.spec.name}`, label, bytes)),
        ...(this.options.routingMesh !== undefined ? { routingMesh: this.options.routingMesh } : {}),
      });
    }
    return this.driverValue;
  }

  /** Whether this machine holds the cluster's CA (status never creates one). */
  hasPki(): boolean {
    return this.pkiValue !== undefined || hasClusterPki(this.options.stateDir, this.spec.name);
  }

  /** The cluster's network on a provider in a region (networks are per provider and region). */
  async network(name: ProviderName, signal?: AbortSignal, region?: string): Promise<NetworkRef> {
    const key = `${name} ${region ?? ''}`;
    let network = this.networks.get(key);
    if (!network) {
      const provider = await this.provider(name);
      network = await this.queue.network(name, 'network', signal, () =>
        provider.ensureNetwork(this.spec.name, { ...(region ? { region } : {}), ...(signal ? { signal } : {}) }),
      );
      this.networks.set(key, network);
    }
    return network;
  }

  /** Forgets the provider's networks (one was deleted): the next use ensures them again. */
  forgetNetworks(name: ProviderName): void {
    for (const key of [...this.networks.keys()]) if (key.startsWith(`${name} `)) this.networks.delete(key);
  }

  /** Facts about the engine here, for status (no PKI or VM needed). */
  async engineNotes(): Promise<string[]> {
    const engine = await loadEngine(this.spec.engine);
    return (
      engine.notes?.({
        providers: this.providerNames,
        ...(this.options.routingMesh !== undefined ? { routingMesh: this.options.routingMesh } : {}),
      }) ?? []
    );
  }

  /**
   * The instance's engine endpoint, with command execution when its provider offers it, and the node's pinned
   * certificate when it has one.
   */
  endpoint(instance: Instance): EngineEndpoint {
    const provider = this.providers.get(instance.provider);
    const exec: NodeExec | undefined = provider?.execInVm
      ? (argv, options) => provider.execInVm!(this.spec.name, instance.name, argv, options)
      : undefined;
    return endpointOf(instance, exec, this.identities.get(instance.id)?.certPem);
  }

  identityOf(instance: Pick<Instance, 'id'>): NodeIdentity | undefined {
    return this.identities.get(instance.id);
  }

  rememberIdentity(instance: Pick<Instance, 'id'>, identity: NodeIdentity): void {
    this.identities.set(instance.id, identity);
  }

  /** Drops a pin (a VM that is gone, or new under a reused id): the next use reads the console again. */
  async forgetIdentity(instance: Pick<Instance, 'id'>): Promise<void> {
    this.identities.delete(instance.id);
    await removePin(this.options.stateDir, this.spec.name, instance.id);
  }

  /** Whether the engine's nodes print their identity on the console (and run the fabric). */
  async consoleIdentity(): Promise<boolean> {
    return usesConsoleIdentity(await loadEngine(this.spec.engine), this.providerNames);
  }

  /**
   * Loads the pinned identities of running instances; a missing pin is read once from the console (the cloud
   * is the source of truth) and pinned again. Instances without either stay unpinned (still booting, or made
   * by an older release whose nodes carry CA-signed certificates).
   */
  async recallIdentities(instances: readonly Instance[], signal?: AbortSignal): Promise<void> {
    if (!(await this.consoleIdentity())) return;
    const { stateDir } = this.options;
    await Promise.all(
      instances
        .filter((i) => i.state === 'running' && !this.identities.has(i.id))
        .map(async (instance) => {
          let identity = await loadPin(stateDir, this.spec.name, instance);
          if (!identity) {
            identity = await readIdentityOnce(this, instance, signal);
            if (identity) await savePin(stateDir, this.spec.name, instance.id, identity);
          }
          if (identity) this.identities.set(instance.id, identity);
        }),
    );
  }

  /** After destroy: networks, PKI and API clients belong to a cluster that no longer exists. */
  forgetState(): void {
    this.networks.clear();
    this.identities.clear();
    this.driverValue?.close();
    this.driverValue = undefined;
    this.pkiValue = undefined;
  }

  /**
   * Every live instance of the cluster on every provider the spec uses, with the pinned identities recalled of
   * every running one, or with `identities: 'managers'` of the managers only: a read-only command talks to a
   * manager and nothing else, and a missing pin costs one console read per VM (10,000 reads for 10,000 VMs).
   */
  async inventory(signal?: AbortSignal, options: { identities?: 'all' | 'managers' } = {}): Promise<Instance[]> {
    const lists = await Promise.all(
      this.providerNames.map((name) => this.listInstances(name, this.regionsOf(name), signal)),
    );
    const instances = lists.flat();
    await this.recallIdentities(
      options.identities === 'managers' ? instances.filter((i) => i.tags.role === 'manager') : instances,
      signal,
    );
    return instances;
  }

  /** The cluster's live instances on one provider, in `regions` (none: the provider's own region). */
  async listInstances(name: ProviderName, regions: readonly string[], signal?: AbortSignal): Promise<Instance[]> {
    const provider = await this.provider(name);
    const listed = await this.queue.read(name, 'inventory', signal, () =>
      provider.listInstances(this.spec.name, {
        ...(regions.length ? { regions } : {}),
        ...(signal ? { signal } : {}),
      }),
    );
    return listed.filter((i) => i.state !== 'terminated');
  }

  async close(): Promise<void> {
    this.driverValue?.close();
    await Promise.allSettled([...this.providers.values()].map((p) => p.close?.()));
    this.providers.clear();
  }
}
