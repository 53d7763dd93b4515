import type { NodeSize } from '../spec/schema.js';

/** Shapes the construct picks from when a pool gives `size` instead of `instanceType` (x86_64, current generation). */
export const INSTANCE_TYPE_TABLE: readonly {
  readonly instanceType: string;
  readonly cpus: number;
  readonly memoryGiB: number;
}[] = [
  // Burstable t3 first: cheapest for the small shapes most pools ask for.
  { instanceType: 't3.micro', cpus: 2, memoryGiB: 1 },
  { instanceType: 't3.small', cpus: 2, memoryGiB: 2 },
  { instanceType: 't3.medium', cpus: 2, memoryGiB: 4 },
  { instanceType: 't3.large', cpus: 2, memoryGiB: 8 },
  { instanceType: 't3.xlarge', cpus: 4, memoryGiB: 16 },
  { instanceType: 't3.2xlarge', cpus: 8, memoryGiB: 32 },
  // Then general purpose m6i for anything bigger.
  { instanceType: 'm6i.4xlarge', cpus: 16, memoryGiB: 64 },
  { instanceType: 'm6i.8xlarge', cpus: 32, memoryGiB: 128 },
  { instanceType: 'm6i.12xlarge', cpus: 48, memoryGiB: 192 },
  { instanceType: 'm6i.16xlarge', cpus: 64, memoryGiB: 256 },
  { instanceType: 'm6i.24xlarge', cpus: 96, memoryGiB: 384 },
  { instanceType: 'm6i.32xlarge', cpus: 128, memoryGiB: 512 },
];

/** The first (cheapest) type of the table with at least the asked vCPUs and memory; undefined when none fits. */
export function instanceTypeForSize(size: NodeSize): string | undefined {
  return INSTANCE_TYPE_TABLE.find((t) => t.cpus >= size.cpus && t.memoryGiB >= size.memoryGiB)?.instanceType;
}
