import { type ActionHandler, page } from './action.js';
import {
  CANONICAL_OWNER,
  type Image,
  INSTANCE_TYPES,
  type InstanceTypeInfo,
  imagesOf,
  offeredIn,
  REGIONS,
  type Zone,
  zonesOf,
} from './catalog.js';
import { Ec2Error } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import { NO_TAGS, type Tags } from './tags.js';

/** Read-only catalog actions: regions, zones, instance types and their offerings, images. */

const untagged = <T>(x: T): T & { tags: Tags } => ({ ...x, tags: NO_TAGS });

export const describeRegions: ActionHandler = (ctx) => {
  const names = ctx.params.strList('RegionName');
  const unknown = names.filter((n) => !REGIONS.includes(n));
  if (unknown.length) throw new Ec2Error('InvalidParameterValue', `Invalid region: ${unknown.join(', ')}`);
  const filter = parseFilters<{ name: string; tags: Tags }>(ctx.params, {
    'region-name': (r) => r.name,
    endpoint: (r) => `ec2.${r.name}.amazonaws.com`,
    'opt-in-status': () => 'opt-in-not-required',
  });
  const regions = REGIONS.filter(
    (name) => (!names.length || names.includes(name)) && (!filter || filter.test({ name, tags: NO_TAGS })),
  );
  return {
    regionInfo: regions.map((name) => ({
      regionName: name,
      regionEndpoint: `ec2.${name}.amazonaws.com`,
      optInStatus: 'opt-in-not-required',
    })),
  };
};

const zoneFields: FilterFields<Zone & { tags: Tags }> = {
  'zone-name': (z) => z.name,
  'zone-id': (z) => z.id,
  'region-name': (z) => z.region,
  state: () => 'available',
  'zone-type': () => 'availability-zone',
  'group-name': (z) => z.region,
  'opt-in-status': () => 'opt-in-not-required',
};

export const describeAvailabilityZones: ActionHandler = (ctx) => {
  const names = ctx.params.strList('ZoneName');
  const ids = ctx.params.strList('ZoneId');
  const zones = zonesOf(ctx.region);
  const unknown = [
    ...names.filter((n) => !zones.some((z) => z.name === n)),
    ...ids.filter((n) => !zones.some((z) => z.id === n)),
  ];
  if (unknown.length) throw new Ec2Error('InvalidParameterValue', `The zone '${unknown[0]}' does not exist.`);
  const filter = parseFilters(ctx.params, zoneFields);
  const selected = zones.filter(
    (z) =>
      (!names.length || names.includes(z.name)) &&
      (!ids.length || ids.includes(z.id)) &&
      (!filter || filter.test(untagged(z))),
  );
  return {
    availabilityZoneInfo: selected.map((z) => ({
      zoneName: z.name,
      zoneState: 'available',
      regionName: z.region,
      zoneId: z.id,
      groupName: z.region,
      networkBorderGroup: z.region,
      optInStatus: 'opt-in-not-required',
      zoneType: 'availability-zone',
      messageSet: [],
    })),
  };
};

const typeFields: FilterFields<InstanceTypeInfo & { tags: Tags }> = {
  'instance-type': (t) => t.name,
  'current-generation': (t) => String(t.currentGeneration),
  'processor-info.supported-architecture': (t) => t.arch,
  'vcpu-info.default-vcpus': (t) => String(t.vcpus),
  'memory-info.size-in-mib': (t) => String(t.memoryMiB),
  'burstable-performance-supported': (t) => String(t.burstable),
  'bare-metal': () => 'false',
  hypervisor: () => 'nitro',
};

