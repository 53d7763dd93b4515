import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { ClusterContext } from '../src/cluster/context.js';
import { Cluster, type ClusterOptions } from '../src/cluster/index.js';
import { TAG_KEYS } from '../src/providers/types.js';
import { parseSpec } from '../src/spec/load.js';
import type { ClusterSpecInput } from '../src/spec/schema.js';
import { mergeChaosSummary, prng } from './support/chaos-summary.js';
import { simProviderSettings } from './support/sim-providers.js';

const SEED = 1402;
const silent = pino({ level: 'silent' });
const TRIALS = 10;

type Cloud = 'aws' | 'gcp' | 'azure';

/**
 * The clouds of each trial, in turn: every pair of the three, so each cloud is in two of three trials and a trial
 * costs what a two-cloud trial did before Azure joined (the suite stays bounded in time).
 */
const MIXES: readonly (readonly [Cloud, Cloud])[] = [
  ['aws', 'gcp'],
  ['gcp', 'azure'],
  ['azure', 'aws'],
];

interface Trial {
  readonly trial: number;
  readonly cluster: string;
  readonly clouds: readonly Cloud[];
  readonly killAfterMs: number;
  readonly killed: boolean;
  readonly vms: number;
  readonly duplicates: number;
  readonly orphans: number;
  /** Orphans by resource type (instance, volume, disk, network, ...), when there are any. */
  readonly orphanTypes: Readonly<Record<string, number>>;
  /** When the trial did not end with the spec's VMs: every VM the sim holds for it, and the rerun's stderr. */
  readonly mismatch?: { readonly vms: readonly string[]; readonly rerunErr: string };
}

