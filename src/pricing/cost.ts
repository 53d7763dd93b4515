import type { ClusterSpec, NodePoolSpec, ProviderName } from '../spec/schema.js';
import type { PriceCatalog } from './catalog-2026-12.js';
import { chooseInstanceType, HOURS_PER_MONTH, hourlyPrice, PRICE_CATALOG } from './select.js';

/** What one pool costs at its spec'd count, by the bundled list prices. */
export interface PoolCost {
  readonly pool: string;
  readonly provider: ProviderName;
  readonly region?: string;
  readonly count: number;
  /** The type `apply` launches: the pool's `instanceType`, or the one chosen for its `size`. */
  readonly instanceType?: string;
  /** Why that type, when skypool chose it for a `size`. */
  readonly reason?: string;
  /** Per node; undefined ("n/a") when the catalog has no price for the type in the region. */
  readonly hourlyUsd?: number;
  /** Per node, {@link HOURS_PER_MONTH} hours. */
  readonly monthlyUsd?: number;
  /** `count` nodes. */
  readonly poolHourlyUsd?: number;
  readonly poolMonthlyUsd?: number;
  /** Why a figure is missing, or what it leaves out. */
  readonly note?: string;
}

/** The cost part of a plan: every pool, the cluster total, and the catalog the figures come from. */
export interface CostEstimate {
  readonly currency: 'USD';
  /** Date of the list prices used. */
  readonly catalogDate: string;
  readonly catalogSource: string;
  readonly hoursPerMonth: number;
  readonly pools: PoolCost[];
  /** Sum over the pools with a known price. */
  readonly totalHourlyUsd: number;
  readonly totalMonthlyUsd: number;
  /** False when a pool's price is unknown: the totals then leave that pool out. */
  readonly complete: boolean;
}

const cents = (usd: number): number => Math.round(usd * 1e4) / 1e4;

function poolCost(pool: NodePoolSpec, catalog: PriceCatalog): PoolCost {
  const base = { pool: pool.name, provider: pool.provider, count: pool.count };
  if (pool.provider === 'local') {
    return { ...base, instanceType: 'local VM', hourlyUsd: 0, monthlyUsd: 0, poolHourlyUsd: 0, poolMonthlyUsd: 0 };
  }
  const region = pool.region ?? '';
  const withRegion = { ...base, region };
  let instanceType = pool.instanceType;
  let reason: string | undefined;
  if (!instanceType && pool.size) {
    const choice = chooseInstanceType(pool.provider, region, pool.size, { catalog });
    if (!choice) {
      return {
        ...withRegion,
        note: `no type of the ${catalog.date} catalog has ${pool.size.cpus} vCPU and ${pool.size.memoryGiB} GiB; set instanceType`,
      };
    }
    instanceType = choice.instanceType;
    reason = choice.reason;
  }
  if (!instanceType) return { ...withRegion, note: 'no instanceType or size' };
  const hourly = hourlyPrice(pool.provider, region, instanceType, catalog);
  if (hourly === undefined) {
    return {
      ...withRegion,
      instanceType,
      ...(reason ? { reason } : {}),
      note: `no list price for ${instanceType} in ${region} in the ${catalog.date} catalog`,
    };
  }
  return {
    ...withRegion,
    instanceType,
    ...(reason ? { reason } : {}),
    hourlyUsd: hourly,
    monthlyUsd: cents(hourly * HOURS_PER_MONTH),
    poolHourlyUsd: cents(hourly * pool.count),
    poolMonthlyUsd: cents(hourly * HOURS_PER_MONTH * pool.count),
  };
}

/**
 * On-demand compute cost of the cluster the spec describes (every pool at its count), from the bundled, dated
 * list prices. Pure; never throws for an unknown type or region: that pool's price is missing, with a note.
 */
export function estimateCost(spec: ClusterSpec, catalog: PriceCatalog = PRICE_CATALOG): CostEstimate {
  const pools = spec.pools.map((p) => poolCost(p, catalog));
  const known = pools.filter((p) => p.poolHourlyUsd !== undefined);
  const totalHourlyUsd = cents(known.reduce((n, p) => n + p.poolHourlyUsd!, 0));
  return {
    currency: 'USD',
    catalogDate: catalog.date,
    catalogSource: catalog.source,
    hoursPerMonth: HOURS_PER_MONTH,
    pools,
    totalHourlyUsd,
    totalMonthlyUsd: cents(known.reduce((n, p) => n + p.poolMonthlyUsd!, 0)),
    complete: known.length === pools.length,
  };
}
