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
  /** Orphans by resource type (instance, volume, disk, network, ...), when there are any. */
  readonly orphanTypes: Readonly<Record<string, number>>;
}

/** Two `up` of one cluster from two state dirs at the same moment. */
interface Race {
  readonly race: number;
  readonly cluster: string;
  /** Milliseconds the second process started after the first. */
  readonly offsetMs: number;
  readonly converged: readonly [boolean, boolean];
  /** The error a process that did not converge ended with (its last stderr line), for the report. */
  readonly failures: readonly string[];
  readonly vms: number;
  readonly duplicates: number;
  readonly orphans: number;
  readonly orphanTypes: Readonly<Record<string, number>>;
}

const RACES = 3;
const SPEC_VMS = 5;

/** What a child's stderr says after its last `Error` (SDK warnings come before it), on one line. */
function lastErrorLine(err: string): string {
  const at = err.lastIndexOf('Error');
  return (at < 0 ? err : err.slice(Math.max(0, err.lastIndexOf('\n', at)))).replace(/\s+/g, ' ').trim().slice(0, 400);
}

/**
 * Known broken (issue 14, "two operators racing create two VPCs"): both processes may create the cluster's AWS
 * network (find-or-create is not atomic in the aws adapter), and destroy removes one. Such leftovers are counted in
 * the summary but do not fail the race test; any other orphan does.
 */
const RACED_NETWORK = new Set(['vpc', 'subnet', 'security-group', 'internet-gateway', 'route-table']);

/** Counts per resource type. */
function byType(items: ReadonlyArray<{ type: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i.type] = (out[i.type] ?? 0) + 1;
  return out;
}