/** Two `up` of one cluster from two state dirs at the same moment. */
interface Race {
  readonly race: number;
  readonly cluster: string;
  readonly clouds: readonly Cloud[];
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

/** The message of the error a child ended with (`XxxError: ...`; SDK warnings and stack lines around it left out). */
function lastErrorLine(err: string): string {
  const thrown = err.split('\n').filter((line) => /^[A-Z]\w*Error: /.test(line));
  return (thrown.at(-1) ?? err.trim().split('\n').at(-1) ?? '').trim().slice(0, 400);
}

/** Counts per resource type. */
function byType(items: ReadonlyArray<{ type: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i.type] = (out[i.type] ?? 0) + 1;
  return out;
}

// SIGKILL of the provider half of `up` (networks, launches, waits) at seeded moments, on cloudsim with two of
// aws, gcp and azure per trial (in turn), random 5xx faults and throttling; a rerun must converge to exactly the
// spec's VMs (deterministic idempotency tokens, duplicates removed), and destroy must leave nothing of the cluster:
// no resource tagged with it, made with one of its VMs, or in its Azure resource group, of any type.
describe('chaos: SIGKILL during up, then rerun and destroy (cloudsim, aws, gcp and azure)', () => {
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

  const providers = (): ClusterOptions['providers'] =>
    simProviderSettings(sim, { gcpProject: 'skypool-chaos', pollIntervalMs: 20 });
  /** The settings as the child process takes them (JSON on stdin): Azure's credential as its token. */
  const childProviders = () => {
    const { azure, ...rest } = providers() ?? {};
    const { credential: _, ...azureRest } = azure ?? {};
    return { ...rest, azure: { ...azureRest, accessToken: sim.credentials.azure.accessToken } };
  };
  const ROLE_POOLS: Record<Cloud, { region: string; instanceType: string }> = {
    aws: { region: 'us-east-1', instanceType: 't3.micro' },
    gcp: { region: 'us-central1', instanceType: 'e2-small' },
    azure: { region: 'eastus', instanceType: 'Standard_D2s_v5' },
  };
  /** The clouds of each cluster: from its trial's or race's number. */
  const cloudsOf = new Map<string, readonly [Cloud, Cloud]>();
  // A manager and two workers on the first cloud, two workers on the second: five VMs.
  const specOf = (name: string): ClusterSpecInput => {
    const [a, b] = cloudsOf.get(name)!;
    return {
      name,
      engine: 'swarm',
      pools: [
        { name: 'm', provider: a, role: 'manager', count: 1, ...ROLE_POOLS[a] },
        { name: 'w', provider: a, role: 'worker', count: 2, ...ROLE_POOLS[a] },
        { name: 'x', provider: b, role: 'worker', count: 2, ...ROLE_POOLS[b] },
      ],
    };
  };
  const up = (name: string, stateDir: string, killAfterMs?: number) =>
    new Promise<{ killed: boolean; out: string; err: string }>((resolve) => {
      // The settings (with the sim's credentials) go on stdin, not in the command line.
      const child = spawn(process.execPath, [join(process.cwd(), 'test/support/chaos-up.mjs')]);
      child.stdin.end(JSON.stringify({ spec: specOf(name), stateDir, providers: childProviders() }));
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
  // The cluster's resources of every type: tagged with it, made implicitly with a VM that was (boot disks carry
  // no VM tags on GCE and Azure; the sim records where they came from), or in its Azure resource group.
  const tagged = (name: string) =>
    sim
      .inventory()
      .filter(
        (r) =>
          r.tags?.[TAG_KEYS.cluster] === name ||
          r.origin?.tags?.[TAG_KEYS.cluster] === name ||
          (r.cloud === 'azure' && r.id.toLowerCase().includes(`/resourcegroups/skypool-${name.toLowerCase()}`)),
      );
  const isLive = (state: string | undefined) =>
    !/^(terminated|TERMINATED|deleting|Deleting|shutting-down)$/.test(state ?? '');
  const VM_TYPES = new Set(['instance', 'Microsoft.Compute/virtualMachines']);
  const liveVms = (name: string) => tagged(name).filter((r) => VM_TYPES.has(r.type) && isLive(r.state));
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
  const vmStates = (name: string) =>
    tagged(name)
      .filter((r) => VM_TYPES.has(r.type))
      .map((r) => `${r.cloud} ${r.id.split('/').pop()} ${r.tags?.Name ?? ''} ${r.state}`);
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
    // The engine-phase suite (test/chaos-engine.integration.test.ts) keeps its own keys of the same file.
    await mergeChaosSummary(summary);
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
      cloudsOf.set(name, MIXES[trial % MIXES.length]!);
      const stateDir = join(work, `state-${trial}`);
      await mkdir(stateDir, { recursive: true });
      for (const cloud of cloudsOf.get(name)!) sim.addFault({ cloud, kind: 'server-error', probability: 0.05 });
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
        clouds: cloudsOf.get(name)!,
        killAfterMs,
        killed: first.killed,
        vms: vms.length,
        duplicates: listed.length - new Set(listed).size + Math.max(0, vms.length - SPEC_VMS),
        orphans: left.length,
        orphanTypes: byType(left),
        ...(vms.length === SPEC_VMS ? {} : { mismatch: { vms: vmStates(name), rerunErr: rerun.err.slice(-1500) } }),
      });
    }
    // A trial with another count shows what the sim held for it, to find the cause rather than the count.
    expect(trials.filter((t) => t.vms !== SPEC_VMS)).toEqual([]);
    expect(trials.reduce((n, t) => n + t.duplicates, 0)).toBe(0);
    expect(trials.filter((t) => t.orphans > 0)).toEqual([]);
    expect(trials.filter((t) => t.killed).length).toBeGreaterThan(0);
  }, 400_000);

  // Two operators run `up` of one cluster from two state dirs at the same moment: the deterministic idempotency
  // tokens (ClientToken, requestId, resource names) make the second create of a node the first one's, so the
  // clouds hold exactly the spec's VMs.
  it(`two ups of one cluster from two state dirs at once: ${RACES} races, both converge, no duplicate, no stray network`, async () => {
    const random = prng(SEED + 1);
    for (let race = 0; race < RACES; race += 1) {
      const name = `race${race}`;
      cloudsOf.set(name, MIXES[race % MIXES.length]!);
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
        clouds: cloudsOf.get(name)!,
        offsetMs,
        converged: [both[0].out === 'converged\n', both[1].out === 'converged\n'],
        failures: both.filter((b) => b.out !== 'converged\n').map((b) => lastErrorLine(b.err)),
        vms: vms.length,
        duplicates: listed.length - new Set(listed).size + Math.max(0, vms.length - SPEC_VMS),
        orphans: left.length,
        orphanTypes: byType(left),
      });
      // Both converge: the network's find-or-create settles on one VPC/network/VNet, and the launches on one VM
      // per node by their deterministic tokens.
      expect({
        race,
        vms: vms.length,
        converged: both.map((b) => b.out === 'converged\n'),
        failures: races.at(-1)!.failures,
      }).toEqual({ race, vms: SPEC_VMS, converged: [true, true], failures: [] });
    }
    expect(races.reduce((n, r) => n + r.duplicates, 0)).toBe(0);
    // No stray network (a second VPC, gateway, subnet or group of the losing process) or anything else after destroy.
    expect(races.filter((r) => r.orphans > 0).map((r) => ({ race: r.race, orphanTypes: r.orphanTypes }))).toEqual([]);
  }, 300_000);
});
