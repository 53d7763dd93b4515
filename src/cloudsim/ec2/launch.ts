import { createHash } from 'node:crypto';
import type { ActionContext } from './action.js';
import { SIGNATURE_PARAMS } from './auth-v2.js';
import { DEFAULT_INSTANCE_TYPE, type InstanceTypeInfo, imagesOf, instanceType, offeredIn, zonesOf } from './catalog.js';
import { contains, formatCidr, formatIp, isReserved, parseIp } from './cidr.js';
import { checkId, Ec2Error } from './errors.js';
import { DEFAULT_BLOCK_DEVICES, DEFAULT_METADATA } from './launch-spec.js';
import type {
  BlockDevice,
  Ec2Instance,
  HostnameType,
  Launch,
  LaunchTemplate,
  LaunchTemplateData,
  MetadataOptions,
  Subnet,
} from './model.js';
import { ec2NetworkKey } from './net-view.js';
import { NO_TAGS, type Tags, withTags } from './tags.js';
import { addVolumes } from './volumes.js';

/** Turning a launch request (RunInstances or one fleet override) into instances: validation, capacity, addresses. */

export interface LaunchInput extends LaunchTemplateData {
  readonly zone?: string;
  readonly groupNames?: readonly string[];
  readonly keyName?: string;
  readonly template?: LaunchTemplate;
  readonly templateVersion?: string;
}

export interface LaunchPlan {
  readonly subnet: Subnet;
  readonly type: InstanceTypeInfo;
  readonly imageId: string;
  readonly groupIds: readonly string[];
  readonly userData?: string;
  readonly metadata: MetadataOptions;
  readonly tags: Tags;
  readonly volumeTags: Tags;
  readonly blockDevices: readonly BlockDevice[];
  readonly publicIp: boolean;
  readonly hostnameType?: HostnameType;
  readonly template?: { readonly id: string; readonly version: string };
}

/** Template data first, the request's own fields over it (EC2's precedence). */
export function mergeTemplate(template: LaunchTemplate | undefined, input: LaunchInput): LaunchInput {
  if (!template) return input;
  const d = template.data;
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as LaunchInput;
  return {
    ...d,
    ...defined,
    metadata: { ...d.metadata, ...input.metadata },
    instanceTags: input.instanceTags ? withTags(d.instanceTags ?? NO_TAGS, input.instanceTags) : d.instanceTags,
    volumeTags: input.volumeTags ? withTags(d.volumeTags ?? NO_TAGS, input.volumeTags) : d.volumeTags,
    template,
  };
}

export function resolveLaunch(ctx: ActionContext, input: LaunchInput): LaunchPlan {
  const { store, region } = ctx;
  const imageId = input.imageId;
  if (!imageId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
  checkId(imageId, 'ami', 'AMIID');
  const image = imagesOf(region).find((i) => i.id === imageId);
  if (!image) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  const typeName = input.instanceType ?? DEFAULT_INSTANCE_TYPE;
  const type = instanceType(typeName);
  if (!type) throw new Ec2Error('InvalidParameterValue', `Invalid value '${typeName}' for InstanceType.`);
  if (type.arch !== image.arch) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `The architecture '${type.arch}' of the specified instance type does not match the architecture '${image.arch}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`,
    );
  }
  if (input.keyName) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${input.keyName}' does not exist`);
  if (input.zone && !zonesOf(region).some((z) => z.name === input.zone)) {
    throw new Ec2Error('InvalidParameterValue', `Invalid availability zone: [${input.zone}]`);
  }
  const subnet = input.subnetId ? store.subnet(input.subnetId, region) : store.defaultSubnet(region, input.zone);
  if (input.zone && subnet.zone !== input.zone) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${input.zone}) for parameter availabilityZone is invalid. Subnet '${subnet.id}' is in the availability zone ${subnet.zone}`,
    );
  }
  if (!offeredIn(type, subnet.zone)) {
    const offered = zonesOf(region)
      .filter((z) => offeredIn(type, z.name))
      .map((z) => z.name);
    throw new Ec2Error(
      'Unsupported',
      `Your requested instance type (${type.name}) is not supported in your requested Availability Zone (${subnet.zone}). Please retry your request by not specifying an Availability Zone or choosing ${offered.join(', ')}.`,
    );
  }
  const vpc = store.vpcs.get(subnet.vpcId)!;
  const groupIds = [...(input.groupIds ?? [])];
  for (const name of input.groupNames ?? []) {
    const g = [...store.groups.values()].find((x) => x.vpcId === vpc.id && x.name === name);
    if (!g)
      throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${vpc.id}'`);
    groupIds.push(g.id);
  }
  for (const id of groupIds) {
    const g = store.group(id, region);
    if (g.vpcId !== vpc.id)
      throw new Ec2Error(
        'InvalidParameter',
        `Security group ${id} and subnet ${subnet.id} belong to different networks.`,
      );
  }
  return {
    subnet,
    type,
    imageId,
    groupIds: groupIds.length ? [...new Set(groupIds)] : [vpc.defaultGroupId],
    userData: input.userData,
    metadata: Object.freeze({ ...DEFAULT_METADATA, ...input.metadata }),
    tags: input.instanceTags ?? NO_TAGS,
    volumeTags: input.volumeTags ?? NO_TAGS,
    blockDevices: input.blockDevices ?? DEFAULT_BLOCK_DEVICES,
    publicIp: input.associatePublicIp ?? subnet.mapPublicIp,
    ...(input.hostnameType ? { hostnameType: input.hostnameType } : {}),
    template: input.template ? { id: input.template.id, version: input.templateVersion ?? '1' } : undefined,
  };
}

