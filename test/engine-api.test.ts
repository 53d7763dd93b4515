/** The engine API port (2376/tcp) is open to the operator only unless the spec or CLI widens it; plan shows it. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, type ProgressEvent } from '../src/cluster/index.js';
import { SpecError } from '../src/errors.js';
import { parseSpec } from '../src/spec/load.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';

describe('engine API sources (aws pools on cloudsim)', () => {
  let sim: CloudSim;
  let work: string;
  const spec = (extra: Partial<ClusterSpecInput> = {}): ClusterSpecInput =>
    ({
      name: `api-${Math.random().toString(36).slice(2, 8)}`,
      engine: 'swarm',
      pools: [{ name: 'm', provider: 'aws', region: 'us-east-1', role: 'manager', count: 1, instanceType: 't3.micro' }],
      ...extra,
    }) as ClusterSpecInput;
  const open = (input: ClusterSpecInput, adminCidrs?: string[]) =>
    Cluster.fromSpec(input, {
      stateDir: join(work, 'state'),
      providers: {
        aws: { region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws, pollIntervalMs: 20 },
      },
      readyTimeoutMs: 2_000,
      ...(adminCidrs ? { adminCidrs } : {}),
    });

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50 });
    work = await mkdtemp(join(tmpdir(), 'skypool-engine-api-'));
  });
  afterAll(async () => {
    await sim.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('plan shows the operator address by default, the spec adminCidrs, and --admin-cidr over both', async () => {
    const clusters = [open(spec()), open(spec({ adminCidrs: ['198.51.100.0/24'] })), open(spec(), ['203.0.113.7'])];
    try {
      const plans = await Promise.all(clusters.map((c) => c.plan()));
      expect(plans.map((p) => p.engineApi)).toEqual([
        [{ provider: 'aws', sources: ['127.0.0.1/32'] }],
        [{ provider: 'aws', sources: ['198.51.100.0/24'] }],
        [{ provider: 'aws', sources: ['203.0.113.7/32'] }],
      ]);
    } finally {
      await Promise.all(clusters.map((c) => c.close()));
    }
  });

  it('apply warns when the engine API is open to the whole internet', async () => {
    const cluster = open(spec({ adminCidrs: ['0.0.0.0/0'] }));
    const events: ProgressEvent[] = [];
    const stop = new AbortController();
    cluster.onProgress((e) => {
      events.push(e);
      if (e.type === 'message' && e.level === 'warn') stop.abort(); // the warning is all this test needs
    });
    try {
      await cluster.apply({ signal: stop.signal }).catch(() => undefined);
      const warnings = events.filter((e) => e.type === 'message' && e.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(JSON.stringify(warnings[0])).toMatch(
        /engine API \(2376\/tcp\) of the aws nodes is open to the whole internet/,
      );
    } finally {
      await cluster.destroy().catch(() => undefined);
      await cluster.close();
    }
  });

  it('the spec refuses an adminCidrs entry that is not an IPv4 CIDR, naming it', () => {
    expect(() => parseSpec(spec({ adminCidrs: ['10.0.0.0/8', 'everyone'] }))).toThrow(SpecError);
    expect(() => parseSpec(spec({ adminCidrs: ['10.0.0.0/8', 'everyone'] }))).toThrow(/adminCidrs\[1\]|adminCidrs\.1/);
  });
});
