import { catalogTypes, chooseInstanceType } from '../pricing/select.js';
import type { NodeSize } from '../spec/schema.js';

/** Region whose prices rank the types when the caller names none (the catalog's AWS reference region). */
const DEFAULT_REGION = 'us-east-1';

/**
 * Shapes the construct picks from when a pool gives `size` instead of `instanceType`: the AWS types of skypool's
 * bundled price catalog (x86_64, current generation).
 */
export const INSTANCE_TYPE_TABLE: readonly {
  readonly instanceType: string;
  readonly cpus: number;
  readonly memoryGiB: number;
}[] = catalogTypes('aws').map((t) => ({ instanceType: t.name, cpus: t.cpus, memoryGiB: t.memoryGiB }));

/**
 * The type the construct launches for `size` in `region`: the same choice the aws provider makes at apply and
 * `skypool plan` shows (`chooseInstanceType`: the cheapest list price with at least the asked vCPUs and memory).
 * Undefined when no type of the table fits.
 */
export function instanceTypeForSize(size: NodeSize, region: string = DEFAULT_REGION): string | undefined {
  return chooseInstanceType('aws', region, size)?.instanceType;
}