// SIGKILL of the provider half of `up` (networks, launches, waits) at seeded moments, on cloudsim with two
// clouds, random 5xx faults and throttling; a rerun must converge to exactly the spec's VMs (deterministic
// idempotency tokens, duplicates removed), and destroy must leave nothing tagged with the cluster.
describe('chaos: SIGKILL during up, then rerun and destroy (cloudsim, aws and gcp)', () => {
  let sim: CloudSim;
  let work: string;
  let callsBefore = 0;
  const trials: Trial[] = [];
  const races: Race[] = [];

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 100, seed: SEED, rateLimits: { aws: { scale: 0.5 } } });
    work = await mkdtemp(join(tmpdir(), 'skypool-chaos-'));
  });

  afterAll(async () => {
    // The summary covers whatever ran, so a failing trial still leaves its figures behind.
    if (sim && (trials.length || races.length)) await writeSummary();
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
  // The cluster's resources of every type: tagged with it, or made implicitly with a VM that was (boot disks carry
  // no VM tags on GCE and Azure; the sim records where they came from).
  const tagged = (name: string) =>
    sim.inventory().filter((r) => r.tags?.[TAG_KEYS.cluster] === name || r.origin?.tags?.[TAG_KEYS.cluster] === name);
  const isLive = (state: string | undefined) =>
    !/^(terminated|TERMINATED|deleting|Deleting|shutting-down)$/.test(state ?? '');
  const liveVms = (name: string) => tagged(name).filter((r) => r.type === 'instance' && isLive(r.state));
  /** Names the clouds list for the cluster (a name twice is a duplicate). */
  const listedNames = async (name: string, stateDir: string) => {
    const lister = new ClusterContext(parseSpec(specOf(name)), { stateDir, providers: providers() }, silent);
    return (await lister.inventory().finally(() => lister.close())).map((i) => i.name);
  };
  const destroy = async (name: string, stateDir: string) => {
    const cluster = Cluster.fromSpec(specOf(name), { stateDir, providers: providers() });
    try {
      await cluster.destroy();
    } finally {
      await cluster.close();
    }
  };
  const leftovers = (name: string) => tagged(name).filter((r) => isLive(r.state));

  async function writeSummary(): Promise<void> {
    const orphanTypes: Record<string, number> = {};
    for (const t of [...trials, ...races])
      for (const [type, n] of Object.entries(t.orphanTypes)) orphanTypes[type] = (orphanTypes[type] ?? 0) + n;
    const summary = {
      trials: trials.length + races.length,
      duplicates: [...trials, ...races].reduce((n, t) => n + t.duplicates, 0),
      orphans: [...trials, ...races].reduce((n, t) => n + t.orphans, 0),
      calls: calls() - callsBefore,
      seed: SEED,
      killed: trials.filter((t) => t.killed).length,
      races: races.length,
      orphanTypes,
      perTrial: trials,
      perRace: races,
    };
    await mkdir(join(process.cwd(), 'bench/results'), { recursive: true });
    await writeFile(join(process.cwd(), 'bench/results/chaos.json'), `${JSON.stringify(summary, null, 2)}\n`);
    console.log(
      `chaos: ${summary.trials} trials (${summary.killed} killed mid-run, ${summary.races} two-process races), ${summary.duplicates} duplicates, ${summary.orphans} orphans of any type, ${summary.calls} cloud calls`,
    );
  }
  const calls = () => sim.meter.snapshot().reduce((n, c) => n + c.count, 0);

  it(`converges after ${TRIALS} seeded SIGKILLs: no duplicate, no orphan`, async () => {
    const random = prng(SEED);
    callsBefore = calls();
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
      const vms = liveVms(name);
      const listed = await listedNames(name, stateDir);
      await destroy(name, stateDir);
      const left = leftovers(name);
      trials.push({
        trial,
        cluster: name,
        killAfterMs,
        killed: first.killed,
        vms: vms.length,
        duplicates: listed.length - new Set(listed).size + Math.max(0, vms.length - SPEC_VMS),
        orphans: left.length,
        orphanTypes: byType(left),
      });
    }
    expect(trials.map((t) => t.vms)).toEqual(trials.map(() => SPEC_VMS));
    expect(trials.reduce((n, t) => n + t.duplicates, 0)).toBe(0);
    expect(trials.filter((t) => t.orphans > 0)).toEqual([]);
    expect(trials.filter((t) => t.killed).length).toBeGreaterThan(0);
  }, 400_000);

  // Two operators run `up` of one cluster from two state dirs at the same moment: the deterministic idempotency
  // tokens (ClientToken, requestId, resource names) make the second create of a node the first one's, so the
  // clouds hold exactly the spec's VMs.
  it(`two ups of one cluster from two state dirs at once: ${RACES} races, no duplicate`, async () => {
    const random = prng(SEED + 1);
    for (let race = 0; race < RACES; race += 1) {
      const name = `race${race}`;
      const dirs = [join(work, `race-${race}-a`), join(work, `race-${race}-b`)] as const;
      for (const d of dirs) await mkdir(d, { recursive: true });
      const offsetMs = Math.round(random() * 150);
      const first = up(name, dirs[0]);
      await new Promise((r) => setTimeout(r, offsetMs));
      const both = await Promise.all([first, up(name, dirs[1])]);
      const vms = liveVms(name);
      const listed = await listedNames(name, dirs[0]);
      await destroy(name, dirs[0]);
      const left = leftovers(name);
      races.push({
        race,
        cluster: name,
        offsetMs,
        converged: [both[0].out === 'converged\n', both[1].out === 'converged\n'],
        failures: both.filter((b) => b.out !== 'converged\n').map((b) => lastErrorLine(b.err)),
        vms: vms.length,
        duplicates: listed.length - new Set(listed).size + Math.max(0, vms.length - SPEC_VMS),
        orphans: left.length,
        orphanTypes: byType(left),
      });
      // Either process may fail on a conflict it cannot resolve (that is reported), but never duplicate a VM.
      expect({ race, vms: vms.length, converged: both.some((b) => b.out === 'converged\n') }).toEqual({
        race,
        vms: SPEC_VMS,
        converged: true,
      });
    }
    expect(races.reduce((n, r) => n + r.duplicates, 0)).toBe(0);
    expect(
      races.filter((r) => Object.keys(r.orphanTypes).some((type) => !RACED_NETWORK.has(type))).map((r) => r.race),
    ).toEqual([]);
  }, 300_000);
});
