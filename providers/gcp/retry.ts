import { isConnectionDrop } from '../../src/util/connection-drops.js';
import { sleep, throwIfCancelled } from '../../src/util/poll.js';
import { describeFailure, THROTTLE_REASONS } from './errors.js';

/**
 * Per-call retries of Compute Engine calls, as the AWS and Azure SDKs do for theirs: the Google client over REST
 * (`fallback: true`) retries nothing, so one throttled or 503'd call of a network phase would fail the whole
 * phase. A call is repeated only on what a repeat can cure (throttling, a 5xx, a dropped connection), at most
 * `attempts` times in all. Callers make repeats safe: reads are idempotent, inserts carry one requestId for
 * every attempt, deletes treat a 404 as done.
 */

/** Why a failure is worth another attempt (and how long to back off), or undefined when it is not. */
export function transientKind(error: unknown): 'throttle' | 'server' | 'drop' | undefined {
  if (isConnectionDrop(error)) return 'drop';
  const f = describeFailure(error);
  if ((f.reason && THROTTLE_REASONS.has(f.reason)) || f.httpStatus === 429) return 'throttle';
  if (f.httpStatus !== undefined && [500, 502, 503, 504].includes(f.httpStatus)) return 'server';
  if (f.reason === 'backendError' || f.reason === 'internalError') return 'server';
  return undefined;
}

export interface CallRetryOptions {
  /** Attempts in all, the first included (default 3, the AWS SDK's standard mode). */
  readonly attempts?: number;
  readonly signal?: AbortSignal;
  /** Backoff base for 5xx and dropped connections; throttling backs off 5× longer (default 100 ms). */
  readonly baseDelayMs?: number;
}

/** Runs `call`, repeating it on a transient failure with jittered exponential backoff (capped at 20 s). */
export async function retryTransient<T>(call: () => Promise<T>, options: CallRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const base = options.baseDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    throwIfCancelled(options.signal);
    try {
      return await call();
    } catch (error) {
      const kind = attempt < attempts && !options.signal?.aborted ? transientKind(error) : undefined;
      if (!kind) throw error;
      const cap = Math.min(20_000, (kind === 'throttle' ? base * 5 : base) * 2 ** (attempt - 1));
      await sleep(cap / 2 + Math.random() * (cap / 2), options.signal);
    }
  }
}
