import type { Logger } from 'pino';
import { defaultStateDir, removeClusterState } from '../bootstrap/cluster-pki.js';
import { loadEngine } from '../engines/registry.js';
import {
  type BatchJobSpec,
  type EngineDriver,
  type JobStatus,
  type Workload,
  type WorkloadSpec,
  type WorkloadStatus,
  workloadKind,
} from '../engines/types.js';
import { EngineError, SpecError } from '../errors.js';
import { redactingLogger } from '../log.js';
import type { Plan } from '../plan.js';
import type { Instance } from '../providers/types.js';
import { loadSpec, parseSpec } from '../spec/load.js';
import type { ClusterSpec, ClusterSpecInput, ProviderName } from '../spec/schema.js';
import { normalizeCidr } from '../util/operator-address.js';
import { converge } from './apply.js';
import { ClusterContext } from './context.js';
import { type EngineApiExposure, engineApiExposure, wholeInternetWarning } from './engine-api.js';
import { rotateEngineApiCa } from './engine-api-ca.js';
import { regionsToList } from './footprint.js';
import { acquireClusterLock } from './lock.js';
import { migrate as migrateCluster } from './migrate/index.js';
import type { MigrateOptions, MigrationResult } from './migrate/types.js';
import type { ManagerRef } from './nodes.js';
import { planCluster } from './plan-cluster.js';
import { type RotateCaResult, rotateEngineCa, shortenEngineCa } from './rotate-ca.js';
import { clusterStatus, withReachableAddresses } from './status.js';
import { noManagerAnswers, reachManager, recordedElsewhere } from './survey.js';
import { withTokenRotation } from './token-rotation.js';
import type { ApplyResult, ClusterOptions, ClusterStatus, DestroyResult, PhaseTiming, ProgressEvent } from './types.js';
import { saveUnlockKey } from './unlock-key.js';

