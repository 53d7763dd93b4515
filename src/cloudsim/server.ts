import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, issueCertificate } from '../bootstrap/pki.js';
import { writePrivateFile } from '../util/private-file.js';
import { createArmService } from './arm/service.js';
import { applyConnectionFault, takeConnectionFault } from './core/connection-faults.js';
import {
  bearerToken,
  generateCredentials,
  hostNames,
  type SimAuth,
  type SimCredentials,
  sameSecret,
} from './core/credentials.js';
import { SeededRandom } from './core/random.js';
import { BucketSet } from './core/token-bucket.js';
import {
  type CloudService,
  type FaultRule,
  type InventoryItem,
  Meter,
  type RateLimitSettings,
  type SimCloud,
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
  /**
   * With `backing: 'local'`: `flat` (default) puts every cloud's VMs on one bridge; `realistic` gives each cloud
   * network its own segment, 1:1 NAT to public addresses in 198.18.0.0/15 and its firewall rules as packet
   * filters; the host reaches VMs only at their public addresses (src/cloudsim/network/README.md).
   */
  readonly network?: 'flat' | 'realistic';
  readonly vmBacking?: VmBacking;
  /**
   * With the sim's own local backing: on SIGINT/SIGTERM remove the backing VMs and exit (default true). Set
   * false when you call stop() on those signals yourself.
   */
  readonly cleanupOnSignals?: boolean;
  /**
   * When set, state is loaded from this file at start (if present) and written back on stop() and persist(). It
   * holds user-data, so it is written readable by its owner only (0600).
   */
  readonly stateFile?: string;
  /** Credentials the sim accepts; each cloud left out gets fresh random ones (see `CloudSim.credentials`). */
  readonly credentials?: Partial<SimCredentials>;
  /** Bearer token of the admin API under `/_sim/`; default random. */
  readonly adminToken?: string;
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
  /** The only credentials this run accepts: EC2 access key, Compute Engine and ARM bearer tokens. */
  readonly credentials: SimCredentials;
  /**
   * Environment variables with which the skypool CLI, the official SDKs, awscli and gcloud-style tools reach this
   * sim: endpoints and credentials of all three clouds (NODE_EXTRA_CA_CERTS is the caller's to add, for a CA file
   * it wrote), plus `SKYPOOL_SIM_URL` / `SKYPOOL_SIM_ADMIN_TOKEN` for the admin API.
   */
  readonly env: Readonly<Record<string, string>>;
  /** `Authorization: Bearer <adminToken>` opens the admin API under `/_sim/`. */
  readonly adminToken: string;
  readonly settings: SimSettings;
  readonly meter: Meter;
  /** Every resource the simulated clouds hold. */
  inventory(): InventoryItem[];
  /** Adds a fault rule (capacity, quota, throttling...) the next matching calls hit. */
  addFault(rule: FaultRule): void;
  /** Removes every fault rule. */
  clearFaults(): void;
  /** Replaces the rate limit settings of the clouds given (scale, enabled); the others keep theirs. */
  setRateLimits(limits: Partial<SimSettings['rateLimits']>): void;
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

const CLOUDS = ['aws', 'gcp', 'azure'] as const;

function setRateLimits(settings: SimSettings, given: Partial<SimSettings['rateLimits']>): void {
  const limits = settings.rateLimits as Record<SimCloud, RateLimitSettings>;
  for (const cloud of CLOUDS) if (given[cloud]) limits[cloud] = { ...given[cloud] };
}

function matches(rule: FaultRule, m: Parameters<SimContext['takeFault']>[0]): boolean {
  if (rule.cloud !== m.cloud || rule.kind !== m.kind) return false;
  if (rule.zone && rule.zone !== m.zone) return false;
  if (rule.region && rule.region !== m.region) return false;
  if (rule.instanceType && rule.instanceType !== m.instanceType) return false;
  if (rule.request && !(m.request !== undefined && new RegExp(rule.request).test(m.request))) return false;
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

/** A host as it goes into a URL (IPv6 literals in brackets). */
const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** The default region the AWS variables name; every simulated region is served on the same endpoint. */
const AWS_DEFAULT_REGION = 'us-east-1';

function simEnvironment(httpUrl: string, httpsUrl: string, auth: SimAuth): Record<string, string> {
  const { aws, gcp, azure } = auth.credentials;
  return {
    AWS_ENDPOINT_URL_EC2: httpUrl,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    AWS_REGION: AWS_DEFAULT_REGION,
    AWS_DEFAULT_REGION,
    // gcloud's own override and token variables; the gcp provider reads both (providers/gcp/settings.ts).
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${httpUrl}/compute/v1/`,
    CLOUDSDK_AUTH_ACCESS_TOKEN: gcp.accessToken,
    SKYPOOL_AZURE_ENDPOINT: httpsUrl,
    AZURE_ACCESS_TOKEN: azure.accessToken,
    SKYPOOL_SIM_URL: httpUrl,
    SKYPOOL_SIM_ADMIN_TOKEN: auth.adminToken,
  };
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
    network: options.network ?? 'flat',
  };
  // The local provider loads only when asked for: the virtual backing must not need root.
  const ownBacking =
    settings.backing === 'local' && !options.vmBacking
      ? await (await import('./local-backing.js')).createLocalVmBacking({
          cleanupOnSignals: options.cleanupOnSignals ?? true,
          network: settings.network,
        })
      : undefined;
  const random = new SeededRandom(settings.seed);
  const meter = new Meter();
  const ownHosts: string[] = [];
  const hostSet = new Set<string>();
  const auth: SimAuth = {
    credentials: generateCredentials(options.credentials),
    adminToken: options.adminToken ?? randomBytes(24).toString('base64url'),
    ownHosts,
    isOwnHost: (name) => name !== undefined && hostSet.has(name.toLowerCase()),
  };
  const context: SimContext = {
    settings,
    random,
    buckets: new BucketSet(),
    meter,
    now: () => performance.now(),
    backing: options.vmBacking ?? ownBacking,
    auth,
    takeFault(m) {
      const rule = settings.faults.find((r) => matches(r, m));
      if (!rule) return undefined;
      if (rule.every !== undefined) {
        rule.seen = (rule.seen ?? 0) + 1;
        if (rule.seen % Math.max(1, Math.floor(rule.every)) !== 0) return undefined;
      }
      if (rule.probability !== undefined && !random.chance(rule.probability)) return undefined;
      if (rule.times !== undefined) rule.times -= 1;
      return rule;
    },
  };
  const services: CloudService[] = [createEc2Service(context), createGceService(context), createArmService(context)];
  context.backing?.observe?.(() => services.flatMap((s) => s.networkView?.() ?? []));

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
    await writePrivateFile(options.stateFile, JSON.stringify(state));
  };
  const inventory = () => services.flatMap((s) => s.inventory());

  const admin = async (request: SimRequest): Promise<SimResponse> => {
    const path = request.url.pathname;
    if (!auth.isOwnHost(request.headers.host))
      return json(421, { error: `Host '${request.headers.host ?? ''}' is not this sim; use ${ownHosts.join(' or ')}` });
    if (path === '/_sim/health') return json(200, { ok: true });
    // The admin API adds faults and lists user-data: only the holder of the admin token may use it.
    const token = bearerToken(request.headers.authorization);
    if (token === undefined || !sameSecret(token, auth.adminToken))
      return {
        ...json(401, { error: 'the admin API needs Authorization: Bearer <adminToken> (CloudSim.adminToken)' }),
        headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="cloudsim"' },
      };
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
    if (path === '/_sim/rate-limits' && request.method === 'GET') return json(200, { rateLimits: settings.rateLimits });
    if (path === '/_sim/rate-limits' && request.method === 'PUT') {
      const given = JSON.parse(request.body.toString('utf8')) as Partial<SimSettings['rateLimits']>;
      setRateLimits(settings, given);
      return json(200, { rateLimits: settings.rateLimits });
    }
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
      const broken = takeConnectionFault(context, service.cloud, request);
      if (broken) return await applyConnectionFault(context, service.cloud, broken, res, () => service.handle(request));
      send(res, await service.handle(request));
      context.backing?.changed?.();
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
  for (const name of [...hostNames(host, httpPort, 'http'), ...hostNames(host, httpsPort, 'https')]) {
    ownHosts.push(name);
    hostSet.add(name.toLowerCase());
  }
  // Keep-alive sockets of SDK clients would otherwise hold close() open.
  const closeServer = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  const httpUrl = `http://${urlHost(host)}:${httpPort}`;
  const httpsUrl = `https://${urlHost(host)}:${httpsPort}`;
  return {
    httpUrl,
    httpsUrl,
    host,
    httpPort,
    httpsPort,
    caCertPem: ca.certPem,
    credentials: auth.credentials,
    env: simEnvironment(httpUrl, httpsUrl, auth),
    adminToken: auth.adminToken,
    settings,
    meter,
    inventory,
    addFault: (rule) => void settings.faults.push(rule),
    setRateLimits: (limits) => setRateLimits(settings, limits),
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
