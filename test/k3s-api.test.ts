import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type CertificateBundle, createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { kubeError, retryAfterMs, targetOf } from '../src/engines/k3s/api.js';
import { K3sDriver } from '../src/engines/k3s/index.js';
import { SkypoolError } from '../src/errors.js';
import { within } from '../src/util/poll.js';

/**
 * The k3s driver against a local HTTPS server (loopback) that demands a client certificate of the cluster CA and
 * answers the driver's calls with the Kubernetes API's JSON (test/fixtures/k3s). The requests it made (verb,
 * path, content type, body) and what the driver made of the answers are asserted. No k3s runs here.
 */

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/k3s/${name}.json`, import.meta.url), 'utf8'));

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly contentType?: string;
  readonly body?: unknown;
  readonly clientCn?: string;
}
interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}
type Route = (request: Recorded) => Reply | undefined;

let ca: CertificateBundle;
let client: CertificateBundle;
let server: Server;
let port: number;
let requests: Recorded[] = [];
let routes: Route[] = [];

const on =
  (method: string, url: string | RegExp, ...replies: Reply[]): Route =>
  (request) => {
    const matches = typeof url === 'string' ? request.url === url : url.test(request.url);
    if (request.method !== method || !matches || replies.length === 0) return undefined;
    return replies.length > 1 ? replies.shift() : replies[0];
  };
const ok = (body: unknown, status = 200): Reply => ({ status, body });
const manager = { name: 'k-m-1', host: '127.0.0.1' };

function driver(tls = { caPem: '', client }): K3sDriver {
  return new K3sDriver('f'.repeat(64), { ...tls, caPem: ca.certPem }, () => ({
    server: `https://127.0.0.1:${port}`,
    caPem: ca.certPem,
  }));
}

beforeAll(async () => {
  ca = await createCertificateAuthority('k3s-api-test');
  client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
  const serving = await issueCertificate(ca, {
    commonName: 'k-m-1',
    usage: 'server',
    dnsNames: ['k-m-1'],
    ipAddresses: ['127.0.0.1'],
  });
  server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const recorded: Recorded = {
          method: req.method ?? '',
          url: req.url ?? '',
          ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
          ...(text ? { body: JSON.parse(text) } : {}),
          ...(peer?.subject?.CN ? { clientCn: String(peer.subject.CN) } : {}),
        };
        requests.push(recorded);
        const reply = routes.map((r) => r(recorded)).find((r) => r !== undefined) ?? {
          status: 404,
          body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 },
        };
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(JSON.stringify(reply.body));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = [];
  routes = [];
});