export type { EngineApiCaRotation } from './engine-api-ca.js';
export type * from './migrate/types.js';
export type { RotateCaResult } from './rotate-ca.js';
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
    const logger = options.logger ? redactingLogger(options.logger) : SILENT_LOGGER;
    const adminCidrs = options.adminCidrs?.map(normalizeCidr);
    this.ctx = new ClusterContext(
      spec,
      { ...options, ...(adminCidrs ? { adminCidrs } : {}), stateDir: options.stateDir ?? defaultStateDir() },
      logger,
    );
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

  /**
   * What apply would do, computed as apply computes it (strays and duplicates included). Read-only: lists
   * instances and asks the engine, mutates nothing, and never fails for what it finds: a manager is looked for
   * among every VM of the cluster (on the providers this state directory put it on too, so a spec from before
   * `migrate` still reaches it); VMs on providers the spec names no pool on are listed under `outside`, and what
   * the plan could not see is said in `warnings`.
   */
  async plan(): Promise<Plan> {
    return planCluster(this.ctx, await this.engineApi());
  }

  /** Who may reach each cloud's engine API port (2376/tcp), resolved as apply will (the operator's address). */
  private async engineApi(signal?: AbortSignal): Promise<EngineApiExposure[]> {
    const providers = await Promise.all(this.ctx.providerNames.map((name) => this.ctx.provider(name)));
    return engineApiExposure(providers, signal);
  }

  /**
   * Converges VMs and the engine pool onto the spec; a second apply with the same spec changes nothing.
   * Holds the cluster's lock throughout (LockedError while another mutating call runs).
   */
  async apply(options: { signal?: AbortSignal } = {}): Promise<ApplyResult> {
    await this.checkBeforeChange();
    const warning = wholeInternetWarning(await this.engineApi(options.signal));
    if (warning) this.ctx.progress.message(warning, 'warn');
    return this.locked('apply', () =>
      withTokenRotation(this.ctx, async () => {
        const result = await converge(this.ctx, options.signal);
        await saveUnlockKey(this.ctx, options.signal);
        await shortenEngineCa(this.ctx, options.signal);
        return result;
      }),
    );
  }

  /**
   * Rotates both CAs of the cluster in place, each valid five years; holds the cluster's lock. First the CA the
   * nodes' engine APIs trust the SDK's client certificate from (the state directory's; node by node, each
   * node's dockerd restarts once; resumable, see engine-api-ca.ts), then the engine's own root CA, whose node
   * certificates are re-issued in place. `skypool rotate-ca` on the command line.
   */
  async rotateCa(options: { signal?: AbortSignal } = {}): Promise<RotateCaResult> {
    await this.checkBeforeChange();
    return this.locked('rotate-ca', async () => {
      const started = performance.now();
      const driver = await this.ctx.driver();
      // Engines that derive secrets from the CA key (Slurm's munge key) or have no CA of their own stop here.
      if (!driver.rotateCa)
        throw new EngineError(`the ${this.ctx.spec.engine} engine has no CA rotation`, {
          engine: this.ctx.spec.engine,
        });
      const engineApi = driver.nodeChannel ? await rotateEngineApiCa(this.ctx, options.signal) : undefined;
      const result = await rotateEngineCa(this.ctx, options.signal);
      return {
        ...result,
        ...(engineApi ? { engineApi } : {}),
        durationMs: Math.round(performance.now() - started),
      };
    });
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
        return await withTokenRotation(this.ctx, () => converge(this.ctx, options.signal));
      } catch (error) {
        // The spec in memory must keep describing what the caller asked for last with success.
        this.ctx.spec = previous;
        throw error;
      }
    });
  }

  /**
   * Runs a workload of the kind the engine has. A replicated service (Swarm) is created or updated and waited
   * for until every replica runs; without the routing mesh each task publishes the port on a dynamic host port,
   * and the returned tasks say where each replica answers. A batch job (`kind: 'job'`, Slurm) is submitted with
   * sbatch semantics and, unless `wait: false`, waited for until it ended, its output read back. A kind the
   * engine lacks is a SpecError naming `workload.kind`, before anything happens. The manager is found as status
   * finds it, also where a spec from before `migrate` no longer points (progress warns what the spec lacks).
   */
  async run(workload: WorkloadSpec, options?: { signal?: AbortSignal }): Promise<WorkloadStatus>;
  async run(workload: BatchJobSpec, options?: { signal?: AbortSignal }): Promise<JobStatus>;
  async run(workload: Workload, options?: { signal?: AbortSignal }): Promise<WorkloadStatus | JobStatus>;
  async run(workload: Workload, options: { signal?: AbortSignal } = {}): Promise<WorkloadStatus | JobStatus> {
    const timings: PhaseTiming[] = [];
    this.ctx.assertEngineSupported();
    await this.assertKind(workload);
    return this.locked('run', () =>
      this.ctx.progress.phase('workload', timings, async () => {
        const { manager, instances } = await reachManager(this.ctx, options.signal ? { signal: options.signal } : {});
        if (!manager) throw noManagerAnswers(this.ctx, instances);
        const driver = await this.ctx.driver();
        const wait = {
          deadline: Date.now() + this.ctx.readyTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        };
        if (workload.kind === 'job') return this.runJob(driver, manager, workload, instances, options.signal);
        const services = driver.services!;
        await services.runService(manager.endpoint, workload);
        const status = await services.waitService(manager.endpoint, workload.name, wait);
        return withReachableAddresses(status, instances);
      }),
    );
  }

  private async runJob(
    driver: EngineDriver,
    manager: ManagerRef,
    job: BatchJobSpec,
    instances: readonly Instance[],
    signal?: AbortSignal,
  ): Promise<JobStatus> {
    const jobs = driver.jobs!;
    const id = await jobs.submitJob(manager.endpoint, job);
    if (job.wait === false) {
      const [queued] = await jobs.jobs(manager.endpoint, id);
      return queued ?? { kind: 'job', id, name: job.name, state: 'pending', engineState: 'PENDING', nodes: [] };
    }
    // A job may run up to its time limit; the wait allows that plus the time to start it.
    const limitMs = (job.timeLimitMinutes ?? 10) * 60_000;
    const ended = await jobs.waitJob(manager.endpoint, id, {
      deadline: Date.now() + limitMs + this.ctx.readyTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    const host = ended.batchHost ? instances.find((i) => i.name === ended.batchHost) : undefined;
    const output = host ? await this.readOutput(driver, host, id, signal).catch(() => undefined) : undefined;
    return output === undefined ? ended : { ...ended, output };
  }

  /** The output of a batch job, read on the node that ran its script. */
  async jobOutput(id: string): Promise<string> {
    const driver = await this.ctx.driver();
    if (!driver.jobs) throw this.kindError('job', driver.services ? ['service'] : []);
    const { manager, instances } = await reachManager(this.ctx, { waitMs: 3_000 });
    if (!manager) throw noManagerAnswers(this.ctx, instances);
    const [job] = await driver.jobs.jobs(manager.endpoint, id);
    const host = job?.batchHost ? instances.find((i) => i.name === job.batchHost) : undefined;
    if (!host)
      throw new EngineError(`job ${id} has no batch host with a VM (it is unknown, pending, or its node is gone)`, {
        job: id,
      });
    return this.readOutput(driver, host, id);
  }

  /** A job's output file on its batch host (the survey recalled the managers' pinned identities only). */
  private async readOutput(driver: EngineDriver, host: Instance, id: string, signal?: AbortSignal): Promise<string> {
    await this.ctx.recallIdentities([host], signal);
    return driver.jobs!.jobOutput(this.ctx.endpoint(host), id);
  }

  /** A workload kind the engine lacks is refused by name, before any lock or VM is touched. */
  private async assertKind(workload: Workload): Promise<void> {
    const kind = workloadKind(workload);
    const engine = await loadEngine(this.ctx.spec.engine);
    if (!engine.workloadKinds.includes(kind)) throw this.kindError(kind, engine.workloadKinds);
  }

  private kindError(kind: string, kinds: readonly string[]): SpecError {
    const runs =
      kinds.length > 0 ? `it runs ${kinds.map((k) => `kind: '${k}'`).join(' and ')}` : 'it runs no workloads';
    return new SpecError([
      { path: 'workload.kind', message: `engine ${this.ctx.spec.engine} does not run kind: '${kind}'; ${runs}` },
    ]);
  }

  /** One workload's replicas and where each answers, or undefined when no such service runs. */
  async workload(name: string): Promise<WorkloadStatus | undefined> {
    const { manager, instances } = await reachManager(this.ctx, { waitMs: 3_000 });
    if (!manager) return undefined;
    const services = (await this.ctx.driver()).services;
    if (!services) return undefined;
    const [status] = await services.services(manager.endpoint, name);
    return status ? withReachableAddresses(status, instances) : undefined;
  }

  /**
   * Moves every workload and the control plane of a pool, or of every pool on a provider, to another pool or
   * provider while services keep their replicas running: provision the target, cordon the source, move the
   * services (each new task running before its old one stops), move the managers one at a time without losing
   * quorum, then terminate the source VMs and networks. `dryRun` only plans. If the target cannot come up, the
   * source is untouched and the error says why; a rerun after a crash finishes from the engine's record and the
   * clouds' tags. Afterwards `spec` holds the pools after the move (write it back to the spec file).
   */
  async migrate(options: MigrateOptions): Promise<MigrationResult> {
    if (options.dryRun) return migrateCluster(this.ctx, options);
    await this.checkBeforeChange();
    return this.locked('migrate', () => migrateCluster(this.ctx, options));
  }

  /**
   * Terminates every VM of the cluster (also on the providers this state directory put it on that the spec no
   * longer names), deletes its networks and the local state (PKI).
   */
  async destroy(): Promise<DestroyResult> {
    return this.locked('destroy', () => this.destroyLocked());
  }

  private async destroyLocked(): Promise<DestroyResult> {
    const started = performance.now();
    const terminated = new Set<string>();
    const networksDeleted: ProviderName[] = [];
    await this.ctx.progress.phase('destroy', undefined, async () => {
      // Also where this state directory put the cluster beyond the spec (a spec from before a migration): the
      // state removed below is the only key to those VMs.
      const elsewhere = await recordedElsewhere(this.ctx);
      const providers = [...this.ctx.providerNames, ...elsewhere.keys()];
      // A launch still in flight (an interrupted apply) may add a VM after the first listing: list again.
      for (let round = 0; round < 3; round += 1) {
        const lists = await Promise.all([
          this.ctx.inventory(),
          ...[...elsewhere].map(([name, regions]) => this.ctx.listInstances(name, regionsToList(regions))),
        ]);
        const instances = lists.flat();
        if (instances.length === 0) break;
        await Promise.all(
          providers.map(async (name) => {
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
        const provider = await this.ctx.provider(name);
        const regions: Array<string | undefined> = this.ctx.regionsOf(name);
        if (this.ctx.spec.pools.some((p) => p.provider === name && !p.region)) regions.push(undefined);
        for (const region of regions)
          await this.ctx.queue.network(name, 'network', undefined, () =>
            provider.deleteNetwork(this.ctx.spec.name, region ? { region } : {}),
          );
        networksDeleted.push(name);
      }
      for (const [name, regions] of elsewhere) {
        const provider = await this.ctx.provider(name);
        for (const region of regions)
          await this.ctx.queue.read(name, 'network', undefined, () =>
            provider.deleteNetwork(this.ctx.spec.name, region ? { region } : {}),
          );
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
