import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, issueCertificate } from '../bootstrap/pki.js';
import { createArmService } from './arm/service.js';
import { SeededRandom } from './core/random.js';
import { BucketSet } from './core/token-bucket.js';
import {
  type CloudService,
  type FaultRule,
  type InventoryItem,
  Meter,
  type SimContext,
  type SimRequest,
  type SimResponse,
  type SimSettings,
  type VmBacking,
} from './core/types.js';
import { createEc2Service } from './ec2/service.js';
import { createGceService } from './gce/service.js';

/** Options of `startCloudSim`. */
export interface CloudSimOptions {
  /** Port for plain http (EC2, Compute Engine, admin). 0 = any free port. */
  readonly httpPort?: number;
  /** Port for https (ARM; EC2 and GCE are served there too). 0 = any free port. */
  readonly httpsPort?: number;
  readonly host?: string;
  readonly seed?: number;
  readonly bootTimeMs?: number;
  readonly rateLimits?: Partial<SimSettings['rateLimits']>;
  readonly faults?: FaultRule[];
  /**
   * `local`: each VM really runs its user-data in a namespace VM of the local provider (root on Linux). Without
   * `vmBacking` the sim makes that backing itself and removes its VMs and bridge on stop().
   */
  readonly backing?: 'virtual' | 'local';
  readonly vmBacking?: VmBacking;
  /**
   * With the sim's own local backing: on SIGINT/SIGTERM remove the backing VMs and exit (default true). Set
   * false when you call stop() on those signals yourself.
   */
  readonly cleanupOnSignals?: boolean;
  /** When set, state is loaded from this file at start (if present) and written back on stop() and persist(). */
  readonly stateFile?: string;
}

/** A running cloudsim: its endpoints, CA, meter and admin calls. */
export interface CloudSim {
  /** `http://host:port` for EC2 (`new EC2Client({ endpoint })`) and the admin API under `/_sim/`. */
  readonly httpUrl: string;
  /** `https://host:port` for ARM (`{ endpoint }`); trust `caCertPem` (NODE_EXTRA_CA_CERTS or tlsOptions.ca). */
  readonly httpsUrl: string;
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PEM of the CA that signed the https certificate. Public; safe to write anywhere. */
  readonly caCertPem: string;
  readonly settings: SimSettings;
  readonly meter: Meter;
  /** Every resource the simulated clouds hold. */
  inventory(): InventoryItem[];
  /** Adds a fault rule (capacity, quota, throttling...) the next matching calls hit. */
  addFault(rule: FaultRule): void;
  /** Removes every fault rule. */
  clearFaults(): void;
  /** Writes the state to `stateFile` now (a no-op without one). */
  persist(): Promise<void>;
  /** Persists, closes every connection and removes the VMs of a backing the sim made. */
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, response: SimResponse): void {
  res.writeHead(response.status, response.headers ?? {});
  res.end(response.body ?? '');
}

function json(status: number, body: unknown): SimResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function matches(rule: FaultRule, m: Parameters<SimContext['takeFault']>[0]): boolean {
  if (rule.cloud !== m.cloud || rule.kind !== m.kind) return false;
  if (rule.zone && rule.zone !== m.zone) return false;
  if (rule.region && rule.region !== m.region) return false;
  if (rule.instanceType && rule.instanceType !== m.instanceType) return false;
  return rule.times === undefined || rule.times > 0;
}

/**
 * Real API front ends hold idle keep-alive connections for minutes (Google's 610 s, AWS and Azure load balancers
 * at least 60-240 s); Node's default of 5 s makes a client that reuses an idle socket race the server's close and
 * fail with `read ECONNRESET`. The sim holds them as long as the most patient front end.
 */
export const IDLE_KEEP_ALIVE_MS = 610_000;

function keepIdleConnectionsLikeCloudFrontEnds(server: Server): void {
  server.keepAliveTimeout = IDLE_KEEP_ALIVE_MS;
  // headersTimeout bounds the wait for a request's headers on a fresh or reused socket; keep it the larger.
  server.headersTimeout = IDLE_KEEP_ALIVE_MS + 1_000;
}

