import type { ActionContext, ActionHandler } from './action.js';
import { ACCOUNT_ID } from './catalog.js';
import { formatIp, parseIp } from './cidr.js';
import { checkId, Ec2Error, notFound } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import type { Ec2Instance, ElasticIp } from './model.js';
import { NO_TAGS, parseTagSpecifications } from './tags.js';
import { tagSet, type XmlValue } from './xml.js';

/**
 * Elastic IPs: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress, DescribeAddresses. Only the
 * VPC domain exists (EC2-Classic is retired), so `Domain=standard` is answered as `vpc`, as EC2 does today.
 */

/** EC2's default quota of Elastic IPs per region. */
export const ADDRESS_LIMIT = 5;

const eniOf = (instanceId: string) => `eni-${instanceId.slice(2)}`;

function live(ctx: ActionContext, instanceId: string): Ec2Instance | undefined {
  const instance = ctx.store.instances.get(instanceId);
  if (!instance || instance.launch.region !== ctx.region) return undefined;
  const state = ctx.store.stateOf(instance).name;
  return state === 'pending' || state === 'running' ? instance : undefined;
}

function addressXml(ctx: ActionContext, a: ElasticIp): XmlValue {
  const instance = a.association ? ctx.store.instances.get(a.association.instanceId) : undefined;
  return {
    publicIp: formatIp(a.publicIp),
    allocationId: a.id,
    domain: 'vpc',
    instanceId: a.association?.instanceId,
    associationId: a.association?.id,
    networkInterfaceId: a.association ? eniOf(a.association.instanceId) : undefined,
    networkInterfaceOwnerId: a.association ? ACCOUNT_ID : undefined,
    privateIpAddress: instance ? formatIp(instance.ip) : undefined,
    tagSet: tagSet(a.tags),
    publicIpv4Pool: 'amazon',
    networkBorderGroup: a.region,
  };
}

function byAllocation(ctx: ActionContext, id: string): ElasticIp {
  checkId(id, 'eipalloc', 'AllocationID');
  const found = ctx.store.addresses.get(id);
  if (!found || found.region !== ctx.region)
    throw new Ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
  return found;
}

function byPublicIp(ctx: ActionContext, ip: string): ElasticIp {
  const n = parseIp(ip);
  for (const a of ctx.store.addresses.values()) if (a.region === ctx.region && a.publicIp === n) return a;
  throw new Ec2Error('InvalidAddress.NotFound', `Address '${ip}' not found.`);
}

/** The address an Allocate/Associate/Release call names: by AllocationId, or by PublicIp as older clients send. */
function named(ctx: ActionContext): ElasticIp {
  const allocation = ctx.params.str('AllocationId');
  if (allocation) return byAllocation(ctx, allocation);
  const ip = ctx.params.str('PublicIp');
  if (ip) return byPublicIp(ctx, ip);
  throw new Ec2Error('MissingParameter', 'The request must contain the parameter AllocationId');
}

/** Ends an association: the instance gets a fresh public address back if it had one before (as EC2 does). */
export function disassociate(ctx: ActionContext, a: ElasticIp): void {
  const association = a.association;
  if (!association) return;
  a.association = undefined;
  const instance = ctx.store.instances.get(association.instanceId);
  if (instance && instance.publicIp === a.publicIp)
    instance.publicIp = association.previousPublicIp === undefined ? undefined : ctx.store.nextPublicIp();
}

/** A terminated instance gives up its Elastic IPs (they stay allocated, unassociated). */
export function releaseFromInstance(ctx: ActionContext, instanceId: string): void {
  for (const a of ctx.store.addresses.values()) if (a.association?.instanceId === instanceId) disassociate(ctx, a);
}

