import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { ClusterContext } from '../src/cluster/context.js';
import { Cluster, type ClusterOptions } from '../src/cluster/index.js';
import { TAG_KEYS } from '../src/providers/types.js';
import { parseSpec } from '../src/spec/load.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';

/** mulberry32: every run makes the same trials. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 1402;
const silent = pino({ level: 'silent' });
const TRIALS = 10;

interface Trial {
  readonly trial: number;
  readonly cluster: string;
  readonly killAfterMs: number;
  readonly killed: boolean;
  readonly vms: number;
  readonly duplicates: number;
  readonly orphans: number;
}

// SIGKILL of the provider half of `up` (networks, launches, waits) at seeded moments, on cloudsim with two
// clouds, random 5xx faults and throttling; a rerun must converge to exactly the spec's VMs (deterministic
// idempotency tokens, duplicates removed), and destroy must leave nothing tagged with the cluster.
describe('chaos: SIGKILL during up, then rerun and destroy (cloudsim, aws and gcp)', () => {
  let sim: CloudSim;
  let work: string;

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 100, seed: SEED, rateLimits: { aws: { scale: 0.5 } } });
    work = await mkdtemp(join(tmpdir(), 'skypool-chaos-'));
  });

  afterAll(async () => {
    await sim?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const providers = (): ClusterOptions['providers'] => ({
    aws: {
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
      pollIntervalMs: 20,
      deleteTimeoutMs: 30_000,
    },
    gcp: {
      project: 'skypool-chaos',
      region: 'us-central1',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
      pollIntervalMs: 20,
    },
  });
  const specOf = (name: string): ClusterSpecInput => ({
    name,
    engine: 'swarm',
    pools: [
      { name: 'm', provider: 'aws', role: 'manager', count: 1, region: 'us-east-1', instanceType: 't3.micro' },
      { name: 'w', provider: 'aws', role: 'worker', count: 2, region: 'us-east-1', instanceType: 't3.micro' },
      { name: 'g', provider: 'gcp', role: 'worker', count: 2, region: 'us-central1', instanceType: 'e2-small' },
    ],
  });
  const up = (name: string, stateDir: string, killAfterMs?: number) =>
    new Promise<{ killed: boolean; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [
        join(process.cwd(), 'test/support/chaos-up.mjs'),
        JSON.stringify({ spec: specOf(name), stateDir, providers: providers() }),
      ]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      let killed = false;
      const timer =
        killAfterMs === undefined
          ? undefined
          : setTimeout(() => {
              killed = child.exitCode === null;
              child.kill('SIGKILL');
            }, killAfterMs);
      child.on('exit', () => {
        if (timer) clearTimeout(timer);
        resolve({ killed, out, err });
      });
    });
  const tagged = (name: string) => sim.inventory().filter((r) => r.tags?.[TAG_KEYS.cluster] === name);
  const isLive = (state: string | undefined) => !/^(terminated|TERMINATED|deleting|shutting-down)$/.test(state ?? '');
  const calls = () => sim.meter.snapshot().reduce((n, c) => n + c.count, 0);

  it(`converges after ${TRIALS} seeded SIGKILLs: no duplicate, no orphan`, async () => {
    const random = prng(SEED);
    const trials: Trial[] = [];
    const callsBefore = calls();
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const name = `chaos${trial}`;
      const stateDir = join(work, `state-${trial}`);
      await mkdir(stateDir, { recursive: true });
      sim.addFault({ cloud: 'aws', kind: 'server-error', probability: 0.05 });
      sim.addFault({ cloud: 'gcp', kind: 'server-error', probability: 0.05 });
      const killAfterMs = Math.round(200 + random() * 2500);
      const first = await up(name, stateDir, killAfterMs);
      const rerun = await up(name, stateDir);
      sim.clearFaults();
      // stderr carries SDK warnings; it is shown only when the rerun did not converge.
      const converged = rerun.out === 'converged\n';
      expect({ trial, converged, err: converged ? '' : rerun.err.slice(-800) }).toEqual({
        trial,
        converged: true,
        err: '',
      });
      const vms = tagged(name).filter((r) => ['instance'].includes(r.type) && isLive(r.state));
      const cluster = Cluster.fromSpec(specOf(name), { stateDir, providers: providers() });
      // Names the clouds list for the cluster: a name twice is a duplicate.
      const lister = new ClusterContext(parseSpec(specOf(name)), { stateDir, providers: providers() }, silent);
      const listed = (await lister.inventory().finally(() => lister.close())).map((i) => i.name);
      try {
        await cluster.destroy();
      } finally {
        await cluster.close();
      }
      const orphans = tagged(name).filter((r) => isLive(r.state)).length;
      trials.push({
        trial,
        cluster: name,
        killAfterMs,
        killed: first.killed,
        vms: vms.length,
        duplicates: listed.length - new Set(listed).size + Math.max(0, vms.length - 5),
        orphans,
      });
    }
    const summary = {
      trials: trials.length,
      duplicates: trials.reduce((n, t) => n + t.duplicates, 0),
      orphans: trials.reduce((n, t) => n + t.orphans, 0),
      calls: calls() - callsBefore,
      seed: SEED,
      killed: trials.filter((t) => t.killed).length,
      perTrial: trials,
    };
    await mkdir(join(process.cwd(), 'bench/results'), { recursive: true });
    await writeFile(join(process.cwd(), 'bench/results/chaos.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(
      `chaos: ${summary.trials} trials (${summary.killed} killed mid-run), ${summary.duplicates} duplicates, ${summary.orphans} orphans, ${summary.calls} cloud calls`,
    );
    expect(trials.map((t) => t.vms)).toEqual(trials.map(() => 5));
    expect(summary.duplicates).toBe(0);
    expect(summary.orphans).toBe(0);
    expect(summary.killed).toBeGreaterThan(0);
  }, 400_000);
});
