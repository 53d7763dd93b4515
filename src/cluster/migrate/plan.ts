import { SpecError } from '../../errors.js';
import { computePlan } from '../../plan.js';
import { estimateCost } from '../../pricing/cost.js';
import { catalogTypes, PRICE_CATALOG } from '../../pricing/select.js';
import type { Instance } from '../../providers/types.js';
import { type ClusterSpec, type NodePoolSpec, type NodeSize, PROVIDERS, type ProviderName } from '../../spec/schema.js';
import type { MigrationIntent } from './intent.js';
import type { InlineTarget, MigrationPlan, PoolMapping, PricedPool } from './types.js';

/** Where a provider's pools land when no region is given (its settings' region, else its own default). */
export type RegionOf = (provider: ProviderName) => string | undefined;

/** The pools `from` names: the pool of that name, else every pool on that provider. */
export function sourcePools(spec: ClusterSpec, from: string): NodePoolSpec[] {
  const byName = spec.pools.filter((p) => p.name === from);
  const pools = byName.length > 0 ? byName : spec.pools.filter((p) => p.provider === from);
  if (pools.length === 0)
    throw new SpecError([
      {
        path: 'from',
        message: `"${from}" is neither a pool nor a provider with pools in cluster ${spec.name}; pools are: ${spec.pools.map((p) => `${p.name} (${p.provider})`).join(', ')}`,
      },
    ]);
  return pools;
}

const toText = (to: string | InlineTarget): string =>
  typeof to === 'string' ? to : [to.provider, to.region, to.name].filter(Boolean).join('/');

/** vCPUs and memory of a source pool's nodes: its `size`, else the catalog's shape of its instance type. */
function sizeOf(pool: NodePoolSpec): NodeSize | undefined {
  if (pool.size) return pool.size;
  if (!pool.instanceType || pool.provider === 'local') return undefined;
  const shape = catalogTypes(pool.provider).find((t) => t.name === pool.instanceType);
  return shape ? { cpus: shape.cpus, memoryGiB: shape.memoryGiB } : undefined;
}

function newPoolName(source: NodePoolSpec, provider: ProviderName): string {
  const head = source.name.slice(0, 20 - provider.length - 1).replace(/-+$/, '');
  return `${head}-${provider}`;
}

/** A new pool on `target` that takes a source pool's nodes: same role, count and labels, its size on the new cloud. */
function inlinePool(
  spec: ClusterSpec,
  source: NodePoolSpec,
  target: InlineTarget,
  sources: number,
  regionOf: RegionOf,
) {
  if (target.name && sources > 1)
    throw new SpecError([
      {
        path: 'to.name',
        message: `${sources} pools move, and each needs its own target pool: leave the name out (each becomes <pool>-${target.provider})`,
      },
    ]);
  const size = target.size ?? (target.instanceType ? undefined : sizeOf(source));
  if (!size && !target.instanceType)
    throw new SpecError([
      {
        path: 'to.size',
        message: `pool ${source.name} has no size skypool can carry to ${target.provider} (instanceType ${source.instanceType ?? 'unset'} is not in the price catalog): give the target's size or instanceType`,
      },
    ]);
  const region =
    target.region ?? (target.provider === source.provider ? source.region : undefined) ?? regionOf(target.provider);
  if (!region && target.provider !== 'local')
    throw new SpecError([
      {
        path: 'to.region',
        message: `pools on ${target.provider} need a region: give the target's (--to-region), or set it in the ${target.provider} provider settings`,
      },
    ]);
  const pool: NodePoolSpec = {
    name: target.name ?? newPoolName(source, target.provider),
    provider: target.provider,
    ...(region && target.provider !== 'local' ? { region } : {}),
    ...(size ? { size } : {}),
    ...(target.instanceType ? { instanceType: target.instanceType } : {}),
    count: source.count,
    role: source.role,
    ...(source.labels ? { labels: source.labels } : {}),
  };
  const existing = spec.pools.find((p) => p.name === pool.name);
  if (existing && (existing.provider !== pool.provider || existing.role !== pool.role))
    throw new SpecError([
      {
        path: 'to',
        message: `the target pool would be named ${pool.name}, which is a ${existing.role} pool on ${existing.provider} already: name it (to.name)`,
      },
    ]);
  return pool;
}

/**
 * Each source pool and the pool its nodes go to. A provider (or an inline pool) gets one new pool per source
 * pool, keeping roles; an existing pool takes every source pool of its own role and grows by their counts.
 */
export function targetPools(
  spec: ClusterSpec,
  sources: readonly NodePoolSpec[],
  to: string | InlineTarget,
  regionOf: RegionOf,
): Array<{ source: NodePoolSpec; target: NodePoolSpec; exists: boolean }> {
  const existing = typeof to === 'string' ? spec.pools.find((p) => p.name === to) : undefined;
  if (existing) {
    if (sources.includes(existing))
      throw new SpecError([{ path: 'to', message: `pool ${existing.name} is a source of the migration too` }]);
    const other = sources.find((s) => s.role !== existing.role);
    if (other)
      throw new SpecError([
        {
          path: 'to',
          message: `pool ${other.name} holds ${other.role}s and ${existing.name} is a ${existing.role} pool: migrate to a provider (each pool keeps its role) or to a ${other.role} pool`,
        },
      ]);
    const grown = { ...existing, count: existing.count + sources.reduce((n, s) => n + s.count, 0) };
    return sources.map((source) => ({ source, target: grown, exists: true }));
  }
  if (typeof to === 'string' && !(PROVIDERS as readonly string[]).includes(to))
    throw new SpecError([
      {
        path: 'to',
        message: `"${to}" is neither a pool of cluster ${spec.name} nor a provider (${PROVIDERS.join(', ')})`,
      },
    ]);
  const inline: InlineTarget = typeof to === 'string' ? { provider: to as ProviderName } : to;
  return sources.map((source) => {
    const target = inlinePool(spec, source, inline, sources.length, regionOf);
    return { source, target, exists: spec.pools.some((p) => p.name === target.name) };
  });
}

