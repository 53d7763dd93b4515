import type { Logger } from 'pino';
import { defaultStateDir, removeClusterState } from '../bootstrap/cluster-pki.js';
import type { WorkloadSpec, WorkloadStatus } from '../engines/types.js';
import { EngineError, SpecError } from '../errors.js';
import { computePlan, type Plan } from '../plan.js';
import { loadSpec, parseSpec } from '../spec/load.js';
import type { ClusterSpec, ClusterSpecInput, ProviderName } from '../spec/schema.js';
import { converge } from './apply.js';
import { ClusterContext } from './context.js';
import { acquireClusterLock } from './lock.js';
import { findManager } from './nodes.js';
import { clusterStatus, withReachableAddresses } from './status.js';
import type { ApplyResult, ClusterOptions, ClusterStatus, DestroyResult, PhaseTiming, ProgressEvent } from './types.js';

export * from './types.js';

// Without a caller's logger nothing is logged; a stub avoids loading pino (tens of ms) on every SDK import.
const noop = () => undefined;
const SILENT_LOGGER = {
  level: 'silent',
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => SILENT_LOGGER,
} as unknown as Logger;

export { NO_MESH_NOTE } from './status.js';

/**
 * One cluster: a spec, the providers it names and the engine pool on their VMs.
 *
 * ```ts
 * const cluster = await Cluster.load('skypool.yaml');
 * cluster.onProgress((e) => console.log(e));
 * await cluster.apply();
 * await cluster.run({ name: 'web', image: 'skypool/httpd:1', replicas: 6, port: 8080 });
 * console.log(await cluster.status());
 * await cluster.destroy();
 * ```
 */
export class Cluster {
  private readonly ctx: ClusterContext;

  private constructor(spec: ClusterSpec, options: ClusterOptions = {}) {
    const logger = options.logger ?? SILENT_LOGGER;
    this.ctx = new ClusterContext(spec, { ...options, stateDir: options.stateDir ?? defaultStateDir() }, logger);
  }

  /** Reads and validates a YAML spec file (SpecError names every field at fault). */
  static async load(path: string, options?: ClusterOptions): Promise<Cluster> {
    return new Cluster(await loadSpec(path), options);
  }

  /** Validates a spec object (SpecError names every field at fault) and opens its cluster. */
  static fromSpec(spec: ClusterSpecInput, options?: ClusterOptions): Cluster {
    return new Cluster(parseSpec(spec), options);
  }

  get spec(): ClusterSpec {
    return this.ctx.spec;
  }

  /** Subscribes to typed progress events; returns the unsubscribe function. */
  onProgress(listener: (event: ProgressEvent) => void): () => void {
    return this.ctx.progress.on(listener);
  }

  /** What apply would do. Read-only: lists instances, mutates nothing. */
  async plan(): Promise<Plan> {
    return computePlan(this.ctx.spec, await this.ctx.inventory());
  }

  /**
   * Converges VMs and the engine pool onto the spec; a second apply with the same spec changes nothing.
   * Holds the cluster's lock throughout (LockedError while another mutating call runs).
   */
  async apply(options: { signal?: AbortSignal } = {}): Promise<ApplyResult> {
    await this.checkBeforeChange();
    return this.locked('apply', () => converge(this.ctx, options.signal));
  }

  /** VMs, engine nodes and services of the cluster; read-only. */
  async status(): Promise<ClusterStatus> {
    return clusterStatus(this.ctx);
  }

  /** Sets a pool's node count and applies; scaling down drains the highest-index nodes first. */
  async scale(pool: string, count: number, options: { signal?: AbortSignal } = {}): Promise<ApplyResult> {
    const index = this.ctx.spec.pools.findIndex((p) => p.name === pool);
    if (index < 0) {
      throw new SpecError([
        {
          path: 'pool',
          message: `no pool named "${pool}"; pools are: ${this.ctx.spec.pools.map((p) => p.name).join(', ')}`,
        },
      ]);
    }
    const pools = this.ctx.spec.pools.map((p, i) => (i === index ? { ...p, count } : p));
    const next = parseSpec({ ...this.ctx.spec, pools });
    await this.checkBeforeChange();
    return this.locked('scale', async () => {
      const previous = this.ctx.spec;
      this.ctx.spec = next;
      try {
        return await converge(this.ctx, options.signal);
      } catch (error) {
        // The spec in memory must keep describing what the caller asked for last with success.
        this.ctx.spec = previous;
        throw error;
      }
    });
  }

