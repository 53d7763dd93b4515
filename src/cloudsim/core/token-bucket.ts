/** A token bucket as the clouds describe their throttling: `capacity` tokens, refilled at `refillPerSecond`. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.updatedAt = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.updatedAt) / 1000) * this.refillPerSecond);
    this.updatedAt = t;
  }

  /** Takes `n` tokens if available. */
  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens + 1e-9 < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `n` tokens will be available (0 if they are now). */
  msUntil(n = 1): number {
    this.refill();
    if (this.tokens >= n) return 0;
    if (this.refillPerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(((n - this.tokens) / this.refillPerSecond) * 1000);
  }

  get available(): number {
    this.refill();
    return this.tokens;
  }
}

/** Buckets keyed by a string (e.g. `${account}/${region}/${family}`), created on first use. */
export class BucketSet {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(private readonly now: () => number = () => performance.now()) {}

  get(key: string, capacity: number, refillPerSecond: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(capacity, refillPerSecond, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}