function priced(spec: ClusterSpec, pool: NodePoolSpec, count = pool.count): PricedPool {
  const [cost] = estimateCost({ ...spec, pools: [{ ...pool, count }] }).pools;
  return {
    pool: pool.name,
    provider: pool.provider,
    ...(pool.region ? { region: pool.region } : {}),
    role: pool.role,
    count,
    ...(cost?.instanceType ? { instanceType: cost.instanceType } : {}),
    ...(cost?.hourlyUsd !== undefined ? { hourlyUsd: cost.hourlyUsd } : {}),
    ...(cost?.poolHourlyUsd !== undefined ? { poolHourlyUsd: cost.poolHourlyUsd } : {}),
  };
}

/** The pools while the migration runs, and after it. */
export interface MigrationSpecs {
  /**
   * Sources at most at their live count (a resumed migration must not bring back source VMs it terminated) and
   * the targets at their final count: what the target's provisioning converges to.
   */
  readonly during: NodePoolSpec[];
  /** The targets only, where the sources were. */
  readonly after: NodePoolSpec[];
}

export function migrationSpecs(
  spec: ClusterSpec,
  sources: readonly NodePoolSpec[],
  targets: readonly NodePoolSpec[],
  instances: readonly Instance[],
): MigrationSpecs {
  const sourceNames = new Set(sources.map((s) => s.name));
  const liveOf = (pool: string) => instances.filter((i) => i.tags.pool === pool).length;
  const targetOf = new Map(targets.map((t) => [t.name, t]));
  const kept = spec.pools.filter((p) => !sourceNames.has(p.name)).map((p) => targetOf.get(p.name) ?? p);
  const added = targets.filter((t) => !spec.pools.some((p) => p.name === t.name));
  const during = [
    ...spec.pools.map((p) =>
      sourceNames.has(p.name) ? { ...p, count: Math.min(p.count, liveOf(p.name)) } : (targetOf.get(p.name) ?? p),
    ),
    ...added,
  ];
  return { during, after: [...kept, ...added] };
}

const networkOf = (p: Pick<NodePoolSpec, 'provider' | 'region'>) => `${p.provider} ${p.region ?? ''}`;

/**
 * What `migrate` will do, from the spec, the live instances and (when resuming) the migration the engine
 * recorded. Pure: computes, calls nothing.
 */
export function planMigration(input: {
  readonly spec: ClusterSpec;
  readonly from: string;
  readonly to: string | InlineTarget;
  readonly instances: readonly Instance[];
  readonly regionOf: RegionOf;
  readonly recorded?: MigrationIntent;
}): MigrationPlan {
  const { spec, instances, recorded } = input;
  const sources = recorded
    ? spec.pools.filter((p) => recorded.sources.includes(p.name))
    : sourcePools(spec, input.from);
  const pairs = recorded
    ? sources.map((source) => {
        const target = recorded.targets.find((t) => t.name === recorded.targetOf[source.name]);
        if (!target)
          throw new SpecError([{ path: 'from', message: `the recorded migration names no target for ${source.name}` }]);
        return { source, target, exists: spec.pools.some((p) => p.name === target.name) };
      })
    : targetPools(spec, sources, input.to, input.regionOf);
  const targets = [...new Map(pairs.map((p) => [p.target.name, p.target])).values()];
  const specs = migrationSpecs(spec, sources, targets, instances);
  const during = computePlan({ ...spec, pools: specs.during }, instances);
  const sourceNames = new Set(sources.map((s) => s.name));
  const leaving = instances.filter((i) => sourceNames.has(i.tags.pool) && i.state !== 'terminated');
  const targetNames = new Set(targets.map((t) => t.name));
  const stays = new Set(specs.after.map(networkOf));
  const networks = [...new Map(sources.map((s) => [networkOf(s), s])).values()].filter((s) => !stays.has(networkOf(s)));
  const mappings: PoolMapping[] = pairs.map(({ source, target, exists }) => ({
    source: priced(spec, source),
    target: priced(spec, target, source.count),
    targetExists: exists,
  }));
  const sum = (values: Array<number | undefined>) =>
    Math.round(values.reduce<number>((n, v) => n + (v ?? 0), 0) * 1e4) / 1e4;
  return {
    cluster: spec.name,
    from: recorded?.from ?? input.from,
    to: recorded?.to ?? toText(input.to),
    mappings,
    create: during.creates.filter((c) => targetNames.has(c.pool.name)).flatMap((c) => c.names),
    drain: leaving.map((i) => i.name).sort(),
    terminate: leaving.map((i) => i.name).sort(),
    managersLeaving: leaving
      .filter((i) => i.tags.role === 'manager')
      .map((i) => i.name)
      .sort(),
    networksDeleted: networks.map((n) => ({ provider: n.provider, ...(n.region ? { region: n.region } : {}) })),
    sourceHourlyUsd: sum(mappings.map((m) => m.source.poolHourlyUsd)),
    targetHourlyUsd: sum(mappings.map((m) => m.target.poolHourlyUsd)),
    catalogDate: PRICE_CATALOG.date,
    pools: specs.after,
    ...(recorded ? { resumed: recorded.startedAt, rollbackPossible: recorded.stage !== 'retire-source' } : {}),
  };
}
