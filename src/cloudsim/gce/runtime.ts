import type { SimContext, SimResponse } from '../core/types.js';
import { GceState } from './state.js';

/** Settings of the simulated Compute Engine beyond the shared SimSettings. */
export interface GceServiceOptions {
  /**
   * Longest time `operations.wait` holds a request before answering with the still-running Operation.
   * The real API holds up to ~2 minutes; the simulator defaults to 2 s so clients exercise their wait loop.
   */
  readonly operationWaitMaxMs?: number;
  /** Requests per minute per project for each rate-quota group (defaults: see limits.ts). */
  readonly perMinute?: Partial<Record<'mutation' | 'read' | 'list' | 'operationRead', number>>;
  /** Finished operations remembered (for get and requestId replay); oldest forgotten first. */
  readonly maxOperations?: number;
}

/** What every handler needs: the shared context, the state, and id/time helpers. */
export class GceRuntime {
  readonly state = new GceState();
  /** Wall-clock milliseconds at `ctx.now() === 0`, to print timestamps and persist absolute times. */
  readonly wallBase: number;

  constructor(
    readonly ctx: SimContext,
    readonly options: Required<Omit<GceServiceOptions, 'perMinute'>> & Pick<GceServiceOptions, 'perMinute'>,
  ) {
    this.wallBase = Date.now() - ctx.now();
  }

  now(): number {
    return this.ctx.now();
  }

  private readonly sleepers = new Set<() => void>();

  /** A cancellable sleep for requests that hold (operations.wait); close() ends them all. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  close(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  get bootMs(): number {
    return Math.max(1, this.ctx.settings.bootTimeMs);
  }

  /** Time networks, subnetworks and firewalls take to become ready / instances to be deleted. */
  get shortMs(): number {
    return Math.max(1, Math.round(this.ctx.settings.bootTimeMs / 4));
  }

  /** A 19-digit unsigned id, as Compute Engine uses (serialized as a string: it is a uint64). */
  newId(): string {
    const r = this.ctx.random;
    return `${1 + Math.floor(r.next() * 8)}${String(Math.floor(r.next() * 1e9)).padStart(9, '0')}${String(Math.floor(r.next() * 1e9)).padStart(9, '0')}`;
  }

  opName(): string {
    const r = this.ctx.random;
    return `operation-${Math.floor(this.wallBase + this.now())}-${r.hex(13)}-${r.hex(8)}-${r.hex(8)}`;
  }

  /** RFC 3339 in US Pacific offset, the way Compute Engine prints creationTimestamp. */
  private readonly stamps = new Map<number, string>();

  timestamp(t: number): string {
    // VMs of one bulkInsert share their creation time: a small cache saves formatting it per VM on list pages.
    let s = this.stamps.get(t);
    if (s === undefined) {
      const d = new Date(this.wallBase + t - 7 * 3600_000);
      s = `${d.toISOString().slice(0, 23)}-07:00`;
      if (this.stamps.size >= 256) this.stamps.clear();
      this.stamps.set(t, s);
    }
    return s;
  }
}

export function ok(body: unknown): SimResponse {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: text };
}

/** A parsed Compute Engine request: project, path segments after `projects/<p>/`, query and JSON body. */
export interface GceCall {
  readonly method: string;
  readonly project: string;
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  /** Parsed JSON body (undefined when empty). */
  readonly body: unknown;
  /** Validated `requestId` query parameter. */
  readonly requestId?: string;
  /** Digest of method, path and body: tells a retry from a different request reusing a requestId. */
  readonly fingerprint: string;
}
