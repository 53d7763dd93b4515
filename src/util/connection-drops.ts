import { sleep } from './poll.js';

/**
 * A dropped connection (reset, cut-off body, hang-up) as the HTTP stacks of the cloud SDKs report it. Such a
 * request may or may not have reached the cloud, so only idempotent reads are repeated on it; the AWS SDK does this
 * itself, the Google client and the Azure SDK's body reading do not.
 */

const CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const MESSAGES = /socket hang up|premature close|other side closed|read ECONNRESET|write EPIPE|(^|: )aborted$/i;

export function isConnectionDrop(error: unknown): boolean {
  // A caller's own abort also reads "aborted": that one must end the call, not repeat it.
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === 'AbortError') return false;
    if (typeof e.code === 'string' && CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
    e = (e.cause ?? e.innerError) as Record<string, unknown> | undefined;
  }
  return false;
}

export interface ReadRetryOptions {
  readonly signal?: AbortSignal;
  /** Attempts in all (default 4). */
  readonly attempts?: number;
  /** First pause (default 100 ms), doubled each time. */
  readonly baseDelayMs?: number;
}

/**
 * Runs an idempotent read again when the connection under it dropped; any other error, a cancelled signal or the
 * last attempt's drop goes to the caller as is. Never wrap a create that has no idempotency token in this.
 */
export async function retryIdempotentRead<T>(read: () => Promise<T>, options: ReadRetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= attempts || options.signal?.aborted || !isConnectionDrop(error)) throw error;
      const delay = (options.baseDelayMs ?? 100) * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * (delay / 2), options.signal);
    }
  }
}