  /**
   * Runs (or updates) a replicated service and waits until every replica runs. Without the routing mesh each
   * task publishes the port on a dynamic host port; the returned tasks say where each replica answers.
   */
  async run(workload: WorkloadSpec, options: { signal?: AbortSignal } = {}): Promise<WorkloadStatus> {
    const timings: PhaseTiming[] = [];
    this.ctx.assertEngineSupported();
    return this.locked('run', () =>
      this.ctx.progress.phase('workload', timings, async () => {
        const instances = await this.ctx.inventory(options.signal);
        const manager = await findManager(this.ctx, instances, options.signal ? { signal: options.signal } : {});
        if (!manager)
          throw new EngineError(`no manager of cluster ${this.ctx.spec.name} answers: run \`skypool up\` first`, {
            cluster: this.ctx.spec.name,
          });
        const driver = await this.ctx.driver();
        await driver.runWorkload(manager.endpoint, workload, { routingMesh: this.ctx.routingMesh() });
        const status = await driver.waitWorkload(manager.endpoint, workload.name, {
          deadline: Date.now() + this.ctx.readyTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return withReachableAddresses(status, instances);
      }),
    );
  }

  /** One workload's replicas and where each answers, or undefined when no such service runs. */
  async workload(name: string): Promise<WorkloadStatus | undefined> {
    const instances = await this.ctx.inventory();
    const manager = await findManager(this.ctx, instances, { waitMs: 3_000 });
    if (!manager) return undefined;
    const [status] = await (await this.ctx.driver()).workloads(manager.endpoint, name);
    return status ? withReachableAddresses(status, instances) : undefined;
  }

  /** Terminates every VM of the cluster, deletes its networks and the local state (PKI). */
  async destroy(): Promise<DestroyResult> {
    return this.locked('destroy', () => this.destroyLocked());
  }

  private async destroyLocked(): Promise<DestroyResult> {
    const started = performance.now();
    const terminated = new Set<string>();
    const networksDeleted: ProviderName[] = [];
    await this.ctx.progress.phase('destroy', undefined, async () => {
      // A launch still in flight (an interrupted apply) may add a VM after the first listing: list again.
      for (let round = 0; round < 3; round += 1) {
        const instances = await this.ctx.inventory();
        if (instances.length === 0) break;
        await Promise.all(
          this.ctx.providerNames.map(async (name) => {
            const mine = instances.filter((i) => i.provider === name);
            if (mine.length === 0) return;
            for (const i of mine) {
              this.ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminating' });
            }
            await this.ctx.queue.terminate(
              await this.ctx.provider(name),
              mine.map((i) => i.id),
            );
            mine.forEach((i) => {
              terminated.add(i.name);
              this.ctx.progress.emit({ type: 'node', node: i.name, pool: i.tags.pool, state: 'terminated' });
            });
          }),
        );
      }
      for (const name of this.ctx.providerNames) {
        await (await this.ctx.provider(name)).deleteNetwork(this.ctx.spec.name);
        networksDeleted.push(name);
      }
      this.ctx.forgetState();
      await removeClusterState(this.ctx.options.stateDir, this.ctx.spec.name);
    });
    return {
      cluster: this.ctx.spec.name,
      terminated: [...terminated].sort(),
      networksDeleted,
      stateRemoved: true,
      durationMs: Math.round(performance.now() - started),
    };
  }

  /** What an apply can tell without changing anything: it fails here without leaving a lock or a state dir. */
  private async checkBeforeChange(): Promise<void> {
    this.ctx.assertEngineSupported();
    await this.ctx.checkPrerequisites();
  }

  /** Runs a mutating operation under the cluster's lock file; released whatever the outcome. */
  private async locked<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const release = await acquireClusterLock(
      this.ctx.options.stateDir,
      this.ctx.spec.name,
      operation,
      (holder, path) => {
        const who = holder
          ? `process ${holder.pid} (${holder.operation}, since ${holder.since}), which is gone`
          : 'a process that never finished writing it';
        this.ctx.progress.message(`taking over the stale lock ${path} left by ${who}`, 'warn');
      },
    );
    try {
      return await work();
    } finally {
      await release();
    }
  }

  /** Releases API clients and provider resources; the Cluster is unusable afterwards. */
  async close(): Promise<void> {
    await this.ctx.close();
  }
}
