import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { type ClusterPki, ensureClusterPki, hasClusterPki, issueNodeCertificate } from '../bootstrap/cluster-pki.js';
import { sleep } from '../engines/poll.js';
import { SwarmDriver } from '../engines/swarm/index.js';
import type { EngineDriver, EngineEndpoint } from '../engines/types.js';
import { EngineError, SkypoolError, SpecError, TimeoutError } from '../errors.js';
import { loadProvider, preflightProvider } from '../providers/registry.js';
import type { Instance, NetworkRef, Provider } from '../providers/types.js';
import { ProvisioningQueue } from '../queue/provisioning-queue.js';
import { redact } from '../redact.js';
import { poolSpecHash } from '../spec/hash.js';
import type { ClusterSpec, NodePoolSpec, ProviderName, Role } from '../spec/schema.js';
import { Progress } from './progress.js';
import type { ClusterOptions } from './types.js';

/** Host commands the swarm engine needs on a local-provider host. */
const LOCAL_ENGINE_COMMANDS = ['dockerd', 'docker'];

interface UserDataReader {
  readUserDataResult(cluster: string, node: string): Promise<{ done: boolean; exitCode?: number; log: string }>;
}

function canReadUserData(provider: Provider): provider is Provider & UserDataReader {
  return typeof (provider as Partial<UserDataReader>).readUserDataResult === 'function';
}

export function endpointOf(instance: Pick<Instance, 'name' | 'publicIp' | 'privateIp'>): EngineEndpoint {
  const host = instance.publicIp ?? instance.privateIp;
  if (!host)
    throw new EngineError(`node ${instance.name} has no address yet: wait for it to run, then retry`, {
      node: instance.name,
    });
  return { name: instance.name, host };
}

export interface NodeToLaunch {
  readonly name: string;
  readonly pool: NodePoolSpec;
  readonly ip: string;
}

/**
 * What one Cluster holds while it works: loaded providers, the cluster PKI, the engine driver, the provisioning
 * queue and the progress fan-out. Built lazily on the first call that needs the outside world.
 */