describe('k3s driver: nodes', () => {
  it('lists nodes with their Ready state, role, cordon and skypool labels, over mTLS', async () => {
    routes = [on('GET', '/api/v1/nodes', ok(fixture('node-list')))];
    const nodes = await driver().listNodes(manager);
    expect(requests).toEqual([{ method: 'GET', url: '/api/v1/nodes', clientCn: 'skypool-client' }]);
    expect(nodes.map((n) => [n.name, n.role, n.state, n.availability, n.engineState, n.address])).toEqual([
      ['k-m-1', 'manager', 'ready', 'active', 'Ready', '100.64.0.2'],
      ['k-w-1', 'worker', 'ready', 'active', 'Ready', '100.65.0.3'],
      ['k-w-2', 'worker', 'down', 'pause', 'NotReady,SchedulingDisabled', '100.66.0.4'],
      ['k-w-3', 'worker', 'disconnected', 'drain', 'Unknown,SchedulingDisabled', '100.65.0.5'],
    ]);
    expect(nodes[1]!.labels).toEqual({ provider: 'gcp', pool: 'workers', tier: 'web' });
    expect(nodes[0]!.leader).toBe(true);
    expect(nodes[0]!.id).toBe('k-m-1');
  });

  it('labels a node with a merge patch only when a label changes', async () => {
    routes = [
      on('GET', '/api/v1/nodes/k-w-1', ok(fixture('node'))),
      on('PATCH', '/api/v1/nodes/k-w-1', ok(fixture('node'))),
    ];
    const k3s = driver();
    expect(await k3s.setNodeLabels(manager, 'k-w-1', { pool: 'workers', tier: 'web' })).toBe(false);
    expect(requests.map((r) => r.method)).toEqual(['GET']);
    expect(await k3s.setNodeLabels(manager, 'k-w-1', { pool: 'workers', tier: 'db', zone: 'b' })).toBe(true);
    expect(requests[2]).toMatchObject({
      method: 'PATCH',
      url: '/api/v1/nodes/k-w-1',
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { 'skypool.io/tier': 'db', 'skypool.io/zone': 'b' } } },
    });
  });

  it('drains: cordons (marked drained), evicts all but DaemonSet, mirror and finished pods, retries a 429 after Retry-After, waits until they left', async () => {
    const evictions = /^\/api\/v1\/namespaces\/default\/pods\/[^/]+\/eviction$/;
    routes = [
      on('PATCH', '/api/v1/nodes/k-w-1', ok(fixture('node'))),
      on(
        'GET',
        '/api/v1/pods?fieldSelector=spec.nodeName%3Dk-w-1',
        ok(fixture('pod-list-on-node')),
        ok(fixture('pod-list-on-node')),
        ok(fixture('pod-list-drained')),
      ),
      on(
        'POST',
        evictions,
        ok(fixture('eviction-created'), 201),
        { status: 429, body: fixture('status-429-eviction'), headers: { 'Retry-After': '1' } },
        ok(fixture('eviction-created'), 201),
      ),
    ];
    const started = Date.now();
    const result = await driver().drainNode(manager, 'k-w-1', within(20_000));
    expect(result).toMatchObject({ node: 'k-w-1', movedTasks: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(requests[0]).toMatchObject({
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { spec: { unschedulable: true }, metadata: { annotations: { 'skypool.io/drained': 'true' } } },
    });
    const posted = requests.filter((r) => r.method === 'POST');
    expect(posted.map((r) => r.url)).toEqual([
      '/api/v1/namespaces/default/pods/web-7c9f8d6b5-x2k4q/eviction',
      '/api/v1/namespaces/default/pods/web-7c9f8d6b5-m8r2t/eviction',
      '/api/v1/namespaces/default/pods/web-7c9f8d6b5-m8r2t/eviction',
    ]);
    expect(posted[0]!.body).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'web-7c9f8d6b5-x2k4q', namespace: 'default' },
    });
  });

  it('a drain whose eviction stays refused past the deadline is a TimeoutError naming the pod', async () => {
    routes = [
      on('PATCH', '/api/v1/nodes/k-w-1', ok(fixture('node'))),
      on('GET', /^\/api\/v1\/pods\?/, ok(fixture('pod-list-on-node'))),
      on('POST', /eviction$/, { status: 429, body: fixture('status-429-eviction'), headers: { 'Retry-After': '30' } }),
    ];
    const error = await driver()
      .drainNode(manager, 'k-w-1', within(2_000))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect((error as Error).message).toMatch(/default\/web-7c9f8d6b5-x2k4q is still refused .*disruption budget/);
  });

  it('deletes a node (a 404 means gone already) and refuses the only server', async () => {
    routes = [
      on('GET', '/api/v1/nodes', ok(fixture('node-list'))),
      on('DELETE', '/api/v1/nodes/k-w-2', ok(fixture('status-node-deleted'))),
      on('DELETE', '/api/v1/nodes/k-w-3', { status: 404, body: fixture('status-404-node') }),
    ];
    const k3s = driver();
    await k3s.removeNode(manager, 'k-w-2');
    await k3s.removeNode(manager, 'k-w-3');
    await k3s.removeNode(manager, 'k-w-9'); // not a member: nothing to do
    expect(requests.filter((r) => r.method === 'DELETE').map((r) => r.url)).toEqual([
      '/api/v1/nodes/k-w-2',
      '/api/v1/nodes/k-w-3',
    ]);
    await expect(k3s.removeNode(manager, 'k-m-1')).rejects.toThrow(/only server/);
  });

  it('waits until an agent is Ready, asking the server it last talked to', async () => {
    const notYet = fixture('node-list') as { items: { metadata: { name: string } }[] };
    const without = { ...notYet, items: notYet.items.filter((n) => n.metadata.name !== 'k-w-1') };
    routes = [on('GET', '/api/v1/nodes', ok(without), ok(fixture('node-list')))];
    const k3s = driver();
    await k3s.waitReady(manager, 'manager', within(5_000));
    await k3s.waitReady({ name: 'k-w-1', host: '100.65.0.3' }, 'worker', within(5_000));
    expect(requests.length).toBe(2);
    await expect(k3s.waitReady({ name: 'k-w-2', host: 'x' }, 'worker', within(600))).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });
});

