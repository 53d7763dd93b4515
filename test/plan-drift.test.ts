import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterStateDir } from '../src/bootstrap/cluster-pki.js';
import { readFootprint, recordFootprint, regionsToList, withPools } from '../src/cluster/footprint.js';
import type { ManagerRef } from '../src/cluster/nodes.js';
import { driftWarnings, outsidePools } from '../src/cluster/survey.js';
import type { Instance } from '../src/providers/types.js';
import type { ProviderName } from '../src/spec/schema.js';

// A spec written before `migrate` names pools that no longer run; read-only commands find the cluster where it
// runs now (the footprint the state directory records) and say what the spec does not describe.

const vm = (name: string, provider: ProviderName, pool: string, role: 'manager' | 'worker'): Instance => ({
  id: `id-${name}`,
  name,
  provider,
  state: 'running',
  privateIp: '10.0.0.2',
  tags: { cluster: 'c1', pool, role, specHash: 'h' },
});
const managerOf = (instance: Instance): ManagerRef => ({
  instance,
  endpoint: { name: instance.name, host: instance.privateIp! },
});

describe('footprint: where the state directory put the cluster', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypool-footprint-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds providers and regions, and is the same object when the pools add nothing', () => {
    const first = withPools({}, [{ provider: 'aws', region: 'us-east-1' }, { provider: 'local' }]);
    expect(first).toEqual({ aws: ['us-east-1'], local: [''] });
    expect(withPools(first, [{ provider: 'aws', region: 'us-east-1' }])).toBe(first);
    expect(
      withPools(first, [
        { provider: 'gcp', region: 'us-central1' },
        { provider: 'aws', region: 'eu-west-1' },
      ]),
    ).toEqual({ aws: ['eu-west-1', 'us-east-1'], gcp: ['us-central1'], local: [''] });
    expect(regionsToList(['', 'us-east-1'])).toEqual(['us-east-1']);
    expect(regionsToList([''])).toEqual([]);
  });

  it('records across calls, replaces after a migration, and reads a missing or broken record as empty', async () => {
    expect(await readFootprint(dir, 'none')).toEqual({});
    await recordFootprint(dir, 'c1', [{ provider: 'aws', region: 'us-east-1' }]);
    await recordFootprint(dir, 'c1', [{ provider: 'gcp', region: 'us-central1' }]);
    expect(await readFootprint(dir, 'c1')).toEqual({ aws: ['us-east-1'], gcp: ['us-central1'] });
    await recordFootprint(dir, 'c1', [{ provider: 'gcp', region: 'us-central1' }], { replace: true });
    expect(await readFootprint(dir, 'c1')).toEqual({ gcp: ['us-central1'] });
    const path = join(clusterStateDir(dir, 'c1'), 'footprint.json');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ providers: { gcp: ['us-central1'] } });
    await writeFile(path, '{not json');
    expect(await readFootprint(dir, 'c1')).toEqual({});
    await writeFile(path, JSON.stringify({ providers: { gcp: ['x', 3], mars: ['y'] } }));
    expect(await readFootprint(dir, 'c1')).toEqual({ gcp: ['x'] });
  });
});

describe('drift: the cluster beyond the spec', () => {
  const spec = { name: 'c1', engine: 'swarm' as const, pools: [{ provider: 'aws' as const }] };
  const m = vm('c1-managers-gcp-1', 'gcp', 'managers-gcp', 'manager');
  const w2 = vm('c1-workers-gcp-2', 'gcp', 'workers-gcp', 'worker');
  const w1 = vm('c1-workers-gcp-1', 'gcp', 'workers-gcp', 'worker');

  it('groups the VMs beyond by pool, in name order', () => {
    expect(outsidePools([w2, m, w1]).map((g) => [g.pool, g.provider, g.role, g.instances.map((i) => i.name)])).toEqual([
      ['managers-gcp', 'gcp', 'manager', ['c1-managers-gcp-1']],
      ['workers-gcp', 'gcp', 'worker', ['c1-workers-gcp-1', 'c1-workers-gcp-2']],
    ]);
  });

  it('names each pool the spec lacks, and what apply would do when the manager runs only there', () => {
    const outside = outsidePools([m, w1, w2]);
    const recorded = new Set<ProviderName>(['gcp']);
    const lines = driftWarnings(spec, { own: [], manager: managerOf(m), recorded }, outside);
    expect(lines).toEqual([
      'pool managers-gcp (gcp, manager) is not in your spec: 1 VM(s) run there (c1-managers-gcp-1); apply with this spec lists only aws and leaves them as they are',
      'pool workers-gcp (gcp, worker) is not in your spec: 2 VM(s) run there (c1-workers-gcp-1, c1-workers-gcp-2); apply with this spec lists only aws and leaves them as they are',
      expect.stringMatching(
        /^the manager that answers for cluster c1 runs on gcp \(pool managers-gcp\), where your spec has no pool: apply with this spec refuses to run/,
      ),
    ]);
    // Found only through the options (no record): apply would not look there, and would start a second pool.
    const unrecorded = driftWarnings(spec, { own: [], manager: managerOf(m), recorded: new Set() }, outside);
    expect(unrecorded[2]).toMatch(/would start a second, separate swarm pool on aws/);
    // Source managers still listed where the spec points (mid-migration): apply fails on them.
    const source = vm('c1-managers-1', 'aws', 'managers', 'manager');
    const mid = driftWarnings(spec, { own: [source], manager: managerOf(m), recorded }, outside);
    expect(mid[2]).toMatch(/apply with this spec fails \(no manager it lists answers\)/);
  });

  it('says nothing when the spec describes every VM and its manager answers', () => {
    const own = [vm('c1-managers-1', 'aws', 'managers', 'manager')];
    expect(driftWarnings(spec, { own, manager: managerOf(own[0]!), recorded: new Set() }, [])).toEqual([]);
  });
});
