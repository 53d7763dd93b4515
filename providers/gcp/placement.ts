import { CloudApiError, NoFittingSizeError } from '../../src/errors.js';
import { chooseInstanceType } from '../../src/pricing/select.js';
import type { LaunchRequest } from '../../src/providers/types.js';
import type { NodePoolSpec } from '../../src/spec/schema.js';
import type { GceApi } from './api.js';
import { mapApiError } from './errors.js';
import { lastSegment, regionOfZone } from './util.js';

const DEFAULT_TYPE = 'e2-standard-2';

interface MachineType {
  name?: string | null;
  guestCpus?: number | null;
  memoryMb?: number | null;
}

/** Where and on what a pool runs: its zone, and its machine type (the cheapest that fits a size), cached per region. */
export class GcePlacement {
  private readonly zonesByRegion = new Map<string, Promise<string[]>>();
  private readonly typesByRegion = new Map<string, Promise<MachineType[]>>();

  constructor(private readonly api: GceApi) {}

  private zonesOf(region: string): Promise<string[]> {
    let zones = this.zonesByRegion.get(region);
    if (!zones) {
      zones = this.api
        .read(() => this.api.clients.regions.get({ project: this.api.project, region }))
        .then(
          ([r]) => (r.zones ?? []).map((z) => lastSegment(z)!).sort(),
          (error: unknown) => {
            this.zonesByRegion.delete(region);
            throw mapApiError(error, { action: 'regions.get' });
          },
        );
      this.zonesByRegion.set(region, zones);
    }
    return zones;
  }

  async zoneFor(request: LaunchRequest, region: string): Promise<string> {
    const zone =
      request.zone ?? request.pool.zones?.[0] ?? (region === this.api.region ? this.api.settings.zone : undefined);
    if (zone) return zone;
    const zones = await this.zonesOf(region);
    if (!zones[0]) throw new CloudApiError(`Compute Engine region ${region} lists no zones`, { region });
    return zones[0];
  }

  /** The pool's machine type: as given, else the cheapest type of the zone with enough vCPUs and memory. */
  async machineTypeFor(pool: NodePoolSpec, zone: string): Promise<string> {
    if (pool.instanceType) return pool.instanceType;
    if (!pool.size) return DEFAULT_TYPE;
    const region = regionOfZone(zone);
    let types = this.typesByRegion.get(region);
    if (!types) {
      types = this.api
        .read(() => this.api.clients.machineTypes.list({ project: this.api.project, zone }))
        .then(
          ([list]) => list as MachineType[],
          (error: unknown) => {
            this.typesByRegion.delete(region);
            throw mapApiError(error, { action: 'machineTypes.list', zone });
          },
        );
      this.typesByRegion.set(region, types);
    }
    const { cpus, memoryGiB } = pool.size;
    const available = (await types)
      .filter((t) => t.name && t.guestCpus && t.memoryMb)
      .map((t) => ({ name: t.name!, cpus: t.guestCpus!, memoryGiB: t.memoryMb! / 1024 }));
    // skypool's one policy (cheapest list price that fits), so the launch picks what `plan` shows.
    const choice = chooseInstanceType('gcp', region, pool.size, { available });
    if (!choice) {
      throw new NoFittingSizeError(
        `no Compute Engine machine type in ${zone} has ${cpus} vCPUs and ${memoryGiB} GiB; set pool.instanceType or a smaller size`,
        { zone, size: pool.size },
      );
    }
    return choice.instanceType;
  }
}