describe('k3s driver: services as Deployments', () => {
  const web = {
    name: 'web',
    image: 'nginx:1.27',
    replicas: 2,
    port: 80,
    constraints: ['node.labels.pool==workers'],
    env: { MODE: 'prod' },
  };

  it('creates a Deployment, or replaces it at its resourceVersion when it exists', async () => {
    routes = [
      on('POST', '/apis/apps/v1/namespaces/default/deployments', ok(fixture('deployment'), 201), {
        status: 409,
        body: fixture('status-409-exists'),
      }),
      on('GET', '/apis/apps/v1/namespaces/default/deployments/web', ok(fixture('deployment'))),
      on('PUT', '/apis/apps/v1/namespaces/default/deployments/web', ok(fixture('deployment'))),
    ];
    const k3s = driver();
    await k3s.services.runService(manager, web);
    expect(requests[0]!.body).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'default',
        labels: { 'skypool.io/service': 'web', 'app.kubernetes.io/managed-by': 'skypool' },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: { 'skypool.io/service': 'web' } },
        template: {
          metadata: { labels: { 'skypool.io/service': 'web' } },
          spec: {
            nodeSelector: { 'skypool.io/pool': 'workers' },
            containers: [
              {
                name: 'web',
                image: 'nginx:1.27',
                ports: [{ containerPort: 80 }],
                env: [{ name: 'MODE', value: 'prod' }],
              },
            ],
          },
        },
      },
    });
    await k3s.services.runService(manager, { ...web, replicas: 3 });
    expect(requests.slice(1).map((r) => r.method)).toEqual(['POST', 'GET', 'PUT']);
    expect(requests[3]!.body).toMatchObject({ metadata: { resourceVersion: '1175' }, spec: { replicas: 3 } });
  });

  it('a 409 Conflict on replace (changed meanwhile) is a retryable ENGINE_ERROR', async () => {
    routes = [
      on('POST', /deployments$/, { status: 409, body: fixture('status-409-exists') }),
      on('GET', /deployments\/web$/, ok(fixture('deployment'))),
      on('PUT', /deployments\/web$/, { status: 409, body: fixture('status-409-conflict') }),
    ];
    const error = await driver()
      .services.runService(manager, web)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'ENGINE_ERROR',
      retryable: true,
      details: { status: 409, reason: 'Conflict' },
    });
    expect((error as Error).message).toMatch(/the object has been modified/);
  });

  it('scales through the scale subresource and reports status from the Deployment and its pods', async () => {
    routes = [
      on('PATCH', '/apis/apps/v1/namespaces/default/deployments/web/scale', ok(fixture('scale'))),
      on(
        'GET',
        '/apis/apps/v1/namespaces/default/deployments?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dskypool',
        ok(fixture('deployment-list')),
      ),
      on('GET', '/apis/apps/v1/namespaces/default/deployments/web', ok(fixture('deployment'))),
      on(
        'GET',
        '/api/v1/namespaces/default/pods?labelSelector=skypool.io%2Fservice%3Dweb',
        ok(fixture('pod-list-on-node')),
      ),
    ];
    const k3s = driver();
    await k3s.scaleService(manager, 'web', 5);
    expect(requests[0]).toMatchObject({
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 5 } },
    });
    const [status] = await k3s.services.services(manager);
    expect(status).toMatchObject({
      name: 'web',
      image: 'nginx:1.27',
      desiredReplicas: 2,
      runningReplicas: 2,
      targetPort: 80,
    });
    expect(status!.tasks[0]).toMatchObject({ node: 'k-w-1', state: 'running', address: '10.42.1.7' });
    const ready = await k3s.waitService(manager, 'web', within(5_000));
    expect(ready.runningReplicas).toBe(2);
  });
});

