import { Agent, request as httpRequest } from 'node:http';
import { type AwsProvider, createProvider as createAws } from '../providers/aws/index.js';
import { type AzureProvider, createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import type { FaultRule, SimCloud } from '../src/cloudsim/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import type { Provider } from '../src/providers/types.js';
import { isConnectionDrop, retryIdempotentRead } from '../src/util/connection-drops.js';
import { ec2Post } from './support/ec2-signing.js';
import { simCredentials } from './support/sim-credentials.js';

/**
 * Connection-level faults of the sim (a reset before the answer, a body cut in half, a silent pause) against each
 * adapter's idempotent reads through the official SDKs: the read succeeds after the fault, and the sim saw the
 * fault fire once and the retried request succeed.
 */

type Kind = 'reset' | 'truncate' | 'stall-respond' | 'stall-reset';
const KINDS: readonly Kind[] = ['reset', 'truncate', 'stall-respond', 'stall-reset'];

function rule(cloud: SimCloud, kind: Kind, request: string): FaultRule {
  if (kind === 'stall-respond') return { cloud, kind: 'stall', request, stallMs: 300, after: 'respond', times: 1 };
  if (kind === 'stall-reset') return { cloud, kind: 'stall', request, stallMs: 300, after: 'reset', times: 1 };
  return { cloud, kind, request, times: 1 };
}

describe('cloudsim connection faults against every adapter', () => {
  let sim: CloudSim;
  let aws: AwsProvider;
  let gcp: Provider;
  let azure: AzureProvider;

  const count = (cloud: SimCloud, action: string, outcome?: string) =>
    sim.meter
      .snapshot()
      .filter((c) => c.cloud === cloud && c.action === action && (!outcome || c.outcome === outcome))
      .reduce((n, c) => n + c.count, 0);

  /** Arms one fault, runs the read, and checks the fault fired exactly once and the read was answered after it. */
  async function survives<T>(
    cloud: SimCloud,
    kind: Kind,
    request: string,
    action: string,
    read: () => Promise<T>,
  ): Promise<T> {
    const fault = rule(cloud, kind, request);
    const faultKind = `connection:${fault.kind}`;
    const firedBefore = count(cloud, faultKind);
    const okBefore = count(cloud, action, 'ok');
    sim.addFault(fault);
    try {
      const result = await read();
      expect({ kind, fired: count(cloud, faultKind) - firedBefore }).toEqual({ kind, fired: 1 });
      expect(fault.times).toBe(0);
      expect(count(cloud, action, 'ok') - okBefore).toBeGreaterThanOrEqual(1);
      return result;
    } finally {
      sim.clearFaults();
    }
  }

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50 });
    const creds = simCredentials(sim);
    aws = createAws({
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: creds.aws,
      pollIntervalMs: 20,
    });
    gcp = createGcp({
      project: 'conn-faults',
      region: 'us-central1',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: creds.gcp.accessToken,
      pollIntervalMs: 20,
    });
    const token = creds.azure.accessToken;
    azure = createAzure({
      subscriptionId: '6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
      region: 'eastus',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) },
      pollIntervalMs: 10,
    });
    // VMs are listed per resource group; the group must exist for the list to be answered (not a 404).
    await azure.ensureNetwork('cf-azure');
  });

  afterAll(async () => {
    sim?.clearFaults();
    await gcp?.deleteNetwork('cf-gcp').catch(() => undefined);
    await azure?.deleteNetwork('cf-azure').catch(() => undefined);
    await Promise.all([aws?.close?.(), gcp?.close?.(), azure?.close?.()]);
    await sim?.stop();
  });

  it.each(KINDS)('aws listInstances survives %s', async (kind) => {
    const listed = await survives('aws', kind, 'Action=DescribeInstances', 'DescribeInstances', () =>
      aws.listInstances('cf-aws'),
    );
    expect(listed).toEqual([]);
  });

  it.each(KINDS)('gcp listInstances survives %s', async (kind) => {
    const listed = await survives('gcp', kind, '^GET .*/aggregated/instances', 'instances.aggregatedList', () =>
      gcp.listInstances('cf-gcp'),
    );
    expect(listed).toEqual([]);
  });

  it.each(KINDS)('gcp operation wait survives %s', async (kind) => {
    // The network's insert Operation is waited for with operations.wait, which the fault breaks once.
    await survives('gcp', kind, '^POST .*/operations/[^/]+/wait', 'globalOperations.wait', async () => {
      await gcp.ensureNetwork('cf-gcp');
      await gcp.deleteNetwork('cf-gcp');
    });
  });

  it.each(KINDS)('azure listInstances survives %s', async (kind) => {
    // The NIC listing: every Azure listing reads it first (it names the group's VMs).
    const listed = await survives('azure', kind, '^GET .*/networkInterfaces', 'NetworkInterfaces_List', () =>
      azure.listInstances('cf-azure'),
    );
    expect(listed).toEqual([]);
  });

  it('takes connection faults through the admin API, matched by request, and a raw client sees the reset', async () => {
    const describe = (action: string) => ec2Post(sim, `Action=${action}&Version=2016-11-15`);
    const admin = { authorization: `Bearer ${sim.adminToken}` };
    const added = await fetch(`${sim.httpUrl}/_sim/faults`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ cloud: 'aws', kind: 'reset', request: 'Action=DescribeRegions', times: 1 }),
    });
    expect(added.status).toBe(201);
    try {
      // Another action is not matched by the rule.
      expect((await describe('DescribeAvailabilityZones')).status).toBe(200);
      const error = await describe('DescribeRegions').then(
        () => undefined,
        (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
      );
      expect(error).toBe('ECONNRESET');
      expect((await describe('DescribeRegions')).status).toBe(200);
      const listed = (await (await fetch(`${sim.httpUrl}/_sim/faults`, { headers: admin })).json()) as {
        faults: FaultRule[];
      };
      expect(listed.faults).toEqual([expect.objectContaining({ kind: 'reset', times: 0 })]);
    } finally {
      await fetch(`${sim.httpUrl}/_sim/faults`, { method: 'DELETE', headers: admin });
    }
  });

  it('repeats only reads whose connection dropped: not other errors, not a cancelled call', async () => {
    let calls = 0;
    const failing = (error: unknown) => () => {
      calls++;
      return Promise.reject(error);
    };
    const notFound = Object.assign(new Error('Not Found'), { code: 404 });
    await expect(retryIdempotentRead(failing(notFound))).rejects.toBe(notFound);
    expect(calls).toBe(1);
    calls = 0;
    const aborted = new DOMException('This operation was aborted', 'AbortError');
    await expect(retryIdempotentRead(failing(aborted))).rejects.toBe(aborted);
    expect(calls).toBe(1);
    calls = 0;
    const controller = new AbortController();
    controller.abort();
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    await expect(retryIdempotentRead(failing(reset), { signal: controller.signal })).rejects.toBe(reset);
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryIdempotentRead(failing(reset), { attempts: 3, baseDelayMs: 1 })).rejects.toBe(reset);
    expect(calls).toBe(3);
    expect(isConnectionDrop(new Error('Invalid response body while trying to fetch http://x/: aborted'))).toBe(true);
    expect(isConnectionDrop(new Error('socket hang up'))).toBe(true);
  });

  it('keeps an idle keep-alive connection usable after longer than Node’s default 5 s', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; reused: boolean; port: number }>((resolve, reject) => {
        const req = httpRequest(`${sim.httpUrl}/_sim/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, port: req.socket!.localPort! }),
          );
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await get();
      expect(first).toMatchObject({ status: 200, reused: false });
      // The idle time is the stimulus here, not a readiness guess: Node's own server default would close at 5 s.
      await new Promise((r) => setTimeout(r, 6_000));
      const second = await get();
      expect(second).toEqual({ status: 200, reused: true, port: first.port });
    } finally {
      agent.destroy();
    }
  }, 20_000);
});
