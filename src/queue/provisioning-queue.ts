import type PQueue from 'p-queue';
import { CapacityError, NoFittingSizeError, SkypoolError, type ZoneFailure } from '../errors.js';
import type { Instance, LaunchRequest, Provider } from '../providers/types.js';
import type { ProviderName } from '../spec/schema.js';

/** Concurrency and retry limits of the provisioning queue, per provider. */
export interface QueueLimits {
  /** Calls in flight at once. */
  readonly concurrency: number;
  /** Calls started per `intervalMs` (p-queue's intervalCap), matched to the cloud's refill rate. */
  readonly intervalCap: number;
  readonly intervalMs: number;
}

/**
 * Defaults sit just under each cloud's documented refill rate (cloud-apis.md), so a large apply is paced by the
 * queue instead of being throttled by the cloud. The local provider is bounded by the machine, not an API.
 */
export const DEFAULT_LIMITS: Readonly<Record<ProviderName, QueueLimits>> = {
  aws: { concurrency: 4, intervalCap: 2, intervalMs: 1000 },
  gcp: { concurrency: 8, intervalCap: 20, intervalMs: 1000 },
  azure: { concurrency: 8, intervalCap: 8, intervalMs: 1000 },
  local: { concurrency: 4, intervalCap: Number.POSITIVE_INFINITY, intervalMs: 0 },
};

/**
 * Reads (listings) have buckets of their own, several times the mutations' (cloud-apis.md: EC2 Describe* 20/s,
 * ARM reads 25/s), so they get a queue of their own: a listing never waits behind the launches' pace, nor takes
 * a launch's turn. Set at half the refill, as waits poll outside the queue.
 */
export const DEFAULT_READ_LIMITS: Readonly<Record<ProviderName, QueueLimits>> = {
  aws: { concurrency: 8, intervalCap: 10, intervalMs: 1000 },
  gcp: { concurrency: 8, intervalCap: 20, intervalMs: 1000 },
  azure: { concurrency: 8, intervalCap: 12, intervalMs: 1000 },
  local: { concurrency: 8, intervalCap: Number.POSITIVE_INFINITY, intervalMs: 0 },
};

/** What the queue reports: launches and terminations started, retried, done or failed. */
export type QueueEvent =
  | {
      readonly type: 'launch-start';
      readonly provider: ProviderName;
      readonly pool: string;
      readonly nodes: readonly string[];
      readonly zone?: string;
    }
  | {
      readonly type: 'launch-done';
      readonly provider: ProviderName;
      readonly pool: string;
      readonly nodes: readonly string[];
      readonly ms: number;
    }
  | {
      readonly type: 'retry';
      readonly provider: ProviderName;
      readonly pool: string;
      readonly attempt: number;
      readonly code: string;
    }
  | {
      readonly type: 'failover';
      readonly provider: ProviderName;
      readonly pool: string;
      readonly fromZone?: string;
      readonly toZone: string;
      readonly reason: string;
    }
  | { readonly type: 'terminate'; readonly provider: ProviderName; readonly ids: readonly string[] };

/** Options of the provisioning queue. */
export interface ProvisioningQueueOptions {
  readonly limits?: Partial<Record<ProviderName, Partial<QueueLimits>>>;
  /** Limits of the reads' queue (listings), per provider; DEFAULT_READ_LIMITS otherwise. */
  readonly readLimits?: Partial<Record<ProviderName, Partial<QueueLimits>>>;
  /** Attempts after the first for throttled or transient failures (the SDKs retry on their own first). */
  readonly retries?: number;
  /** Base of the exponential backoff between attempts. */
  readonly minRetryDelayMs?: number;
  /**
   * Attempts after the first for reads and network phases (listings, waits, ensureNetwork, deleteNetwork): they
   * are idempotent and resume where they stopped, so they may try longer than a launch. Default 8.
   */
  readonly readRetries?: number;
  /** Longest wait for a launch's capacity to be placed (Provider.awaitPlacement; EC2). Default 10 minutes. */
  readonly placementTimeoutMs?: number;
  /** Called with every queue event (progress reporting). */
  readonly onEvent?: (event: QueueEvent) => void;
}

/** p-queue and p-retry end an aborted call with their own AbortError: callers get skypool's CANCELLED. */
function asCancelled(error: unknown, signal: AbortSignal | undefined, provider: ProviderName, what: string): unknown {
  if (!signal?.aborted || SkypoolError.isInstance(error)) return error;
  return new SkypoolError('CANCELLED', `cancelled during ${what} on ${provider}`, {
    details: { provider, what },
    cause: error,
  });
}