describe('k3s driver: errors and trust', () => {
  it('maps 401, 404, 409 and 429 (Retry-After) to typed errors', async () => {
    routes = [on('GET', '/api/v1/nodes', { status: 401, body: fixture('status-401') })];
    await expect(driver().listNodes(manager)).rejects.toMatchObject({
      code: 'ENGINE_ERROR',
      retryable: false,
      details: { status: 401 },
      message: expect.stringContaining('client-ca-file'),
    });
    routes = [on('GET', '/api/v1/nodes/k-w-9', { status: 404, body: fixture('status-404-node') })];
    await expect(driver().setNodeLabels(manager, 'k-w-9', { a: 'b' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('nodes "k-w-9" not found'),
    });
    routes = [
      on('GET', '/api/v1/nodes', {
        status: 429,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'Too many requests, please try again later.',
          reason: 'TooManyRequests',
          details: { retryAfterSeconds: 3 },
          code: 429,
        },
        headers: { 'Retry-After': '3' },
      }),
    ];
    await expect(driver().listNodes(manager)).rejects.toMatchObject({
      code: 'THROTTLED',
      retryable: true,
      details: { status: 429, retryAfterMs: 3000 },
    });
    const conflict = kubeError('x', 'n', {
      code: 409,
      body: JSON.stringify(fixture('status-409-conflict')),
      headers: {},
    });
    expect(conflict).toMatchObject({ code: 'ENGINE_ERROR', retryable: true });
    expect(retryAfterMs('Wed, 03 Dec 2026 06:00:05 GMT', Date.parse('2026-12-03T06:00:00Z'))).toBe(5000);
  });

  it('a client certificate of another CA never reaches the API (TLS refuses it)', async () => {
    const other = await createCertificateAuthority('not-the-cluster');
    const stranger = await issueCertificate(other, { commonName: 'skypool-client', usage: 'client' });
    routes = [on('GET', '/api/v1/nodes', ok(fixture('node-list')))];
    const error = await driver({ caPem: '', client: stranger })
      .listNodes(manager)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SkypoolError);
    expect(requests).toEqual([]);
  });

  it('trusts a pinned server CA checked against the node name, not the address', async () => {
    const k3sCa = await createCertificateAuthority('k3s-server-ca@k-m-1');
    const serving = await issueCertificate(k3sCa, { commonName: 'k3s', usage: 'server', dnsNames: ['k-m-1'] });
    const pinned = createServer(
      { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(fixture('node-list')));
      },
    );
    await new Promise<void>((resolve) => pinned.listen(0, '127.0.0.1', resolve));
    try {
      const pinnedPort = (pinned.address() as AddressInfo).port;
      const at = (name: string) =>
        new K3sDriver('t', { caPem: ca.certPem, client }, (e) => ({
          ...targetOf({ ...e, apiCaPem: k3sCa.certPem }, ca.certPem),
          server: `https://127.0.0.1:${pinnedPort}`,
          serverName: name,
        }));
      expect(await at('k-m-1').listNodes({ name: 'k-m-1', host: '127.0.0.1' })).toHaveLength(4);
      await expect(at('k-m-2').listNodes({ name: 'k-m-2', host: '127.0.0.1' })).rejects.toThrow(
        /k-m-2|altname|certificate/i,
      );
    } finally {
      pinned.closeAllConnections();
      await new Promise<void>((resolve) => pinned.close(() => resolve()));
    }
    expect(targetOf({ name: 'k-m-1', host: '10.0.0.2', apiCaPem: 'PIN' }, 'CA')).toEqual({
      server: 'https://10.0.0.2:6443',
      caPem: 'PIN',
      serverName: 'k-m-1',
    });
  });
});