export class ClusterContext {
  readonly progress: Progress;
  readonly queue: ProvisioningQueue;
  readonly readyTimeoutMs: number;
  readonly drainTimeoutMs: number;
  private providers = new Map<ProviderName, Provider>();
  private pkiValue: ClusterPki | undefined;
  private driverValue: EngineDriver | undefined;
  private networks = new Map<ProviderName, NetworkRef>();
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
      onEvent: (event) => this.progress.emit({ type: 'queue', event }),
    });
    this.readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  }

  get providerNames(): ProviderName[] {
    return [...new Set(this.spec.pools.map((p) => p.provider))];
  }

  async provider(name: ProviderName): Promise<Provider> {
    let provider = this.providers.get(name);
    if (!provider) {
      await this.checkSettings();
      const override = this.options.providers?.[name];
      const settings =
        name === 'local' && (override === undefined || !('runInstances' in override))
          ? { ...(override ?? {}), requiredCommands: LOCAL_ENGINE_COMMANDS }
          : override;
      provider = await loadProvider(name, settings);
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

  /** Checks every provider once per context (a failed check is retried next time). */
  async checkPrerequisites(): Promise<void> {
    this.prerequisitesChecked ??= Promise.all(
      this.providerNames.map(async (name) => (await this.provider(name)).checkPrerequisites()),
    ).then(
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
    if (this.spec.engine !== 'swarm') {
      throw new SpecError([
        {
          path: 'engine',
          message: `engine "${this.spec.engine}" is not implemented in this release yet; use engine: swarm`,
        },
      ]);
    }
  }

  async pki(): Promise<ClusterPki> {
    this.pkiValue ??= await ensureClusterPki(this.options.stateDir, this.spec.name);
    return this.pkiValue;
  }

  /** The engine driver, with the cluster's client certificate (the PKI is created on first use). */
  async driver(): Promise<EngineDriver> {
    if (!this.driverValue) {
      this.assertEngineSupported();
      const pki = await this.pki();
      this.driverValue = new SwarmDriver({ caPem: pki.ca.certPem, client: pki.client });
    }
    return this.driverValue;
  }

  /** Whether this machine holds the cluster's CA (status never creates one). */
  hasPki(): boolean {
    return this.pkiValue !== undefined || hasClusterPki(this.options.stateDir, this.spec.name);
  }

  async network(name: ProviderName, signal?: AbortSignal): Promise<NetworkRef> {
    let network = this.networks.get(name);
    if (!network) {
      network = await (await this.provider(name)).ensureNetwork(this.spec.name, signal);
      this.networks.set(name, network);
    }
    return network;
  }

  /** After destroy: networks, PKI and API clients belong to a cluster that no longer exists. */
  forgetState(): void {
    this.networks.clear();
    this.driverValue?.close();
    this.driverValue = undefined;
    this.pkiValue = undefined;
  }

  /** Every live instance of the cluster on every provider the spec uses. */
  async inventory(signal?: AbortSignal): Promise<Instance[]> {
    const lists = await Promise.all(
      this.providerNames.map(async (name) => (await this.provider(name)).listInstances(this.spec.name, signal)),
    );
    return lists.flat().filter((i) => i.state !== 'terminated');
  }

  /** False where the kernel has no IPVS (the local provider on this kind of host): no ingress mesh, no VIPs. */
  routingMesh(): boolean {
    if (this.options.routingMesh !== undefined) return this.options.routingMesh;
    if (this.providerNames.includes('local') && !existsSync('/proc/net/ip_vs')) return false;
    return true;
  }

  /** Launches one node with its own user-data (its certificate carries its IP) and returns the instance. */
  async launch(
    node: NodeToLaunch,
    role: Role,
    first: boolean,
    join: { token?: string; managers?: readonly string[] },
    signal?: AbortSignal,
  ): Promise<Instance> {
    const pki = await this.pki();
    const driver = await this.driver();
    const server = await issueNodeCertificate(pki, node.name, node.ip);
    const userData = driver.renderUserData({
      role,
      first,
      nodeName: node.name,
      nodeIp: node.ip,
      server,
      caPem: pki.ca.certPem,
      ...(join.token ? { joinToken: join.token } : {}),
      ...(join.managers ? { managers: join.managers } : {}),
      deadlineSeconds: Math.ceil(this.readyTimeoutMs / 1000),
    });
    const provider = await this.provider(node.pool.provider);
    const specHash = poolSpecHash(this.spec, node.pool);
    this.progress.emit({ type: 'node', node: node.name, pool: node.pool.name, state: 'launching' });
    const [instance] = await this.queue.launch(provider, {
      cluster: this.spec.name,
      pool: node.pool,
      tags: { cluster: this.spec.name, pool: node.pool.name, role, specHash },
      network: await this.network(node.pool.provider, signal),
      nodes: [{ name: node.name, privateIp: node.ip }],
      userData,
      // Each attempt renders a fresh certificate, so each attempt is a new request with its own token.
      idempotencyToken: `skypool-${randomUUID()}`,
      ...(signal ? { signal } : {}),
    });
    if (!instance)
      throw new EngineError(`provider ${provider.name} launched nothing for ${node.name}`, { node: node.name });
    return instance;
  }

  async waitRunning(instance: Instance, signal?: AbortSignal): Promise<Instance> {
    const provider = await this.provider(instance.provider);
    const [running] = await provider.waitUntilRunning([instance.id], {
      deadlineMs: this.readyTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    this.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'running' });
    return running ?? instance;
  }

  /** True only when the provider can tell that the VM's boot script ended with an error (local). */
  async bootFailed(instance: Instance): Promise<boolean> {
    const provider = await this.provider(instance.provider);
    if (!canReadUserData(provider)) return false;
    const result = await provider.readUserDataResult(this.spec.name, instance.name).catch(() => undefined);
    return result?.done === true && result.exitCode !== 0;
  }

  /** The end of the VM's boot log, when its provider can read it (local), for error messages. */
  async bootLogTail(instance: Instance, lines = 15): Promise<string | undefined> {
    const provider = await this.provider(instance.provider);
    if (!canReadUserData(provider)) return undefined;
    try {
      const result = await provider.readUserDataResult(this.spec.name, instance.name);
      const tail = result.log.trimEnd().split('\n').slice(-lines).join('\n');
      const status = result.done ? `user-data exited with ${result.exitCode}` : 'user-data still running';
      return redact(`${status}; last lines of its log:\n${tail}`);
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until the node's engine is part of the pool. Where the provider can read the boot log (local), a
   * user-data that already failed ends the wait at once, with the end of its log in the error.
   */
  async waitEngine(instance: Instance, signal?: AbortSignal): Promise<void> {
    const driver = await this.driver();
    const provider = await this.provider(instance.provider);
    const stop = new AbortController();
    const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    let failedBoot: string | undefined;
    const watch = canReadUserData(provider)
      ? (async () => {
          while (!combined.aborted) {
            const result = await provider.readUserDataResult(this.spec.name, instance.name).catch(() => undefined);
            if (result?.done && result.exitCode !== 0) {
              failedBoot = await this.bootLogTail(instance);
              stop.abort();
              return;
            }
            await sleep(250, combined).catch(() => undefined);
          }
        })()
      : Promise.resolve();
    try {
      await driver.waitReady(endpointOf(instance), instance.tags.role, {
        deadline: Date.now() + this.readyTimeoutMs,
        signal: combined,
      });
      this.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'engine-ready' });
    } catch (error) {
      if (failedBoot !== undefined && !signal?.aborted) {
        throw new EngineError(
          `the boot script of ${instance.name} failed before its engine joined the pool: ${failedBoot}`,
          { node: instance.name },
        );
      }
      await this.withBootLog(instance, error);
    } finally {
      stop.abort();
      await watch;
    }
  }

  /** Rethrows a node failure with the VM's boot log appended when available. */
  async withBootLog(instance: Instance, error: unknown): Promise<never> {
    const tail =
      SkypoolError.isInstance(error) && error.code !== 'CANCELLED' ? await this.bootLogTail(instance) : undefined;
    if (!SkypoolError.isInstance(error) || error.code === 'CANCELLED' || !tail) throw error;
    const details = { ...error.details, node: instance.name };
    if (error.code === 'TIMEOUT') throw new TimeoutError(`${error.message}\n${tail}`, details);
    throw new EngineError(`${error.message}\n${tail}`, details, error);
  }

  async close(): Promise<void> {
    this.driverValue?.close();
    await Promise.allSettled([...this.providers.values()].map((p) => p.close?.()));
    this.providers.clear();
  }
}
