import type { ComputeManagementClient } from '@azure/arm-compute';
import { NoFittingSizeError } from '../../src/errors.js';
import { chooseInstanceType } from '../../src/pricing/select.js';
import type { NodeSize } from '../../src/spec/schema.js';

/** A VM size as resourceSkus describes it. */
export interface VmSize {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryGiB: number;
  /** Zones of the region where the subscription may not use the size. */
  readonly restrictedZones: readonly string[];
}

/** Lists the VM sizes of a region once (resourceSkus is a large, slow call) and picks the cheapest that fits. */
export class SizeCatalog {
  private readonly cache = new Map<string, Promise<VmSize[]>>();

  constructor(private readonly compute: ComputeManagementClient) {}

  sizes(region: string, signal?: AbortSignal): Promise<VmSize[]> {
    let entry = this.cache.get(region);
    if (!entry) {
      entry = this.load(region, signal);
      this.cache.set(region, entry);
      entry.catch(() => this.cache.delete(region));
    }
    return entry;
  }

  private async load(region: string, signal?: AbortSignal): Promise<VmSize[]> {
    const sizes: VmSize[] = [];
    for await (const sku of this.compute.resourceSkus.list({
      filter: `location eq '${region}'`,
      abortSignal: signal,
    })) {
      if (sku.resourceType !== 'virtualMachines' || !sku.name) continue;
      const restrictions = sku.restrictions ?? [];
      if (restrictions.some((r) => r.type === 'Location')) continue;
      const capability = (name: string) => Number(sku.capabilities?.find((c) => c.name === name)?.value);
      const vcpus = capability('vCPUs');
      const memoryGiB = capability('MemoryGB');
      if (!Number.isFinite(vcpus) || !Number.isFinite(memoryGiB)) continue;
      const restrictedZones = restrictions
        .filter((r) => r.type === 'Zone')
        .flatMap((r) => r.restrictionInfo?.zones ?? []);
      sizes.push({ name: sku.name, vcpus, memoryGiB, restrictedZones });
    }
    return sizes.sort((a, b) => a.vcpus - b.vcpus || a.memoryGiB - b.memoryGiB || a.name.localeCompare(b.name));
  }

  /**
   * The size for `size` usable in `zone`, by skypool's one selection policy (cheapest list price that fits), so
   * the launch picks what `plan` shows.
   */
  async pickSize(region: string, size: NodeSize, zone?: string, signal?: AbortSignal): Promise<string> {
    const available = (await this.sizes(region, signal))
      .filter((s) => !zone || !s.restrictedZones.includes(zone))
      .map((s) => ({ name: s.name, cpus: s.vcpus, memoryGiB: s.memoryGiB }));
    const choice = chooseInstanceType('azure', region, size, { available });
    if (!choice) {
      throw new NoFittingSizeError(
        `no Azure VM size in ${region}${zone ? ` zone ${zone}` : ''} has ${size.cpus} vCPUs and ${size.memoryGiB} GiB; set instanceType or a smaller size`,
        { region, zone, size },
      );
    }
    return choice.instanceType;
  }
}