export const capacityError = (type: string, zone: string, region: string): Ec2Error => {
  const others = zonesOf(region)
    .map((z) => z.name)
    .filter((z) => z !== zone);
  return new Ec2Error(
    'InsufficientInstanceCapacity',
    `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
  );
};

export interface Grant {
  readonly count: number;
  /** Capacity fault in async mode: instances are created, then fail while pending. */
  readonly failLater: boolean;
}

/** Applies capacity and quota faults to a request for min..max instances; throws below `min`. */
export function grantCapacity(ctx: ActionContext, plan: LaunchPlan, min: number, max: number): Grant {
  const where = { cloud: 'aws' as const, region: ctx.region, zone: plan.subnet.zone, instanceType: plan.type.name };
  const quota = ctx.sim.takeFault({ ...where, kind: 'quota' });
  if (quota) {
    throw new Ec2Error(
      'VcpuLimitExceeded',
      `You have requested more vCPU capacity than your current vCPU limit of ${Math.max(0, (quota.available ?? 0) * plan.type.vcpus)} allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
    );
  }
  const fault = ctx.sim.takeFault({ ...where, kind: 'capacity' });
  if (!fault) return { count: max, failLater: false };
  if (fault.mode === 'async') return { count: max, failLater: true };
  const available = fault.available ?? 0;
  if (available < min) throw capacityError(plan.type.name, plan.subnet.zone, ctx.region);
  return { count: Math.min(max, available), failLater: false };
}

