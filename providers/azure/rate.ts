import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { sleep } from '../../src/util/poll.js';

/**
 * ARM's token buckets per principal and subscription (learn.microsoft.com/azure/azure-resource-manager/management/
 * request-limits-and-throttling): reads 250 (+25/s), writes 200 (+10/s). The refill rates are the documented ones;
 * what is left is what ARM says in `x-ms-ratelimit-remaining-subscription-{reads,writes}` on every answer.
 */
export const ARM_RATES = {
  reads: { capacity: 250, refillPerSecond: 25 },
  writes: { capacity: 200, refillPerSecond: 10 },
} as const;

export type ArmBucket = keyof typeof ARM_RATES;

/** Tokens left in the bucket for calls that arrive at ARM closer together than they left (0.3 s of writes). */
const RESERVE = 3;

/** A client-side copy of one ARM bucket: refilled at the documented rate, lowered to what ARM reports left. */
class Bucket {
  private tokens: number;
  private at = performance.now();

  constructor(private readonly spec: { capacity: number; refillPerSecond: number }) {
    this.tokens = spec.capacity;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.spec.capacity, this.tokens + ((now - this.at) / 1000) * this.spec.refillPerSecond);
    this.at = now;
  }

  /** What ARM said is left (other clients of the principal spend from the same bucket). */
  report(remaining: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, remaining);
  }

  /** Milliseconds until `n` tokens are there (0 now). */
  msUntil(n: number): number {
    this.refill();
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) / this.spec.refillPerSecond) * 1000);
  }

  take(n: number): void {
    this.refill();
    this.tokens -= n;
  }
}

/**
 * Paces ARM calls by the principal's buckets so a large launch is not answered with 429s: a pipeline policy reads
 * the remaining-tokens headers of every answer, and `take` waits until the bucket holds the tokens a call needs.
 */
export class ArmPacer {
  private readonly buckets: Record<ArmBucket, Bucket> = {
    reads: new Bucket(ARM_RATES.reads),
    writes: new Bucket(ARM_RATES.writes),
  };
  /** Callers waiting for write tokens, served in order. */
  private queue: Promise<void> = Promise.resolve();

  readonly policy: PipelinePolicy = {
    name: 'skypoolArmRateHeaders',
    sendRequest: async (request, next) => {
      const response = await next(request);
      for (const kind of ['reads', 'writes'] as const) {
        const header = response.headers.get(`x-ms-ratelimit-remaining-subscription-${kind}`);
        const remaining = header === undefined ? Number.NaN : Number(header);
        if (Number.isFinite(remaining)) this.buckets[kind].report(remaining);
      }
      return response;
    },
  };

  /**
   * Waits (in call order) until `n` tokens of `kind` are there, plus a reserve once the bucket runs low: calls
   * spaced by the refill rate here can arrive bunched at ARM (connections, scheduling), and must still find a token.
   */
  take(kind: ArmBucket, n = 1, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      const need = n + RESERVE;
      for (let wait = this.buckets[kind].msUntil(need); wait > 0; wait = this.buckets[kind].msUntil(need))
        await sleep(wait, signal);
      this.buckets[kind].take(n);
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Milliseconds until `n` read tokens are there: a poll that needs them waits that long first. */
  readDelayMs(n: number): number {
    return this.buckets.reads.msUntil(n);
  }
}