/** Starts the simulated clouds on loopback. */
export async function startCloudSim(options: CloudSimOptions = {}): Promise<CloudSim> {
  const host = options.host ?? '127.0.0.1';
  const settings: SimSettings = {
    seed: options.seed ?? 1,
    bootTimeMs: options.bootTimeMs ?? 200,
    rateLimits: { aws: {}, gcp: {}, azure: {}, ...options.rateLimits },
    faults: [...(options.faults ?? [])],
    backing: options.backing ?? 'virtual',
  };
  // The local provider loads only when asked for: the virtual backing must not need root.
  const ownBacking =
    settings.backing === 'local' && !options.vmBacking
      ? await (await import('./local-backing.js')).createLocalVmBacking({
          cleanupOnSignals: options.cleanupOnSignals ?? true,
        })
      : undefined;
  const random = new SeededRandom(settings.seed);
  const meter = new Meter();
  const context: SimContext = {
    settings,
    random,
    buckets: new BucketSet(),
    meter,
    now: () => performance.now(),
    backing: options.vmBacking ?? ownBacking,
    takeFault(m) {
      const rule = settings.faults.find((r) => matches(r, m));
      if (!rule) return undefined;
      if (rule.probability !== undefined && !random.chance(rule.probability)) return undefined;
      if (rule.times !== undefined) rule.times -= 1;
      return rule;
    },
  };
  const services: CloudService[] = [createEc2Service(context), createGceService(context), createArmService(context)];

  if (options.stateFile) {
    const saved = await readFile(options.stateFile, 'utf8').then(
      JSON.parse as (s: string) => Record<string, unknown>,
      () => undefined,
    );
    if (saved)
      for (const service of services) if (saved[service.cloud] !== undefined) service.restore(saved[service.cloud]);
  }
  const persist = async () => {
    if (!options.stateFile) return;
    const state = Object.fromEntries(services.map((s) => [s.cloud, s.snapshot()]));
    await writeFile(options.stateFile, JSON.stringify(state));
  };
  const inventory = () => services.flatMap((s) => s.inventory());

  const admin = async (request: SimRequest): Promise<SimResponse> => {
    const path = request.url.pathname;
    if (path === '/_sim/inventory' && request.method === 'GET') return json(200, { resources: inventory() });
    if (path === '/_sim/calls' && request.method === 'GET') return json(200, { calls: meter.snapshot() });
    if (path === '/_sim/calls' && request.method === 'DELETE') {
      meter.reset();
      return json(200, {});
    }
    if (path === '/_sim/faults' && request.method === 'GET') return json(200, { faults: settings.faults });
    if (path === '/_sim/faults' && request.method === 'POST') {
      settings.faults.push(JSON.parse(request.body.toString('utf8')) as FaultRule);
      return json(201, { faults: settings.faults });
    }
    if (path === '/_sim/faults' && request.method === 'DELETE') {
      settings.faults.length = 0;
      return json(200, {});
    }
    if (path === '/_sim/health') return json(200, { ok: true });
    return json(404, { error: `no admin route ${request.method} ${path}` });
  };

  const handler = (scheme: 'http' | 'https') => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const body = await readBody(req);
      const origin = `${scheme}://${req.headers.host ?? host}`;
      const request: SimRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', origin),
        headers: req.headers,
        body,
        scheme,
        origin,
      };
      if (request.url.pathname.startsWith('/_sim/')) return send(res, await admin(request));
      const service = services.find((s) => s.claims(request));
      if (!service)
        return send(
          res,
          json(404, { error: `cloudsim: no simulated API serves ${request.method} ${request.url.pathname}` }),
        );
      const latency = context.takeFault({ cloud: service.cloud, kind: 'latency' });
      if (latency?.latencyMs) await new Promise((r) => setTimeout(r, latency.latencyMs));
      send(res, await service.handle(request));
    } catch (error) {
      // The simulator must never crash on bad input; an unexpected bug becomes a 500 the client can see.
      send(res, json(500, { error: 'cloudsim internal error', message: (error as Error).message }));
    }
  };

  const ca = await createCertificateAuthority('skypool cloudsim CA');
  const leaf = await issueCertificate(ca, {
    commonName: 'cloudsim',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: [host],
  });
  const httpServer = createHttpServer(handler('http'));
  const httpsServer = createHttpsServer(
    { cert: `${leaf.certPem.trimEnd()}\n${ca.certPem}`, key: leaf.keyPem },
    handler('https'),
  );
  for (const server of [httpServer, httpsServer]) keepIdleConnectionsLikeCloudFrontEnds(server);
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  let httpPort: number;
  let httpsPort: number;
  try {
    httpPort = await listen(httpServer, options.httpPort ?? 0);
    httpsPort = await listen(httpsServer, options.httpsPort ?? 0);
  } catch (error) {
    httpServer.close();
    await ownBacking?.close();
    throw error;
  }
  // Keep-alive sockets of SDK clients would otherwise hold close() open.
  const closeServer = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    httpUrl: `http://${host}:${httpPort}`,
    httpsUrl: `https://${host}:${httpsPort}`,
    host,
    httpPort,
    httpsPort,
    caCertPem: ca.certPem,
    settings,
    meter,
    inventory,
    addFault: (rule) => void settings.faults.push(rule),
    clearFaults: () => void (settings.faults.length = 0),
    persist,
    async stop() {
      await persist();
      await Promise.all(services.map((s) => s.close?.()));
      await Promise.all([closeServer(httpServer), closeServer(httpsServer)]);
      await ownBacking?.close();
    },
  };
}
