import { createHash } from 'node:crypto';

/** The static part of the simulated EC2: regions, zones, instance types, Canonical's Ubuntu images. */

export const ACCOUNT_ID = '123456789012';
export const CANONICAL_OWNER = '099720109477';

const ZONE_IDS: Readonly<Record<string, string>> = {
  'us-east-1': 'use1',
  'us-east-2': 'use2',
  'us-west-2': 'usw2',
  'eu-west-1': 'euw1',
  'eu-central-1': 'euc1',
  'ap-southeast-1': 'apse1',
};
export const REGIONS: readonly string[] = Object.keys(ZONE_IDS);

export interface Zone {
  readonly name: string;
  readonly id: string;
  readonly region: string;
}

export function zonesOf(region: string): Zone[] {
  const prefix = ZONE_IDS[region];
  if (!prefix) return [];
  return ['a', 'b', 'c'].map((letter, i) => ({ name: `${region}${letter}`, id: `${prefix}-az${i + 1}`, region }));
}

export function zoneByName(region: string, name: string): Zone | undefined {
  return zonesOf(region).find((z) => z.name === name);
}

export interface InstanceTypeInfo {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly arch: 'x86_64' | 'arm64';
  readonly burstable: boolean;
  readonly network: string;
  /** Zone letters where the type is not offered (exercises DescribeInstanceTypeOfferings and `Unsupported`). */
  readonly notIn?: string;
  readonly currentGeneration: boolean;
}

const t = (
  name: string,
  vcpus: number,
  memoryGiB: number,
  arch: 'x86_64' | 'arm64' = 'x86_64',
  notIn?: string,
): InstanceTypeInfo => ({
  name,
  vcpus,
  memoryMiB: Math.round(memoryGiB * 1024),
  arch,
  burstable: name.startsWith('t'),
  network: vcpus <= 4 ? 'Up to 5 Gigabit' : 'Up to 10 Gigabit',
  notIn,
  currentGeneration: !name.startsWith('m1.'),
});

/** RunInstances launches this when no type is given, as EC2 does. */
export const DEFAULT_INSTANCE_TYPE = 'm1.small';

export const INSTANCE_TYPES: readonly InstanceTypeInfo[] = [
  t('m1.small', 1, 1.7),
  t('t3.nano', 2, 0.5),
  t('t3.micro', 2, 1),
  t('t3.small', 2, 2),
  t('t3.medium', 2, 4),
  t('t3.large', 2, 8),
  t('t3.xlarge', 4, 16),
  t('t3.2xlarge', 8, 32),
  t('m5.large', 2, 8),
  t('m5.xlarge', 4, 16),
  t('m5.2xlarge', 8, 32),
  t('m5.4xlarge', 16, 64),
  t('m6i.large', 2, 8),
  t('m6i.xlarge', 4, 16),
  t('m6i.2xlarge', 8, 32),
  t('m6i.4xlarge', 16, 64),
  t('m6i.8xlarge', 32, 128),
  t('m6i.12xlarge', 48, 192),
  t('m6i.16xlarge', 64, 256),
  t('m6i.24xlarge', 96, 384),
  t('m6i.32xlarge', 128, 512),
  t('c5.large', 2, 4, 'x86_64', 'c'),
  t('c5.xlarge', 4, 8, 'x86_64', 'c'),
  t('c5.2xlarge', 8, 16, 'x86_64', 'c'),
  t('r5.large', 2, 16),
  t('r5.xlarge', 4, 32),
  t('t4g.micro', 2, 1, 'arm64'),
  t('t4g.small', 2, 2, 'arm64'),
  t('m7g.large', 2, 8, 'arm64'),
  t('c7g.large', 2, 4, 'arm64'),
];

export const instanceType = (name: string): InstanceTypeInfo | undefined => INSTANCE_TYPES.find((i) => i.name === name);

export const offeredIn = (type: InstanceTypeInfo, zone: string): boolean => !type.notIn?.includes(zone.slice(-1));

export interface Image {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly arch: 'x86_64' | 'arm64';
  readonly creationDate: string;
}

const IMAGE_SPECS = [
  {
    name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250305',
    arch: 'x86_64',
    date: '2025-03-05T08:15:32.000Z',
    release: '24.04',
    code: 'noble',
  },
  {
    name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251001',
    arch: 'x86_64',
    date: '2025-10-01T07:02:11.000Z',
    release: '24.04',
    code: 'noble',
  },
  {
    name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20251001',
    arch: 'arm64',
    date: '2025-10-01T07:05:47.000Z',
    release: '24.04',
    code: 'noble',
  },
  {
    name: 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20251002',
    arch: 'x86_64',
    date: '2025-10-02T06:40:03.000Z',
    release: '22.04',
    code: 'jammy',
  },
] as const;

/** AMI ids differ per region in EC2; derive them so they are stable across restarts. */
export function imagesOf(region: string): Image[] {
  return IMAGE_SPECS.map((s) => ({
    id: `ami-${createHash('sha256').update(`${region}/${s.name}`).digest('hex').slice(0, 17)}`,
    name: s.name,
    description: `Canonical, Ubuntu, ${s.release}, ${s.arch === 'x86_64' ? 'amd64' : 'arm64'} ${s.code} image`,
    arch: s.arch,
    creationDate: s.date,
  }));
}
