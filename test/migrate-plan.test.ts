import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMigration, renderMigrationPlan } from '../src/cli/render-migrate.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster } from '../src/cluster/index.js';
import { nextToDemote } from '../src/cluster/migrate/control-plane.js';
import { parseIntent } from '../src/cluster/migrate/intent.js';
import { planMigration } from '../src/cluster/migrate/plan.js';
import { assertReversible, rollbackNetworks, rollbackSides, rollbackVictims } from '../src/cluster/migrate/rollback.js';
import { rescheduledSpec, serviceSpec } from '../src/engines/swarm/services.js';
import type { EngineNode } from '../src/engines/types.js';
import { EngineError, SpecError } from '../src/errors.js';
import { chooseInstanceType, hourlyPrice } from '../src/pricing/index.js';
import type { Instance } from '../src/providers/types.js';
import { poolSpecHash } from '../src/spec/hash.js';
import { parseSpec } from '../src/spec/load.js';
import { simProviderSettings } from './support/sim-providers.js';

/**
 * The migration plan (what `migrate --dry-run` prints) without root: the pure plan, the control plane's
 * demotion order, the service move's spec, and a dry run through the SDK and the CLI against a virtual cloudsim.
 */
const size = { cpus: 2, memoryGiB: 4 };
const spec = parseSpec({
  name: 'mig',
  engine: 'swarm',
  pools: [
    { name: 'managers', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
    { name: 'workers', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 2, labels: { tier: 'web' } },
    { name: 'edge', provider: 'azure', region: 'eastus', size, role: 'worker', count: 1 },
  ],
});
const regionOf = (p: string) => ({ gcp: 'us-central1', aws: 'us-east-1', azure: 'eastus' })[p];

function vm(name: string, pool: string, role: 'manager' | 'worker', provider: Instance['provider'] = 'aws'): Instance {
  const p = spec.pools.find((x) => x.name === pool)!;
  return {
    id: `i-${name}`,
    name,
    provider,
    state: 'running',
    tags: { cluster: 'mig', pool, role, specHash: poolSpecHash(spec, p) },
  };
}
const instances = [
  vm('mig-managers-1', 'managers', 'manager'),
  vm('mig-workers-1', 'workers', 'worker'),
  vm('mig-workers-2', 'workers', 'worker'),
  vm('mig-edge-1', 'edge', 'worker', 'azure'),
];

describe('migration plan', () => {
  it('maps every pool of a provider to a new pool on the target, types and hourly list prices on both sides', () => {
    const plan = planMigration({ spec, from: 'aws', to: 'gcp', instances, regionOf });
    const aws = chooseInstanceType('aws', 'us-east-1', size)!;
    const gcp = chooseInstanceType('gcp', 'us-central1', size)!;
    expect(
      plan.mappings.map((m) => [m.source.pool, m.source.instanceType, m.target.pool, m.target.instanceType]),
    ).toEqual([
      ['managers', aws.instanceType, 'managers-gcp', gcp.instanceType],
      ['workers', aws.instanceType, 'workers-gcp', gcp.instanceType],
    ]);
    expect(plan.mappings[1]!.source.poolHourlyUsd).toBeCloseTo(
      2 * hourlyPrice('aws', 'us-east-1', aws.instanceType)!,
      4,
    );
    expect(plan.mappings[1]!.target.poolHourlyUsd).toBeCloseTo(
      2 * hourlyPrice('gcp', 'us-central1', gcp.instanceType)!,
      4,
    );
    expect(plan.sourceHourlyUsd).toBeCloseTo(3 * aws.hourlyUsd!, 4);
    expect(plan.targetHourlyUsd).toBeCloseTo(3 * gcp.hourlyUsd!, 4);
    expect(plan.catalogDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(plan.create).toEqual(['mig-managers-gcp-1', 'mig-workers-gcp-1', 'mig-workers-gcp-2']);
    expect(plan.drain).toEqual(['mig-managers-1', 'mig-workers-1', 'mig-workers-2']);
    expect(plan.terminate).toEqual(plan.drain);
    expect(plan.managersLeaving).toEqual(['mig-managers-1']);
    expect(plan.networksDeleted).toEqual([{ provider: 'aws', region: 'us-east-1' }]);
    // The pools after: the azure pool stays, the new ones keep role, count and labels; no aws pool is left.
    expect(plan.pools.map((p) => [p.name, p.provider, p.region, p.role, p.count, p.labels])).toEqual([
      ['edge', 'azure', 'eastus', 'worker', 1, undefined],
      ['managers-gcp', 'gcp', 'us-central1', 'manager', 1, undefined],
      ['workers-gcp', 'gcp', 'us-central1', 'worker', 2, { tier: 'web' }],
    ]);
    expect(() => parseSpec({ ...spec, pools: plan.pools })).not.toThrow();
  });

  it('takes an inline target (region, size, name) for one pool, and an existing pool of the same role', () => {
    const inline = planMigration({
      spec,
      from: 'workers',
      to: { provider: 'gcp', region: 'europe-west1', size: { cpus: 4, memoryGiB: 16 }, name: 'web' },
      instances,
      regionOf,
    });
    expect(inline.mappings[0]!.target).toMatchObject({
      pool: 'web',
      provider: 'gcp',
      region: 'europe-west1',
      count: 2,
    });
    expect(inline.managersLeaving).toEqual([]);
    // The aws network stays: the managers pool still uses it.
    expect(inline.networksDeleted).toEqual([]);
    const existing = planMigration({ spec, from: 'workers', to: 'edge', instances, regionOf });
    expect(existing.mappings[0]).toMatchObject({ targetExists: true, target: { pool: 'edge', count: 2 } });
    expect(existing.pools.find((p) => p.name === 'edge')?.count).toBe(3);
    expect(existing.create).toEqual(['mig-edge-2', 'mig-edge-3']);
  });

  it('renders the plan for people: each pool with its type and price on both sides', () => {
    const plan = planMigration({ spec, from: 'aws', to: 'gcp', instances, regionOf });
    const text = renderMigration({
      cluster: 'mig',
      dryRun: true,
      plan,
      created: [],
      terminated: [],
      services: [],
      managers: [],
      phases: [],
      durationMs: 1,
      provisionMs: 0,
    });
    const gcp = chooseInstanceType('gcp', 'us-central1', size)!;
    expect(text).toMatch(
      new RegExp(
        `workers\\s+aws us-east-1\\s+2 worker\\s+\\S+\\s+\\$[0-9.]+/h\\s+→\\s+workers-gcp \\(new\\)\\s+gcp us-central1\\s+${gcp.instanceType}`,
      ),
    );
    expect(text).toMatch(/managers: +mig-managers-1 demoted one at a time/);
    expect(text).toMatch(/networks: +aws us-east-1 deleted/);
    expect(text).toMatch(/Dry run: nothing was changed\.$/);
  });

  it('refuses what cannot be planned, naming the field', () => {
    const refuse = (from: string, to: string) => {
      try {
        planMigration({ spec, from, to, instances, regionOf });
      } catch (error) {
        expect(error).toBeInstanceOf(SpecError);
        return (error as SpecError).issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      }
      throw new Error('planned');
    };
    expect(refuse('oracle', 'gcp')).toMatch(/^from: "oracle" is neither a pool nor a provider/);
    expect(refuse('aws', 'nowhere')).toMatch(/^to: "nowhere" is neither a pool/);
    expect(refuse('managers', 'edge')).toMatch(/managers holds managers and edge is a worker pool/);
  });

  it('resumes the targets the engine recorded, not new ones, and never plans source VMs again', () => {
    const first = planMigration({
      spec,
      from: 'aws',
      to: { provider: 'gcp', size: { cpus: 8, memoryGiB: 32 } },
      instances,
      regionOf,
    });
    const recorded = parseIntent(
      JSON.stringify({
        v: 1,
        from: 'aws',
        to: 'gcp',
        sources: ['managers', 'workers'],
        targets: first.pools.filter((p) => p.provider === 'gcp'),
        targetOf: { managers: 'managers-gcp', workers: 'workers-gcp' },
        startedAt: '2026-12-03T08:00:00.000Z',
      }),
    );
    // The rerun asks for another size: the recorded one wins. Two source VMs are gone already.
    const rest = instances.filter((i) => i.name !== 'mig-workers-2' && i.name !== 'mig-managers-1');
    const again = planMigration({ spec, from: 'aws', to: 'gcp', instances: rest, regionOf, recorded });
    expect(again.resumed).toBe('2026-12-03T08:00:00.000Z');
    expect(again.pools.find((p) => p.name === 'workers-gcp')?.size).toEqual({ cpus: 8, memoryGiB: 32 });
    expect(again.create).toEqual(['mig-managers-gcp-1', 'mig-workers-gcp-1', 'mig-workers-gcp-2']);
    expect(again.drain).toEqual(['mig-workers-1']);
    // What `skypool plan` and `--dry-run` show of a migration in progress: rollback while the source exists.
    expect(first.rollbackPossible).toBeUndefined();
    expect(again.rollbackPossible).toBe(true);
    expect(renderMigrationPlan(again)).toMatch(
      /resuming the one started 2026-12-03T08:00:00.000Z[\s\S]*rollback: +possible while the source exists: skypool migrate --from aws --to gcp --rollback/,
    );
    const retiring = planMigration({
      spec,
      from: 'aws',
      to: 'gcp',
      instances: rest,
      regionOf,
      recorded: { ...recorded, stage: 'retire-source' },
    });
    expect(retiring.rollbackPossible).toBe(false);
    expect(renderMigrationPlan(retiring)).toMatch(/rollback: +no longer possible: the source is being retired/);
    expect(renderMigrationPlan(first)).not.toMatch(/rollback:/);
    // --output json carries the same, with the cost of each side.
    expect(JSON.parse(JSON.stringify(retiring))).toMatchObject({
      from: 'aws',
      to: 'gcp',
      rollbackPossible: false,
      sourceHourlyUsd: expect.any(Number),
      targetHourlyUsd: expect.any(Number),
      mappings: [
        { source: { pool: 'managers', instanceType: expect.any(String) }, target: { pool: 'managers-gcp' } },
        { source: { pool: 'workers' }, target: { pool: 'workers-gcp', hourlyUsd: expect.any(Number) } },
      ],
    });
  });
});

describe('rollback', () => {
  const recorded = parseIntent(
    JSON.stringify({
      v: 1,
      from: 'aws',
      to: 'gcp',
      sources: ['managers', 'workers'],
      targets: [
        { name: 'managers-gcp', provider: 'gcp', region: 'us-central1', size, role: 'manager', count: 1 },
        { name: 'edge', provider: 'azure', region: 'eastus', size, role: 'worker', count: 3 },
      ],
      targetOf: { managers: 'managers-gcp', workers: 'edge' },
      startedAt: '2026-12-03T08:00:00.000Z',
    }),
  );

  it('returns while the source exists; refuses once its retirement started or the migration finished', () => {
    expect(() => assertReversible(spec, 'aws', recorded)).not.toThrow();
    const retiring = { ...recorded, stage: 'retire-source' as const };
    expect(() => assertReversible(spec, 'aws', retiring)).toThrow(
      expect.objectContaining({
        code: 'MIGRATION_NOT_REVERSIBLE',
        details: expect.objectContaining({ stage: 'retire-source' }),
      }),
    );
    expect(() => assertReversible(spec, 'gcp', undefined)).toThrow(
      expect.objectContaining({ code: 'MIGRATION_NOT_REVERSIBLE', details: { from: 'gcp', stage: 'finished' } }),
    );
    expect(() => assertReversible(spec, 'aws', undefined)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('removes every VM of a new target pool, and of a pool that grew only the ones launched since', () => {
    const launched = (i: Instance, at: string): Instance => ({ ...i, launchedAt: at });
    const all = [
      ...instances.slice(0, 3),
      launched(vm('mig-edge-1', 'edge', 'worker', 'azure'), '2026-12-01T00:00:00.000Z'),
      launched(vm('mig-edge-2', 'edge', 'worker', 'azure'), '2026-12-03T08:01:00.000Z'),
      {
        ...vm('mig-managers-gcp-1', 'managers', 'manager', 'gcp'),
        tags: { ...instances[0]!.tags, pool: 'managers-gcp' },
      },
    ];
    const existing = spec.pools.filter((p) => p.name === 'edge');
    expect(rollbackVictims(all, recorded, existing).map((i) => i.name)).toEqual(['mig-edge-2', 'mig-managers-gcp-1']);
    const sides = rollbackSides(all, recorded, spec);
    expect(sides.leaving.map((i) => i.name)).toEqual(['mig-edge-2', 'mig-managers-gcp-1']);
    expect(sides.keep.map((i) => i.name)).toEqual([...instances.slice(0, 3).map((i) => i.name), 'mig-edge-1']);
    expect(sides.sources.every((i) => ['managers', 'workers'].includes(i.tags.pool!))).toBe(true);
  });

  it("deletes the targets' networks that no original pool uses (the azure one stays: edge was there before)", () => {
    expect(rollbackNetworks(spec, recorded)).toEqual([{ provider: 'gcp', region: 'us-central1' }]);
  });
});

describe('control plane move', () => {
  const node = (name: string, extra: Partial<EngineNode> = {}): EngineNode => ({
    id: name,
    name,
    role: 'manager',
    state: 'ready',
    availability: 'active',
    leader: false,
    labels: {},
    managerReachable: true,
    ...extra,
  });
  it('demotes the source leader first, then the other source managers, and stops when none is left', () => {
    const leaving = new Set(['a1', 'a2', 'a3']);
    const nodes = [node('a1'), node('a2', { leader: true }), node('a3'), node('g1'), node('g2'), node('g3')];
    expect(nextToDemote(nodes, leaving)?.name).toBe('a2');
    expect(nextToDemote([node('a1', { role: 'worker' }), node('g1', { leader: true })], leaving)).toBeUndefined();
  });
  it('refuses a demotion that would leave the control plane below quorum', () => {
    const leaving = new Set(['a1']);
    const nodes = [
      node('a1', { leader: true }),
      node('g1', { managerReachable: false }),
      node('g2', { managerReachable: false }),
    ];
    expect(() => nextToDemote(nodes, leaving)).toThrow(EngineError);
    expect(() => nextToDemote(nodes, leaving)).toThrow(/0 of the 2 managers left would be reachable/);
    expect(() => nextToDemote([node('a1', { leader: true })], leaving)).toThrow(/refusing to demote manager a1/);
  });
});

describe('service move', () => {
  it('replaces every task start-first, all replicas at once, and counts each reschedule', () => {
    const base = serviceSpec({ name: 'web', image: 'x:1', replicas: 6, port: 8080 }, { routingMesh: false });
    const once = rescheduledSpec(base);
    expect(once.TaskTemplate.ForceUpdate).toBe(1);
    expect(once.UpdateConfig).toMatchObject({ Parallelism: 6, Delay: 0, Order: 'start-first' });
    expect(rescheduledSpec(once).TaskTemplate.ForceUpdate).toBe(2);
    expect(once.EndpointSpec).toEqual(base.EndpointSpec);
  });
});

function run(file: string, args: string[], options: { env: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(file, args, { ...options, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('migrate --dry-run against a cloudsim (no VMs, no root)', () => {
  let sim: CloudSim;
  let dir: string;
  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20 });
    dir = await mkdtemp(join(tmpdir(), 'skypool-migplan-'));
  });
  afterAll(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('plans through the SDK: lists both clouds, changes nothing, writes no state', async () => {
    const cluster = Cluster.fromSpec(spec, {
      stateDir: join(dir, 'state'),
      providers: simProviderSettings(sim, { gcpProject: 'skypool-sim', pollIntervalMs: 50 }),
    });
    const phases: string[] = [];
    cluster.onProgress((e) => (e.type === 'phase-end' ? phases.push(e.phase) : undefined));
    try {
      const result = await cluster.migrate({ from: 'aws', to: 'gcp', dryRun: true });
      expect(result.dryRun).toBe(true);
      expect(result.plan.create).toEqual(['mig-managers-gcp-1', 'mig-workers-gcp-1', 'mig-workers-gcp-2']);
      expect(result.plan.drain).toEqual([]);
      expect(phases).toEqual(['migrate-plan']);
      expect(cluster.spec.pools.map((p) => p.name)).toEqual(['managers', 'workers', 'edge']);
    } finally {
      await cluster.close();
    }
    expect(sim.inventory().filter((r) => /instance|virtualMachines/i.test(r.type))).toEqual([]);
    await expect(readFile(join(dir, 'state', 'clusters', 'mig', 'ca.pem'))).rejects.toThrow();
  });

  it('prints the plan as JSON on the command line and leaves the spec file as it was', async () => {
    const file = join(dir, 'skypool.yaml');
    const text = [
      '# the web tier',
      'name: mig',
      'engine: swarm',
      'pools:',
      '  - { name: managers, provider: aws, region: us-east-1, size: { cpus: 2, memoryGiB: 4 }, role: manager, count: 1 }',
      '',
    ].join('\n');
    await writeFile(file, text);
    // Not spawnSync: the sim answers from this process's event loop.
    const r = await run(
      process.execPath,
      [
        join(process.cwd(), 'dist/src/cli/main.js'),
        '-f',
        file,
        '-o',
        'json',
        'migrate',
        '--from',
        'aws',
        '--to',
        'gcp',
        '--to-region',
        'us-central1',
        '--dry-run',
      ],
      {
        env: {
          ...process.env,
          ...sim.env,
          GOOGLE_CLOUD_PROJECT: 'skypool-sim',
          SKYPOOL_STATE_DIR: join(dir, 'cli-state'),
        },
      },
    );
    expect({ code: r.code, output: r.code ? `${r.stdout}${r.stderr}` : '' }).toEqual({ code: 0, output: '' });
    const out = JSON.parse(r.stdout) as {
      dryRun: boolean;
      plan: { mappings: Array<{ target: { pool: string; instanceType: string } }>; create: string[] };
    };
    expect(out.dryRun).toBe(true);
    expect(out.plan.mappings[0]!.target).toMatchObject({
      pool: 'managers-gcp',
      instanceType: chooseInstanceType('gcp', 'us-central1', size)!.instanceType,
    });
    expect(out.plan.create).toEqual(['mig-managers-gcp-1']);
    expect(await readFile(file, 'utf8')).toBe(text);
  });
});