/** Azure zones are bare numbers: `eastus-1` says which region's zone 1. */
function zoneLabel(request: LaunchRequest, zone: string | undefined): string {
  if (!zone) return request.pool.region ? `${request.pool.region} (default zone)` : 'the default zone';
  return /^\d+$/.test(zone) && request.pool.region ? `${request.pool.region}-${zone}` : zone;
}

/** One zone's capacity failure as the cloud gave it (reason code and resolved instance type). */
function zoneFailure(request: LaunchRequest, zone: string | undefined, error: SkypoolError): ZoneFailure {
  const d = error.details;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const instanceType = text(d.instanceType) ?? request.pool.instanceType;
  return {
    zone: zoneLabel(request, zone ?? text(d.zone)),
    reason: text(d.reason) ?? text(d.code) ?? text(d.cloudCode) ?? 'capacity unavailable',
    ...(instanceType ? { instanceType } : {}),
  };
}

/**
 * Every mutating cloud call of an apply goes through here: one p-queue per provider paces calls to the cloud's
 * rate, p-retry backs off on throttling and transient errors, and a CapacityError moves the launch to the pool's
 * next zone. Idempotency tokens make each retry safe: a create that did succeed is answered with the same VMs.
 */
export class ProvisioningQueue {
  private readonly queues = new Map<ProviderName, Promise<PQueue>>();
  private readonly readQueues = new Map<ProviderName, Promise<PQueue>>();
  private readonly options: ProvisioningQueueOptions;

  constructor(options: ProvisioningQueueOptions = {}) {
    this.options = options;
  }

  // p-queue and p-retry load with the first cloud call, not with the SDK.
  private queueFor(provider: ProviderName): Promise<PQueue> {
    return this.paced(this.queues, provider, { ...DEFAULT_LIMITS[provider], ...this.options.limits?.[provider] });
  }

  private readQueueFor(provider: ProviderName): Promise<PQueue> {
    return this.paced(this.readQueues, provider, {
      ...DEFAULT_READ_LIMITS[provider],
      ...this.options.readLimits?.[provider],
    });
  }

  private paced(queues: Map<ProviderName, Promise<PQueue>>, provider: ProviderName, limits: QueueLimits) {
    let queue = queues.get(provider);
    if (!queue) {
      queue = import('p-queue').then(
        ({ default: Queue }) =>
          new Queue({
            concurrency: limits.concurrency,
            ...(limits.intervalMs > 0 && Number.isFinite(limits.intervalCap)
              ? { intervalCap: limits.intervalCap, interval: limits.intervalMs }
              : {}),
          }),
      );
      queues.set(provider, queue);
    }
    return queue;
  }

  private emit(event: QueueEvent): void {
    this.options.onEvent?.(event);
  }

  private async withRetries<T>(
    provider: ProviderName,
    pool: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
    retries = this.options.retries ?? 4,
  ): Promise<T> {
    const { default: pRetry, AbortError } = await import('p-retry');
    return pRetry(
      async () => {
        try {
          return await call();
        } catch (error) {
          if (SkypoolError.isInstance(error) && error.retryable) throw error;
          throw new AbortError(error as Error);
        }
      },
      {
        retries,
        minTimeout: this.options.minRetryDelayMs ?? 500,
        maxTimeout: 10_000,
        factor: 2,
        randomize: true,
        signal,
        onFailedAttempt: ({ error, attemptNumber }) =>
          this.emit({
            type: 'retry',
            provider,
            pool,
            attempt: attemptNumber,
            code: SkypoolError.isInstance(error) ? error.code : 'UNKNOWN',
          }),
      },
    );
  }

  /** Zones to try in order: the requested one first, then the pool's others. */
  private zonesFor(request: LaunchRequest): Array<string | undefined> {
    const zones = request.pool.zones ?? [];
    if (zones.length === 0) return [request.zone];
    const first = request.zone && zones.includes(request.zone) ? request.zone : zones[0];
    return [first, ...zones.filter((z) => z !== first)];
  }

