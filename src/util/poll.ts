import { SkypoolError, TimeoutError } from '../errors.js';
import { redact } from '../redact.js';

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Throws skypool's CANCELLED error when the signal is aborted (`signal.throwIfAborted()` throws the bare reason). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled(signal);
}

export function cancelled(signal: AbortSignal): SkypoolError {
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new SkypoolError('CANCELLED', `cancelled${why}`, { cause: signal.reason });
}

/**
 * How long a wait may take: the one shape every wait of skypool takes (engines, providers, the cluster).
 * `deadline` is an absolute time (Date.now() based), so nested waits share one budget instead of each
 * starting its own.
 */
export interface WaitOptions {
  /** Absolute time (Date.now() based) after which the wait fails with TimeoutError. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

/** A deadline `ms` from now, with the signal when there is one. */
export function within(ms: number, signal?: AbortSignal): WaitOptions {
  return { deadline: Date.now() + ms, ...(signal ? { signal } : {}) };
}

export interface PollOptions extends WaitOptions {
  readonly intervalMs?: number;
  /** What is awaited, for the TimeoutError message ("... waiting for <what>"). */
  readonly what: string;
  /** Appended to the timeout message: what the user can do. */
  readonly hint?: string;
  /** Errors that end the wait at once (by default only cancellation; others mean "not ready yet"). */
  readonly isFatal?: (error: unknown) => boolean;
}

/**
 * Calls `check` until it returns a value other than undefined or the deadline passes. Errors thrown by `check`
 * count as "not yet" (an API that is still starting); the last one is reported with the timeout.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    if (options.signal?.aborted) throw cancelled(options.signal);
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      if (SkypoolError.isInstance(error) && error.code === 'CANCELLED') throw error;
      if (options.isFatal?.(error)) throw error;
      lastError = error;
    }
    if (Date.now() >= options.deadline) {
      const last = lastError instanceof Error ? ` (last error: ${redact(lastError.message)})` : '';
      throw new TimeoutError(`timed out waiting for ${options.what}${last}${options.hint ? `; ${options.hint}` : ''}`, {
        waitingFor: options.what,
      });
    }
    await sleep(Math.min(interval, Math.max(0, options.deadline - Date.now())), options.signal);
  }
}

/**
 * The reads of one wait loop: a read the cloud throttled (THROTTLED, after the SDK's own retries) is waited out,
 * after the cloud's Retry-After when the error carries one (`details.retryAfterMs`), else after a backoff that
 * doubles from the poll interval; the poll is then skipped (undefined), never the end of the wait.
 */
export class WaitReads {
  private backoffMs = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly maxBackoffMs = 20_000,
  ) {}

  async read<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    try {
      const value = await call();
      this.backoffMs = 0;
      return value;
    } catch (error) {
      if (!SkypoolError.isInstance(error) || error.code !== 'THROTTLED') throw error;
      this.backoffMs = Math.min(this.maxBackoffMs, Math.max(this.intervalMs, this.backoffMs * 2));
      const after = error.details.retryAfterMs;
      await sleep(typeof after === 'number' && after > 0 ? after : this.backoffMs, signal);
      return undefined;
    }
  }
}
