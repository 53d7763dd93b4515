import { Ec2Error } from './errors.js';
import type { BlockDevice, HostnameType, LaunchTemplateData, MetadataOptions } from './model.js';
import type { QueryParams } from './query.js';
import { parseTagSpecifications } from './tags.js';

/** Parameters RunInstances and launch templates share: user data, metadata options, network interface. */

export const USER_DATA_LIMIT = 16 * 1024;

/** EC2 takes UserData base64 encoded and limits the decoded bytes to 16 KB. */
export function checkUserData(b64: string | undefined): string | undefined {
  if (b64 === undefined) return undefined;
  const compact = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1)
    throw new Ec2Error('InvalidParameterValue', 'Invalid BASE64 encoding of user data.');
  const bytes = Buffer.from(compact, 'base64').length;
  if (bytes > USER_DATA_LIMIT)
    throw new Ec2Error(
      'InvalidParameterValue',
      `User data is limited to ${USER_DATA_LIMIT} bytes (got ${bytes} after base64 decoding).`,
    );
  return compact;
}

export function parseMetadataOptions(params: QueryParams | undefined): Partial<MetadataOptions> | undefined {
  if (!params) return undefined;
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const v = params.str(name);
    if (v !== undefined && !allowed.includes(v as T))
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value (${v}) for parameter ${name} is invalid. Allowed values: ${allowed.join(', ')}.`,
      );
    return v as T | undefined;
  };
  const out: { -readonly [K in keyof MetadataOptions]?: MetadataOptions[K] } = {};
  const httpTokens = oneOf('HttpTokens', ['optional', 'required'] as const);
  const httpEndpoint = oneOf('HttpEndpoint', ['enabled', 'disabled'] as const);
  const hopLimit = params.int('HttpPutResponseHopLimit', 1, 64);
  const tags = oneOf('InstanceMetadataTags', ['enabled', 'disabled'] as const);
  if (httpTokens) out.httpTokens = httpTokens;
  if (httpEndpoint) out.httpEndpoint = httpEndpoint;
  if (hopLimit !== undefined) out.hopLimit = hopLimit;
  if (tags) out.instanceMetadataTags = tags;
  return out;
}

export const DEFAULT_METADATA: MetadataOptions = Object.freeze({
  httpTokens: 'optional',
  httpEndpoint: 'enabled',
  hopLimit: 1,
  instanceMetadataTags: 'disabled',
});

/** Resource types RunInstances / launch templates may tag at launch. */
export const LAUNCH_TAG_TYPES = ['instance', 'volume', 'network-interface', 'spot-instances-request'] as const;

/**
 * The launch fields found at the top of RunInstances or inside `LaunchTemplateData` (same names).
 * The first network interface may carry subnet, groups and the public-IP switch instead of the top level.
 */
export function parseLaunchData(params: QueryParams): LaunchTemplateData & { privateIp?: string } {
  const eni = params.list('NetworkInterface')[0];
  const groups = [...params.strList('SecurityGroupId'), ...(eni?.strList('SecurityGroupId') ?? [])];
  const specs = parseTagSpecifications(params, [...LAUNCH_TAG_TYPES]);
  const blockDevices = parseBlockDevices(params);
  return {
    imageId: params.str('ImageId'),
    instanceType: params.str('InstanceType'),
    userData: checkUserData(params.str('UserData')),
    groupIds: groups.length ? groups : undefined,
    subnetId: params.str('SubnetId') ?? eni?.str('SubnetId'),
    associatePublicIp: eni?.bool('AssociatePublicIpAddress'),
    metadata: parseMetadataOptions(params.struct('MetadataOptions')),
    instanceTags: specs.get('instance'),
    volumeTags: specs.get('volume'),
    blockDevices,
    privateIp: params.str('PrivateIpAddress') ?? eni?.str('PrivateIpAddress'),
    hostnameType: hostnameTypeOf(params.struct('PrivateDnsNameOptions')),
  };
}

/** The root device of every simulated AMI. */
export const ROOT_DEVICE = '/dev/sda1';

/** The AMI's own mapping: an 8 GiB gp3 root volume deleted with the instance. */
export const DEFAULT_BLOCK_DEVICES: readonly BlockDevice[] = Object.freeze([
  Object.freeze({ device: ROOT_DEVICE, sizeGiB: 8, volumeType: 'gp3', deleteOnTermination: true }),
]);

const VOLUME_TYPES = ['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'];

/**
 * `BlockDeviceMapping.N.{DeviceName,Ebs.VolumeSize,Ebs.VolumeType,Ebs.DeleteOnTermination}`. A mapping of the root
 * device changes the AMI's root volume; others add volumes. Undefined when the request maps nothing.
 */
export function parseBlockDevices(params: QueryParams): BlockDevice[] | undefined {
  const mappings = params.list('BlockDeviceMapping');
  if (mappings.length === 0) return undefined;
  const out = new Map<string, BlockDevice>(DEFAULT_BLOCK_DEVICES.map((d) => [d.device, d]));
  for (const m of mappings) {
    const device = m.required('DeviceName');
    const ebs = m.struct('Ebs');
    if (!ebs) continue;
    const base = out.get(device);
    const volumeType = ebs.str('VolumeType') ?? base?.volumeType ?? 'gp3';
    if (!VOLUME_TYPES.includes(volumeType))
      throw new Ec2Error('InvalidParameterValue', `Value (${volumeType}) for parameter volumeType is invalid.`);
    const sizeGiB = ebs.int('VolumeSize', 1, 65536) ?? base?.sizeGiB ?? 8;
    out.set(device, {
      device,
      sizeGiB,
      volumeType,
      deleteOnTermination: ebs.bool('DeleteOnTermination') ?? base?.deleteOnTermination ?? true,
    });
  }
  return [...out.values()];
}

function hostnameTypeOf(params: QueryParams | undefined): HostnameType | undefined {
  const v = params?.str('HostnameType');
  if (v === undefined) return undefined;
  if (v !== 'ip-name' && v !== 'resource-name')
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${v}) for parameter PrivateDnsNameOptions.HostnameType is invalid. Allowed values: ip-name, resource-name.`,
    );
  return v;
}
