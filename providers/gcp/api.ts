import { randomUUID } from 'node:crypto';
import { PrerequisiteError } from '../../src/errors.js';
import { isLoopbackHost } from '../../src/util/net.js';
import { operatorAddress } from '../../src/util/operator-address.js';
import { ComputeClients } from './clients.js';
import { describeFailure, type FailureContext, isAlreadyExists, isNotFound, mapApiError } from './errors.js';
import { type Operation, operationOf, waitForOperation } from './operations.js';
import { gcpProject } from './preflight.js';
import { retryTransient } from './retry.js';
import type { GcpProviderSettings } from './settings.js';
import { sleep } from './util.js';

/** Settings, lazily built clients and the call patterns every part of the adapter shares. */
export class GceApi {
  private clientsValue?: ComputeClients;

  constructor(readonly settings: GcpProviderSettings) {}

  get project(): string {
    return gcpProject(this.settings);
  }

  /** Region used when a pool names none. */
  get region(): string {
    return this.settings.region ?? 'us-central1';
  }

  private sources?: Promise<readonly string[]>;

  /** Who may reach the engine API: the settings, else the operator's address (loopback for cloudsim). */
  engineApiSources(signal?: AbortSignal): Promise<readonly string[]> {
    const given = this.settings.engineApiSources ?? this.settings.engineApiSourceRanges ?? [];
    this.sources ??= operatorAddress({
      endpoints: [this.settings.apiEndpoint],
      override: given,
      ...(this.settings.operatorAddressUrl ? { lookupUrl: this.settings.operatorAddressUrl } : {}),
      ...(signal ? { signal } : {}),
    });
    this.sources.catch(() => {
      this.sources = undefined;
    });
    return this.sources;
  }

  get clients(): ComputeClients {
    if (!this.clientsValue) refuseClearTextToRemote(this.settings);
    this.clientsValue ??= new ComputeClients(this.settings);
    return this.clientsValue;
  }

  get opTimeoutMs(): number {
    return this.settings.operationTimeoutMs ?? 600_000;
  }

  get concurrency(): number {
    return this.settings.concurrency ?? 8;
  }

  wait(op: Operation, context: FailureContext, signal?: AbortSignal): Promise<Operation> {
    return waitForOperation(
      (read) => this.call(read, signal),
      this.clients,
      this.project,
      op,
      { timeoutMs: this.opTimeoutMs, ...(signal ? { signal } : {}) },
      context,
    );
  }

  /**
   * Runs one Compute Engine call, again on throttling, a 5xx or a dropped connection (a reused keep-alive socket
   * that a front end closed fails with ECONNRESET), up to `maxAttempts` in all. Safe for reads and deletes; an
   * insert must carry the same requestId in every attempt (see `create`).
   */
  call<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retryTransient(call, { attempts: this.settings.maxAttempts ?? 3, ...(signal ? { signal } : {}) });
  }

  /** An idempotent read (get, list, operations.wait), retried like every call. */
  read<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.call(call, signal);
  }

  /** Gets a resource by name; undefined when it does not exist. */
  async find<T>(action: string, get: () => Promise<[T, ...unknown[]]>): Promise<T | undefined> {
    try {
      return (await this.read(get))[0];
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw mapApiError(error, { action });
    }
  }

  /**
   * Inserts a network resource and waits for its Operation; a concurrent creation (409) counts as success.
   * Their names are deterministic, so the name is the idempotency key; each create gets a fresh requestId because
   * Compute Engine remembers requestIds for an hour, and a destroy + apply within that hour must create again. The
   * attempts of one create share it, so a repeat after a lost answer is answered with the first one's Operation.
   */
  async create(action: string, insert: (requestId: string) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.opTimeoutMs;
    for (;;) {
      let op: Operation;
      const requestId = randomUUID();
      try {
        op = operationOf(((await this.call(() => insert(requestId), signal)) as unknown[])[0]);
      } catch (error) {
        if (isAlreadyExists(error)) return;
        // The parent (network) is still being created, e.g. by a concurrent apply: wait for it, not a blind retry.
        if (describeFailure(error).reason === 'resourceNotReady' && Date.now() < deadline) {
          await sleep(this.settings.pollIntervalMs ?? 2000, signal);
          continue;
        }
        throw mapApiError(error, { action });
      }
      await this.wait(op, { action }, signal);
      return;
    }
  }

  async close(): Promise<void> {
    await this.clientsValue?.close();
    this.clientsValue = undefined;
  }
}

/**
 * Every Compute Engine call carries the bearer token, so plain http is for a simulator on this machine only
 * (the azure adapter refuses http outright; its SDK does too).
 */
function refuseClearTextToRemote(settings: GcpProviderSettings): void {
  if (settings.protocol !== 'http') return;
  const host = settings.apiEndpoint ?? 'compute.googleapis.com';
  if (isLoopbackHost(host)) return;
  throw new PrerequisiteError(
    `gcp provider setting protocol is 'http' for apiEndpoint ${host}, which is not a loopback host: the access ` +
      "token would travel in clear. Use protocol 'https' (or an https:// CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE); " +
      'plain http is allowed only to 127.0.0.0/8, ::1 or localhost (a local cloudsim)',
    { option: 'protocol', apiEndpoint: host, env: 'CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE' },
  );
}
