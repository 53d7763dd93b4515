import { invalidField } from './errors.js';

/**
 * The fixed part of the simulated Compute Engine: regions, zones, machine types and public images. A small,
 * realistic subset; every machine type is offered in every zone.
 */
export interface RegionInfo {
  readonly name: string;
  readonly id: string;
  readonly zones: readonly string[];
}

export const REGIONS: readonly RegionInfo[] = [
  { name: 'us-central1', id: '1000', zones: ['us-central1-a', 'us-central1-b', 'us-central1-c', 'us-central1-f'] },
  { name: 'us-east1', id: '1230', zones: ['us-east1-b', 'us-east1-c', 'us-east1-d'] },
  { name: 'europe-west1', id: '1100', zones: ['europe-west1-b', 'europe-west1-c', 'europe-west1-d'] },
  { name: 'europe-west4', id: '1300', zones: ['europe-west4-a', 'europe-west4-b', 'europe-west4-c'] },
  { name: 'asia-northeast1', id: '1250', zones: ['asia-northeast1-a', 'asia-northeast1-b', 'asia-northeast1-c'] },
];

export const ZONES: ReadonlyMap<string, { region: RegionInfo; index: number; id: string }> = new Map(
  REGIONS.flatMap((region) =>
    region.zones.map((zone, i) => [zone, { region, index: i, id: String(Number(region.id) * 10 + i + 1) }] as const),
  ),
);
export const ZONE_NAMES: readonly string[] = [...ZONES.keys()];

export function knownZone(zone: string): void {
  if (!ZONES.has(zone)) throw invalidField('zone', zone, 'Unknown zone.');
}

export function regionOf(zone: string): RegionInfo | undefined {
  return ZONES.get(zone)?.region;
}

export function findRegion(name: string): RegionInfo | undefined {
  return REGIONS.find((r) => r.name === name);
}

export interface MachineTypeInfo {
  readonly name: string;
  readonly id: string;
  readonly guestCpus: number;
  readonly memoryMb: number;
  readonly isSharedCpu: boolean;
}

const family = (prefix: string, idBase: number, memPerCpuMb: number, sizes: readonly number[]): MachineTypeInfo[] =>
  sizes.map((cpus, i) => ({
    name: `${prefix}-${cpus}`,
    id: String(idBase + i),
    guestCpus: cpus,
    memoryMb: cpus * memPerCpuMb,
    isSharedCpu: false,
  }));

export const MACHINE_TYPES: readonly MachineTypeInfo[] = [
  { name: 'e2-micro', id: '334001', guestCpus: 2, memoryMb: 1024, isSharedCpu: true },
  { name: 'e2-small', id: '334002', guestCpus: 2, memoryMb: 2048, isSharedCpu: true },
  { name: 'e2-medium', id: '334003', guestCpus: 2, memoryMb: 4096, isSharedCpu: true },
  ...family('e2-standard', 335002, 4096, [2, 4, 8, 16, 32]),
  ...family('e2-highcpu', 336002, 1024, [2, 4, 8, 16, 32]),
  ...family('e2-highmem', 337002, 8192, [2, 4, 8, 16]),
  ...family('n2-standard', 901002, 4096, [2, 4, 8, 16, 32, 48, 64, 80, 96, 128]),
  ...family('n2-highmem', 902002, 8192, [2, 4, 8, 16, 32, 48, 64, 80, 96, 128]),
  ...family('c3-standard', 905004, 4096, [4, 8, 22, 44, 88, 176]),
];

export const MACHINE_TYPE_BY_NAME: ReadonlyMap<string, MachineTypeInfo> = new Map(
  MACHINE_TYPES.map((t) => [t.name, t]),
);

export interface ImageInfo {
  readonly project: string;
  readonly name: string;
  readonly family: string;
  readonly id: string;
  readonly description: string;
  readonly diskSizeGb: string;
  readonly created: string;
}

/** Public images; the newest image of a family is what `images.getFromFamily` returns. */
export const IMAGES: readonly ImageInfo[] = [
  {
    project: 'ubuntu-os-cloud',
    name: 'ubuntu-2404-noble-amd64-v20251021',
    family: 'ubuntu-2404-lts-amd64',
    id: '6123488720180911351',
    description: 'Canonical, Ubuntu, 24.04 LTS, amd64 noble image built on 2025-10-21',
    diskSizeGb: '10',
    created: '2025-10-21T07:12:03.520-07:00',
  },
  {
    project: 'ubuntu-os-cloud',
    name: 'ubuntu-2204-jammy-v20251015',
    family: 'ubuntu-2204-lts',
    id: '5530197634528183010',
    description: 'Canonical, Ubuntu, 22.04 LTS, amd64 jammy image built on 2025-10-15',
    diskSizeGb: '10',
    created: '2025-10-15T06:40:11.104-07:00',
  },
  {
    project: 'debian-cloud',
    name: 'debian-12-bookworm-v20251014',
    family: 'debian-12',
    id: '2849100372945512006',
    description: 'Debian, Debian GNU/Linux, 12 (bookworm), amd64 built on 20251014',
    diskSizeGb: '10',
    created: '2025-10-14T09:03:55.883-07:00',
  },
];