export const allocateAddress: ActionHandler = (ctx) => {
  const { params, store } = ctx;
  const domain = params.str('Domain') ?? 'vpc';
  if (domain !== 'vpc' && domain !== 'standard')
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${domain}' for domain.`);
  if (params.has('Address'))
    throw new Ec2Error(
      'InvalidParameterValue',
      'Allocating a specific address needs a BYOIP pool; cloudsim has only the amazon pool.',
    );
  const pool = params.str('PublicIpv4Pool');
  if (pool !== undefined && pool !== 'amazon')
    throw new Ec2Error('InvalidPublicIpv4PoolID.NotFound', `The pool ID '${pool}' does not exist`);
  const tags = parseTagSpecifications(params, ['elastic-ip']).get('elastic-ip') ?? NO_TAGS;
  let count = 0;
  for (const a of store.addresses.values()) if (a.region === ctx.region) count++;
  if (count >= ADDRESS_LIMIT)
    throw new Ec2Error('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
  const address: ElasticIp = { id: store.newId('eipalloc'), region: ctx.region, publicIp: store.nextPublicIp(), tags };
  store.addresses.set(address.id, address);
  return {
    publicIp: formatIp(address.publicIp),
    domain: 'vpc',
    allocationId: address.id,
    publicIpv4Pool: 'amazon',
    networkBorderGroup: ctx.region,
  };
};

export const associateAddress: ActionHandler = (ctx) => {
  const { params, store } = ctx;
  const address = named(ctx);
  const instanceParam = params.str('InstanceId');
  const eni = params.str('NetworkInterfaceId');
  if (!instanceParam && !eni)
    throw new Ec2Error('MissingParameter', 'Either instance ID or network interface ID must be specified.');
  let instanceId: string;
  if (eni) {
    checkId(eni, 'eni', 'NetworkInterfaceID');
    instanceId = `i-${eni.slice(4)}`;
    if (!store.instances.has(instanceId) || store.instances.get(instanceId)!.launch.region !== ctx.region)
      throw new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eni}' does not exist`);
    if (instanceParam && instanceParam !== instanceId)
      throw new Ec2Error(
        'InvalidParameterCombination',
        `Network interface '${eni}' is not attached to instance '${instanceParam}'.`,
      );
  } else {
    instanceId = instanceParam!;
    checkId(instanceId, 'i', 'InstanceID');
    if (!store.instances.has(instanceId) || store.instances.get(instanceId)!.launch.region !== ctx.region)
      throw notFound('InstanceID', 'instance ID', [instanceId]);
  }
  const instance = live(ctx, instanceId);
  if (!instance)
    throw new Ec2Error(
      'IncorrectInstanceState',
      `The instance '${instanceId}' is not in a valid state for this operation.`,
    );
  if (
    address.association &&
    address.association.instanceId !== instanceId &&
    params.bool('AllowReassociation') !== true
  )
    throw new Ec2Error(
      'Resource.AlreadyAssociated',
      `resource ${address.id} is already associated with associate-id ${address.association.id}`,
    );
  // An instance's primary address holds one Elastic IP: a new one replaces the old, which stays allocated.
  for (const other of store.addresses.values())
    if (other !== address && other.association?.instanceId === instanceId) disassociate(ctx, other);
  if (address.association?.instanceId !== instanceId) {
    disassociate(ctx, address);
    address.association = {
      id: store.newId('eipassoc'),
      instanceId,
      previousPublicIp: instance.publicIp,
    };
    instance.publicIp = address.publicIp;
  }
  return { return: true, associationId: address.association!.id };
};

export const disassociateAddress: ActionHandler = (ctx) => {
  const id = ctx.params.str('AssociationId');
  let address: ElasticIp | undefined;
  if (id) {
    checkId(id, 'eipassoc', 'AssociationID');
    for (const a of ctx.store.addresses.values()) if (a.region === ctx.region && a.association?.id === id) address = a;
    if (!address) throw new Ec2Error('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
  } else {
    const ip = ctx.params.str('PublicIp');
    if (!ip) throw new Ec2Error('MissingParameter', 'The request must contain the parameter AssociationId');
    address = byPublicIp(ctx, ip);
  }
  disassociate(ctx, address);
  return { return: true };
};

export const releaseAddress: ActionHandler = (ctx) => {
  const address = named(ctx);
  if (address.association)
    throw new Ec2Error('InvalidIPAddress.InUse', `Address ${formatIp(address.publicIp)} is in use.`);
  ctx.store.addresses.delete(address.id);
  return { return: true };
};

const addressFields: FilterFields<ElasticIp> = {
  'allocation-id': (a) => a.id,
  'association-id': (a) => a.association?.id,
  domain: () => 'vpc',
  'instance-id': (a) => a.association?.instanceId,
  'network-interface-id': (a) => (a.association ? eniOf(a.association.instanceId) : undefined),
  'network-interface-owner-id': (a) => (a.association ? ACCOUNT_ID : undefined),
  'network-border-group': (a) => a.region,
  'public-ip': (a) => formatIp(a.publicIp),
};

export const describeAddresses: ActionHandler = (ctx) => {
  const { params, store } = ctx;
  const allocationIds = params.strList('AllocationId');
  const publicIps = params.strList('PublicIp');
  let items = [...store.addresses.values()].filter((a) => a.region === ctx.region);
  if (allocationIds.length) {
    for (const id of allocationIds) checkId(id, 'eipalloc', 'AllocationID');
    const missing = allocationIds.filter((id) => !items.some((a) => a.id === id));
    if (missing.length)
      throw new Ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${missing.join(', ')}' does not exist`);
    items = items.filter((a) => allocationIds.includes(a.id));
  }
  if (publicIps.length) {
    const missing = publicIps.filter((ip) => !items.some((a) => formatIp(a.publicIp) === ip));
    if (missing.length) throw new Ec2Error('InvalidAddress.NotFound', `Address '${missing.join(', ')}' not found.`);
    items = items.filter((a) => publicIps.includes(formatIp(a.publicIp)));
  }
  const filter = parseFilters<ElasticIp>(params, {
    ...addressFields,
    'private-ip-address': (a) => {
      const instance = a.association ? store.instances.get(a.association.instanceId) : undefined;
      return instance ? formatIp(instance.ip) : undefined;
    },
  });
  if (filter) items = items.filter((a) => filter.test(a));
  return { addressesSet: items.map((a) => addressXml(ctx, a)) };
};
