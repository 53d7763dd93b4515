import { REGIONS } from './catalog.js';
import { ArmError, badRequest } from './errors.js';

/**
 * api-versions accepted per resource type. The first of each list is what the pinned SDKs send
 * (@azure/arm-compute 24.1, arm-network 36, arm-resources 7); the rest are real published versions so that
 * third-party clients (az CLI, Python, Go, Terraform) pinned elsewhere still work.
 */
const COMPUTE = [
  '2026-03-01',
  '2025-04-01',
  '2024-11-01',
  '2024-07-01',
  '2024-03-01',
  '2023-09-01',
  '2023-07-01',
  '2023-03-01',
  '2022-11-01',
  '2022-08-01',
  '2022-03-01',
  '2021-11-01',
  '2021-07-01',
  '2021-03-01',
];
/** Microsoft.Compute/disks has its own versions (the disk resource provider). */
const DISKS = [
  '2025-01-02',
  '2024-03-02',
  '2023-10-02',
  '2023-04-02',
  '2023-01-02',
  '2022-07-02',
  '2022-03-02',
  '2021-12-01',
  '2021-08-01',
  '2021-04-01',
];
const SKUS = ['2021-07-01', '2019-04-01', '2017-09-01'];
const NETWORK = [
  '2025-05-01',
  '2025-03-01',
  '2025-01-01',
  '2024-10-01',
  '2024-07-01',
  '2024-05-01',
  '2024-03-01',
  '2024-01-01',
  '2023-11-01',
  '2023-09-01',
  '2023-06-01',
  '2023-05-01',
  '2023-04-01',
  '2023-02-01',
  '2022-11-01',
  '2022-09-01',
  '2022-07-01',
  '2022-05-01',
  '2022-01-01',
  '2021-08-01',
  '2021-05-01',
  '2021-02-01',
];
const RESOURCES = [
  '2025-04-01',
  '2025-03-01',
  '2024-11-01',
  '2024-07-01',
  '2024-03-01',
  '2023-07-01',
  '2022-09-01',
  '2021-04-01',
  '2021-01-01',
  '2020-10-01',
  '2020-06-01',
  '2019-10-01',
  '2019-08-01',
];

const SUBSCRIPTIONS = ['2022-12-01', '2021-01-01', '2020-01-01', '2019-11-01', '2016-06-01'];

export type ApiFamily = 'compute' | 'disks' | 'skus' | 'network' | 'resources' | 'subscriptions';

const VERSIONS: Record<ApiFamily, readonly string[]> = {
  compute: COMPUTE,
  disks: DISKS,
  skus: SKUS,
  network: NETWORK,
  resources: RESOURCES,
  subscriptions: SUBSCRIPTIONS,
};

export const SDK_API_VERSION: Record<ApiFamily, string> = {
  compute: COMPUTE[0]!,
  disks: DISKS[0]!,
  skus: SKUS[0]!,
  network: NETWORK[0]!,
  resources: RESOURCES[0]!,
  subscriptions: SUBSCRIPTIONS[0]!,
};

/** True when the request's api-version is one of `family`'s. */
export function isApiVersionOf(family: ApiFamily, url: URL): boolean {
  return VERSIONS[family].includes(url.searchParams.get('api-version') ?? '');
}

/** Throws the error ARM gives for a missing or unsupported api-version. */
export function checkApiVersion(url: URL, family: ApiFamily, resourceType: string, location = 'eastus'): void {
  const version = url.searchParams.get('api-version');
  if (!version) {
    throw badRequest(
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  const supported = VERSIONS[family];
  if (supported.includes(version)) return;
  if (family === 'resources' || family === 'subscriptions' || !/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) {
    throw badRequest(
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. The supported versions are '${supported.join(',')}'.`,
    );
  }
  const [namespace, type] = resourceType.split('/', 2);
  throw new ArmError(
    400,
    'NoRegisteredProviderFound',
    `No registered resource provider found for location '${location}' and API version '${version}' for type '${type}'. The supported api-versions are '${supported.join(', ')}'. The supported locations are '${namespace ? REGIONS.join(', ') : ''}'.`,
  );
}
