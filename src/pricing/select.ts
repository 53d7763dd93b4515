import type { NodeSize } from '../spec/schema.js';
import { PRICE_CATALOG_2026_12, type PriceCatalog, type TypeShape } from './catalog-2026-12.js';

/** Clouds the price catalog covers (the local provider costs nothing). */
export type PricedCloud = keyof PriceCatalog['clouds'];

/** The catalog skypool uses unless a caller passes another one. */
export const PRICE_CATALOG: PriceCatalog = PRICE_CATALOG_2026_12;

/** Hours in the "monthly" figures (365 × 24 / 12), as AWS, Google and Azure calculators count a month. */
export const HOURS_PER_MONTH = 730;

/** On-demand list price of `instanceType` in `region` in USD per hour; undefined when the catalog has none. */
export function hourlyPrice(
  cloud: PricedCloud,
  region: string,
  instanceType: string,
  catalog: PriceCatalog = PRICE_CATALOG,
): number | undefined {
  const prices = catalog.clouds[cloud];
  const factor = prices.regionFactors[region];
  const type = prices.types.find((t) => t.name === instanceType);
  if (factor === undefined || !type) return undefined;
  return Math.round(type.hourlyUsd * factor * 1e4) / 1e4;
}

/** The types of the catalog for `cloud`, as shapes (what a synthesizer without a cloud listing chooses from). */
export function catalogTypes(cloud: PricedCloud, catalog: PriceCatalog = PRICE_CATALOG): TypeShape[] {
  return catalog.clouds[cloud].types.map(({ name, cpus, memoryGiB }) => ({ name, cpus, memoryGiB }));
}

/** The type chosen for a pool's `size`, its price, and why it was chosen. */
export interface TypeChoice {
  readonly instanceType: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  /** List price in the region; undefined when the catalog has no price for the type or region. */
  readonly hourlyUsd?: number;
  /** One line for people, e.g. "cheapest of 4 types with ≥2 vCPU and ≥4 GiB in us-east-1". */
  readonly reason: string;
}

/** Options of {@link chooseInstanceType}. */
export interface ChooseOptions {
  /**
   * The types the cloud offers there (an adapter's DescribeInstanceTypes / machineTypes.list / resourceSkus
   * listing). Default: the catalog's types, which is what the CDK synthesizer and `plan` use.
   */
  readonly available?: readonly TypeShape[];
  readonly catalog?: PriceCatalog;
}

const gib = (n: number): string => `${Number.isInteger(n) ? n : n.toFixed(1)} GiB`;

/**
 * The one policy every part of skypool uses to turn `size: { cpus, memoryGiB }` into an instance type: among the
 * types that fit, the cheapest with a list price in the region (ties: fewer vCPUs, less memory, then name); when
 * none of the fitting types has a price there, the smallest (fewest vCPUs, then least memory, then name). Types the
 * cloud lists but the catalog does not price are used only in that second case, so an adapter reading the cloud's
 * list and the synthesizer reading the catalog pick the same type wherever the catalog has prices.
 * Undefined when nothing fits.
 */
export function chooseInstanceType(
  cloud: PricedCloud,
  region: string,
  size: NodeSize,
  options: ChooseOptions = {},
): TypeChoice | undefined {
  const catalog = options.catalog ?? PRICE_CATALOG;
  const candidates = options.available ?? catalogTypes(cloud, catalog);
  const fits = candidates.filter((t) => t.cpus >= size.cpus && t.memoryGiB >= size.memoryGiB);
  const want = `with ≥${size.cpus} vCPU and ≥${gib(size.memoryGiB)}`;
  const bySize = (a: TypeShape, b: TypeShape) =>
    a.cpus - b.cpus || a.memoryGiB - b.memoryGiB || a.name.localeCompare(b.name);
  const priced = fits
    .map((t) => ({ ...t, hourlyUsd: hourlyPrice(cloud, region, t.name, catalog) }))
    .filter((t): t is TypeShape & { hourlyUsd: number } => t.hourlyUsd !== undefined)
    .sort((a, b) => a.hourlyUsd - b.hourlyUsd || bySize(a, b));
  const cheapest = priced[0];
  if (cheapest) {
    const count = priced.length === 1 ? 'the only priced type' : `cheapest of ${priced.length} types`;
    return {
      instanceType: cheapest.name,
      cpus: cheapest.cpus,
      memoryGiB: cheapest.memoryGiB,
      hourlyUsd: cheapest.hourlyUsd,
      reason: `${count} ${want} in ${region}`,
    };
  }
  const smallest = [...fits].sort(bySize)[0];
  if (!smallest) return undefined;
  return {
    instanceType: smallest.name,
    cpus: smallest.cpus,
    memoryGiB: smallest.memoryGiB,
    reason: `smallest of ${fits.length} types ${want}; no list price for ${region} in the ${catalog.date} catalog`,
  };
}
