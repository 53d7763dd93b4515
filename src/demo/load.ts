import { request } from 'node:http';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** One GET with a hard timeout; resolves with the body, rejects on any connection or HTTP error. */
export function httpGet(endpoint: Endpoint, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: endpoint.host, port: endpoint.port, path: '/', agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadReport {
  readonly sent: number;
  readonly ok: number;
  /** Requests whose every attempt (across replicas) failed: what a retrying client would see. */
  readonly clientVisibleFailures: number;
  /** Individual connection attempts that failed (a replica stopping, a stale endpoint). */
  readonly rawConnectionErrors: number;
  readonly durationMs: number;
}

/**
 * A client that keeps sending requests to the live replicas while the pool changes under it: it re-reads the
 * endpoints from the swarm's task list, and retries a failed request on the other replicas with a short backoff,
 * reading the endpoints again before each retry (like a client behind DNS round robin would).
 */
export class LoadLoop {
  private endpoints: Endpoint[] = [];
  private running = false;
  private sent = 0;
  private ok = 0;
  private failures = 0;
  private raw = 0;
  private started = 0;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly resolve: () => Promise<Endpoint[]>,
    private readonly options: { refreshMs?: number; attempts?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.endpoints = await this.resolve();
    this.running = true;
    this.started = performance.now();
    this.loops = [this.refreshLoop(), this.requestLoop()];
  }

  private async refreshLoop(): Promise<void> {
    while (this.running) {
      try {
        const next = await this.resolve();
        if (next.length > 0) this.endpoints = next;
      } catch {
        // keep the last known endpoints
      }
      await new Promise((r) => setTimeout(r, this.options.refreshMs ?? 200));
    }
  }

  private async requestLoop(): Promise<void> {
    let turn = 0;
    while (this.running) {
      this.sent += 1;
      const attempts = this.options.attempts ?? 3;
      let done = false;
      for (let attempt = 0; attempt < attempts && !done; attempt += 1) {
        const list = this.endpoints;
        const endpoint = list[(turn + attempt) % list.length];
        if (!endpoint) break;
        try {
          await httpGet(endpoint);
          done = true;
        } catch {
          this.raw += 1;
          if (attempt + 1 < attempts) {
            // As a retrying client does: back off (50, 100, 200 ms, ...) and look the replicas up again, which
            // may fail for a moment itself while the engine elects a leader.
            await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
            const fresh = await this.resolve().catch(() => list);
            if (fresh.length > 0) this.endpoints = fresh;
          }
        }
      }
      turn += 1;
      if (done) this.ok += 1;
      else this.failures += 1;
    }
  }

  async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    return {
      sent: this.sent,
      ok: this.ok,
      clientVisibleFailures: this.failures,
      rawConnectionErrors: this.raw,
      durationMs: Math.round(performance.now() - this.started),
    };
  }
}
