import { type ClusterSpec, parseSpec, poolSpecHash } from '../src/index.js';
import { computePlan, nodeName } from '../src/plan.js';
import type { Instance } from '../src/providers/types.js';

const spec: ClusterSpec = parseSpec({
  name: 'c1',
  engine: 'swarm',
  pools: [
    { name: 'm', provider: 'local', role: 'manager', count: 1 },
    { name: 'w', provider: 'local', role: 'worker', count: 3 },
  ],
});

function vm(pool: string, index: number, overrides: Partial<Instance> = {}): Instance {
  const p = spec.pools.find((x) => x.name === pool)!;
  return {
    id: `id-${pool}-${index}`,
    name: nodeName('c1', pool, index),
    provider: 'local',
    state: 'running',
    tags: { cluster: 'c1', pool, role: p.role, specHash: poolSpecHash(spec, p) },
    ...overrides,
  };
}

describe('computePlan', () => {
  it('creates every node of an empty cluster with stable names', () => {
    const plan = computePlan(spec, []);
    expect(plan.hasChanges).toBe(true);
    expect(plan.creates.map((c) => c.names)).toEqual([['c1-m-1'], ['c1-w-1', 'c1-w-2', 'c1-w-3']]);
    expect(plan.deletes).toEqual([]);
  });

  it('changes nothing when the cloud matches the spec', () => {
    const plan = computePlan(spec, [vm('m', 1), vm('w', 1), vm('w', 2), vm('w', 3)]);
    expect(plan.hasChanges).toBe(false);
    expect(plan.unchanged).toHaveLength(4);
  });

  it('fills gaps after a crash without duplicating names', () => {
    const plan = computePlan(spec, [vm('m', 1), vm('w', 2)]);
    expect(plan.creates).toEqual([expect.objectContaining({ names: ['c1-w-1', 'c1-w-3'] })]);
  });

  it('scales down from the highest index and replaces VMs whose spec changed', () => {
    const stale = vm('w', 2, { tags: { cluster: 'c1', pool: 'w', role: 'worker', specHash: 'old' } });
    const plan = computePlan(spec, [vm('m', 1), vm('w', 1), stale, vm('w', 3), vm('w', 4), vm('w', 5)]);
    expect(plan.deletes.map((d) => [d.instance.name, d.reason])).toEqual([
      ['c1-w-2', 'spec-changed'],
      ['c1-w-5', 'scale-down'],
    ]);
    expect(plan.creates).toEqual([]);
  });

  it('deletes pools that left the spec and ignores other clusters and terminated VMs', () => {
    const gone = vm('w', 1, { tags: { cluster: 'c1', pool: 'old', role: 'worker', specHash: 'x' }, name: 'c1-old-1' });
    const other = vm('w', 2, { tags: { cluster: 'c2', pool: 'w', role: 'worker', specHash: 'x' } });
    const dead = vm('w', 3, { state: 'terminated' });
    const plan = computePlan(spec, [vm('m', 1), gone, other, dead]);
    expect(plan.deletes.map((d) => d.reason)).toEqual(['pool-removed']);
    expect(plan.creates.find((c) => c.pool.name === 'w')?.names).toEqual(['c1-w-1', 'c1-w-2', 'c1-w-3']);
  });

  it('treats two VMs with one name as a duplicate to remove, keeping the oldest', () => {
    const older = vm('w', 2, { id: 'id-b', launchedAt: '2026-01-01T00:00:00.000Z' });
    const newer = vm('w', 2, { id: 'id-a', launchedAt: '2026-01-01T00:05:00.000Z' });
    const plan = computePlan(spec, [vm('m', 1), vm('w', 1), newer, older, vm('w', 3)]);
    expect(plan.hasChanges).toBe(true);
    expect(plan.deletes.map((d) => [d.instance.id, d.reason])).toEqual([['id-a', 'duplicate']]);
    expect(plan.unchanged.map((i) => i.id)).toContain('id-b');
    expect(plan.unchanged).toHaveLength(4);
    expect(plan.creates).toEqual([]);
  });

  it('replaces strays (VMs the engine does not count) under their own names', () => {
    const stray = vm('w', 2);
    const plan = computePlan(
      spec,
      [vm('m', 1), vm('w', 1), stray, vm('w', 3)],
      [{ instance: stray, detail: 'its engine never joined the pool' }],
    );
    expect(plan.deletes).toEqual([{ instance: stray, reason: 'stray', detail: 'its engine never joined the pool' }]);
    expect(plan.creates.map((c) => c.names)).toEqual([['c1-w-2']]);
  });
});