export const describeInstanceTypes: ActionHandler = (ctx) => {
  const names = ctx.params.strList('InstanceType');
  const unknown = names.filter((n) => !INSTANCE_TYPES.some((t) => t.name === n));
  if (unknown.length)
    throw new Ec2Error(
      'InvalidInstanceType',
      `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
    );
  const filter = parseFilters(ctx.params, typeFields);
  const selected = INSTANCE_TYPES.filter(
    (t) => (!names.length || names.includes(t.name)) && (!filter || filter.test(untagged(t))),
  );
  const { items, nextToken } = page(ctx, selected, 5, 100);
  return {
    instanceTypeSet: items.map((t) => ({
      instanceType: t.name,
      currentGeneration: t.currentGeneration,
      freeTierEligible: t.name === 't3.micro',
      supportedUsageClasses: ['on-demand', 'spot'],
      supportedRootDeviceTypes: ['ebs'],
      supportedVirtualizationTypes: ['hvm'],
      bareMetal: false,
      hypervisor: 'nitro',
      processorInfo: { supportedArchitectures: [t.arch], sustainedClockSpeedInGhz: t.arch === 'arm64' ? 2.5 : 3.1 },
      vCpuInfo: {
        defaultVCpus: t.vcpus,
        defaultCores: Math.max(1, t.vcpus / (t.arch === 'arm64' ? 1 : 2)),
        defaultThreadsPerCore: t.arch === 'arm64' || t.vcpus === 1 ? 1 : 2,
      },
      memoryInfo: { sizeInMiB: t.memoryMiB },
      instanceStorageSupported: false,
      ebsInfo: { ebsOptimizedSupport: 'default', encryptionSupport: 'supported', nvmeSupport: 'required' },
      networkInfo: {
        networkPerformance: t.network,
        maximumNetworkInterfaces: t.vcpus <= 2 ? 3 : 4,
        ipv4AddressesPerInterface: t.vcpus <= 2 ? 12 : 15,
        ipv6Supported: true,
        enaSupport: 'required',
      },
      placementGroupInfo: { supportedStrategies: ['partition', 'spread'] },
      hibernationSupported: !t.burstable,
      burstablePerformanceSupported: t.burstable,
      dedicatedHostsSupported: !t.burstable,
      autoRecoverySupported: true,
      supportedBootModes: ['legacy-bios', 'uefi'],
    })),
    nextToken,
  };
};

export const describeInstanceTypeOfferings: ActionHandler = (ctx) => {
  const locationType = ctx.params.str('LocationType') ?? 'region';
  if (!['region', 'availability-zone', 'availability-zone-id'].includes(locationType)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${locationType}) for parameter locationType is invalid. Valid values: region, availability-zone, availability-zone-id.`,
    );
  }
  const offers: Array<{ instanceType: string; location: string; tags: Tags }> = [];
  for (const t of INSTANCE_TYPES) {
    if (locationType === 'region') offers.push({ instanceType: t.name, location: ctx.region, tags: NO_TAGS });
    else
      for (const z of zonesOf(ctx.region))
        if (offeredIn(t, z.name))
          offers.push({
            instanceType: t.name,
            location: locationType === 'availability-zone' ? z.name : z.id,
            tags: NO_TAGS,
          });
  }
  const filter = parseFilters<(typeof offers)[number]>(ctx.params, {
    'instance-type': (o) => o.instanceType,
    location: (o) => o.location,
  });
  const { items, nextToken } = page(ctx, filter ? offers.filter((o) => filter.test(o)) : offers, 5, 1000);
  return {
    instanceTypeOfferingSet: items.map((o) => ({ instanceType: o.instanceType, locationType, location: o.location })),
    nextToken,
  };
};

const imageFields: FilterFields<Image & { tags: Tags }> = {
  name: (i) => i.name,
  'image-id': (i) => i.id,
  architecture: (i) => i.arch,
  state: () => 'available',
  'owner-id': () => CANONICAL_OWNER,
  'root-device-type': () => 'ebs',
  'virtualization-type': () => 'hvm',
  'image-type': () => 'machine',
  'is-public': () => 'true',
  description: (i) => i.description,
  'creation-date': (i) => i.creationDate,
  'platform-details': () => 'Linux/UNIX',
};

export const describeImages: ActionHandler = (ctx) => {
  const ids = ctx.params.strList('ImageId');
  const owners = ctx.params.strList('Owner');
  const images = imagesOf(ctx.region);
  const missing = ids.filter((id) => !images.some((i) => i.id === id));
  if (missing.length)
    throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
  // Only Canonical's images exist here; `self` and other accounts own none.
  const ownerOk = !owners.length || owners.includes(CANONICAL_OWNER);
  const filter = parseFilters(ctx.params, imageFields);
  const selected = ownerOk
    ? images.filter((i) => (!ids.length || ids.includes(i.id)) && (!filter || filter.test(untagged(i))))
    : [];
  const { items, nextToken } = page(ctx, selected, 5, 1000);
  return {
    imagesSet: items.map((i) => ({
      imageId: i.id,
      imageLocation: `amazon/${i.name}`,
      imageState: 'available',
      imageOwnerId: CANONICAL_OWNER,
      creationDate: i.creationDate,
      isPublic: true,
      architecture: i.arch,
      imageType: 'machine',
      sriovNetSupport: 'simple',
      name: i.name,
      description: i.description,
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/sda1',
      blockDeviceMapping: [
        {
          deviceName: '/dev/sda1',
          ebs: {
            snapshotId: `snap-${i.id.slice(4)}`,
            volumeSize: 8,
            deleteOnTermination: true,
            volumeType: 'gp3',
            encrypted: false,
          },
        },
      ],
      virtualizationType: 'hvm',
      hypervisor: 'xen',
      enaSupport: true,
      platformDetails: 'Linux/UNIX',
      usageOperation: 'RunInstances',
      bootMode: 'uefi-preferred',
      imdsSupport: undefined,
      deprecationTime: undefined,
    })),
    nextToken,
  };
};