  /** Launches the request's nodes, paced, retried, failing over across zones on capacity errors. */
  async launch(provider: Provider, request: LaunchRequest): Promise<Instance[]> {
    const zones = this.zonesFor(request);
    const pool = request.pool.name;
    let lastCapacityError: CapacityError | undefined;
    const failures: ZoneFailure[] = [];
    for (const [i, zone] of zones.entries()) {
      if (i > 0)
        this.emit({
          type: 'failover',
          provider: provider.name,
          pool,
          fromZone: zones[i - 1],
          toZone: zone ?? '',
          reason: lastCapacityError?.message ?? '',
        });
      const attempt: LaunchRequest = {
        ...request,
        zone,
        // A different zone is a different request: the cloud would reject the old token as a parameter mismatch.
        idempotencyToken: i === 0 ? request.idempotencyToken : `${request.idempotencyToken}-z${i}`,
      };
      const started = performance.now();
      this.emit({ type: 'launch-start', provider: provider.name, pool, nodes: request.nodes.map((n) => n.name), zone });
      try {
        let instances = await (await this.queueFor(provider.name)).add(
          () => this.withRetries(provider.name, pool, request.signal, () => provider.runInstances(attempt)),
          { signal: request.signal },
        );
        if (provider.awaitPlacement) instances = await this.placed(provider, pool, instances, request.signal);
        this.emit({
          type: 'launch-done',
          provider: provider.name,
          pool,
          nodes: request.nodes.map((n) => n.name),
          ms: Math.round(performance.now() - started),
        });
        return instances;
      } catch (error) {
        if (
          error instanceof CapacityError ||
          (SkypoolError.isInstance(error) && error.code === 'CAPACITY_UNAVAILABLE')
        ) {
          lastCapacityError = error as CapacityError;
          failures.push(zoneFailure(request, zone, lastCapacityError));
          continue;
        }
        throw error;
      }
    }
    const what = request.pool.instanceType ?? `size ${JSON.stringify(request.pool.size ?? {})}`;
    const reasons = failures
      .map((f) => `${f.zone}: ${f.reason}${f.instanceType ? ` (${f.instanceType})` : ''}`)
      .join('; ');
    if (failures.every((f) => f.reason === 'NoFittingSize')) {
      throw new NoFittingSizeError(`${lastCapacityError?.message ?? `no type fits pool "${pool}"`}`, {
        pool,
        zones: failures,
      });
    }
    throw new CapacityError(
      `no capacity for pool "${pool}" (${what}) in any zone tried: ${reasons}; add zones to the pool or choose another instance type`,
      { pool, zones: failures },
      lastCapacityError,
    );
  }

  /**
   * Waits (outside the launch slots) until a cloud that places capacity after its launch call did so. On an
   * asynchronous capacity failure every instance of the attempt is terminated (a zone's launch is all-or-nothing,
   * so the next zone gets all its nodes, none twice) and the CapacityError goes to the zone loop.
   */
  private async placed(
    provider: Provider,
    pool: string,
    instances: Instance[],
    signal: AbortSignal | undefined,
  ): Promise<Instance[]> {
    const ids = instances.map((i) => i.id);
    if (ids.length === 0) return instances;
    const region = instances[0]!.region;
    try {
      return await this.wait(provider.name, pool, signal, () =>
        provider.awaitPlacement!(ids, {
          deadline: Date.now() + (this.options.placementTimeoutMs ?? 600_000),
          ...(region ? { region } : {}),
          ...(signal ? { signal } : {}),
        }),
      );
    } catch (error) {
      if (SkypoolError.isInstance(error) && error.code === 'CAPACITY_UNAVAILABLE')
        await this.terminate(provider, ids, signal);
      throw error;
    }
  }

  /** Terminates instances through the provider's queue (bounded concurrency, retries). */
  async terminate(provider: Provider, ids: readonly string[], signal?: AbortSignal): Promise<void> {
    if (ids.length === 0) return;
    this.emit({ type: 'terminate', provider: provider.name, ids });
    await (await this.queueFor(provider.name)).add(
      () =>
        this.withRetries(provider.name, 'terminate', signal, () =>
          provider.terminateInstances(ids, signal ? { signal } : {}),
        ),
      {
        signal,
      },
    );
  }

  /**
   * A read (listInstances): paced in the provider's read queue and retried on throttling, 5xx and dropped
   * connections like a launch. `what` names it in retry events.
   */
  read<T>(provider: ProviderName, what: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return this.retried(this.readQueueFor(provider), provider, what, signal, call);
  }

  /**
   * A network phase (ensureNetwork, deleteNetwork: reads and writes, idempotent, resumable): paced with the
   * launches and retried like a read.
   */
  network<T>(
    provider: ProviderName,
    what: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    return this.retried(this.queueFor(provider), provider, what, signal, call);
  }

  private async retried<T>(
    queue: Promise<PQueue>,
    provider: ProviderName,
    what: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    const retries = this.options.readRetries ?? 8;
    try {
      return await (await queue).add(() => this.withRetries(provider, what, signal, call, retries), { signal });
    } catch (error) {
      throw asCancelled(error, signal, provider, what);
    }
  }

  /** A long wait (until VMs run): retried like a read, but outside the queue so it holds no launch slot. */
  async wait<T>(
    provider: ProviderName,
    what: string,
    signal: AbortSignal | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await this.withRetries(provider, what, signal, call, this.options.readRetries ?? 8);
    } catch (error) {
      throw asCancelled(error, signal, provider, what);
    }
  }

  /** Resolves when no launch or termination is queued or running. */
  async onIdle(): Promise<void> {
    await Promise.all([...this.queues.values()].map(async (q) => (await q).onIdle()));
  }
}