/** Picks `count` free addresses of the subnet (skipping the 5 AWS reserves), or the fixed one asked for. */
export function allocateAddresses(subnet: Subnet, count: number, fixed?: string): number[] {
  if (fixed !== undefined) {
    const ip = parseIp(fixed);
    if (ip === undefined) throw new Ec2Error('InvalidParameterValue', `Invalid value '${fixed}' for privateIpAddress`);
    if (!contains(subnet.cidr, ip))
      throw new Ec2Error('InvalidParameterValue', `Address ${fixed} does not fall within the subnet's address range`);
    if (isReserved(subnet.cidr, ip))
      throw new Ec2Error('InvalidParameterValue', `Address ${fixed} is reserved by AWS in subnet ${subnet.id}`);
    if (subnet.used.has(ip)) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${fixed} is in use.`);
    subnet.used.add(ip);
    return [ip];
  }
  const hosts = subnet.cidr.size - 5;
  if (hosts - subnet.used.size < count) {
    throw new Ec2Error(
      'InsufficientFreeAddressesInSubnet',
      `There are not enough free addresses in subnet '${subnet.id}' to satisfy the requested number of instances.`,
    );
  }
  const out: number[] = [];
  let offset = subnet.next;
  while (out.length < count) {
    if (offset >= subnet.cidr.size - 1) offset = 4;
    const ip = subnet.cidr.base + offset;
    offset += 1;
    if (!subnet.used.has(ip)) {
      subnet.used.add(ip);
      out.push(ip);
    }
  }
  subnet.next = offset;
  return out;
}

/** Creates one reservation of `ips.length` instances from a resolved plan. */
export function createInstances(
  ctx: ActionContext,
  plan: LaunchPlan,
  ips: readonly number[],
  grant: Grant,
  extra: { clientToken?: string; fleetId?: string },
): Ec2Instance[] {
  const { store } = ctx;
  const now = store.now();
  const launch: Launch = {
    reservationId: store.newId('r'),
    region: ctx.region,
    zone: plan.subnet.zone,
    vpcId: plan.subnet.vpcId,
    subnetId: plan.subnet.id,
    imageId: plan.imageId,
    instanceType: plan.type.name,
    groupIds: plan.groupIds,
    userData: plan.userData,
    clientToken: extra.clientToken,
    metadata: plan.metadata,
    tags: plan.tags,
    ...(plan.hostnameType ? { hostnameType: plan.hostnameType } : {}),
    launchTemplate: plan.template,
    fleetId: extra.fleetId,
    volumeTags: plan.volumeTags,
    blockDevices: plan.blockDevices,
    ...(plan.publicIp ? { autoPublicIp: true } : {}),
  };
  const instances = ips.map((ip, index) => {
    const instance = store.addInstance(launch, index, ip, now);
    if (plan.publicIp) instance.publicIp = store.nextPublicIp();
    if (grant.failLater) {
      instance.endedAt = now + ctx.sim.settings.bootTimeMs;
      instance.reason = 'Server.InsufficientInstanceCapacity';
      plan.subnet.used.delete(ip);
    }
    addVolumes(store, instance);
    return instance;
  });
  if (ctx.sim.settings.backing === 'local' && ctx.sim.backing && !grant.failLater) startBacking(ctx, plan, instances);
  return instances;
}

/** The hostname EC2 gives the guest: the instance id with HostnameType=resource-name, else `ip-a-b-c-d` (never a tag). */
export function guestHostname(instance: Ec2Instance): string {
  return instance.launch.hostnameType === 'resource-name'
    ? instance.id
    : `ip-${formatIp(instance.ip).replace(/\./g, '-')}`;
}

/** Local backing: each instance becomes a real local VM running its user data; pending until it is up. */
function startBacking(ctx: ActionContext, plan: LaunchPlan, instances: Ec2Instance[]): void {
  const backing = ctx.sim.backing!;
  const userData = plan.userData ? Buffer.from(plan.userData, 'base64').toString('utf8') : '';
  for (const instance of instances) {
    instance.backingPending = true;
    const tags = Object.fromEntries(instance.tags);
    backing
      .start({
        cloud: 'aws',
        id: instance.id,
        name: guestHostname(instance),
        privateIp: formatIp(instance.ip),
        subnetCidr: formatCidr(plan.subnet.cidr),
        userData,
        tags,
        network: ec2NetworkKey(ctx.region, plan.subnet.vpcId),
      })
      .then(({ privateIp }) => {
        const ip = parseIp(privateIp);
        if (ip !== undefined && ip !== instance.ip) {
          plan.subnet.used.delete(instance.ip);
          instance.ip = ip;
          plan.subnet.used.add(ip);
        }
        // Flat network: the host reaches the VM at its private address, so that is its "public" one too.
        if (plan.publicIp && ip !== undefined && ctx.sim.settings.network !== 'realistic') instance.publicIp = ip;
      })
      .catch(() => {
        instance.endedAt = ctx.store.now();
        instance.reason = 'Server.InternalError';
      })
      .finally(() => {
        instance.backingPending = false;
      });
  }
}

/** Same token, same parameters → the same result; same token, other parameters → IdempotentParameterMismatch. */
export function fingerprint(ctx: ActionContext): string {
  // A retry is signed anew (V2 Timestamp/Signature, presigned X-Amz-*): those parameters are not the request.
  const entries = ctx.params
    .entries()
    .filter(([k]) => k !== 'Action' && k !== 'Version' && k !== 'ClientToken' && !SIGNATURE_PARAMS.test(k));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

export function clientToken(ctx: ActionContext): string | undefined {
  const token = ctx.params.str('ClientToken');
  if (token !== undefined && (token.length > 64 || !/^[\x20-\x7e]*$/.test(token))) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${token}) for parameter clientToken is invalid. It must be at most 64 ASCII characters.`,
    );
  }
  return token || undefined;
}

export function replay(ctx: ActionContext, action: string, token: string | undefined): string | undefined {
  if (!token) return undefined;
  const record = ctx.store.tokens.get(`${ctx.region}/${action}/${token}`);
  if (!record) return undefined;
  if (record.fingerprint !== fingerprint(ctx)) {
    throw new Ec2Error(
      'IdempotentParameterMismatch',
      'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
    );
  }
  return record.result;
}

export function remember(ctx: ActionContext, action: string, token: string | undefined, result: string): void {
  if (token)
    ctx.store.tokens.set(`${ctx.region}/${action}/${token}`, { action, fingerprint: fingerprint(ctx), result });
}
