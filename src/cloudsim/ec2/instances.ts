import { type ActionContext, type ActionHandler, decodeToken, encodeToken } from './action.js';
import { releaseFromInstance } from './addresses.js';
import { ACCOUNT_ID } from './catalog.js';
import { formatCidr, formatIp } from './cidr.js';
import { checkId, Ec2Error, notFound } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import { instanceXml, renderInstanceXml } from './instance-xml.js';
import {
  allocateAddresses,
  clientToken,
  createInstances,
  grantCapacity,
  mergeTemplate,
  remember,
  replay,
  resolveLaunch,
} from './launch.js';
import { parseLaunchData } from './launch-spec.js';
import { resolveTemplate } from './launch-templates.js';
import type { Ec2Instance } from './model.js';
import { ec2NetworkKey } from './net-view.js';
import { RawXml, type XmlValue } from './xml.js';

/** RunInstances, DescribeInstances, TerminateInstances, StopInstances, StartInstances. */

/** Instances grouped into consecutive reservations, as DescribeInstances shows them. */
function reservationsXml(ctx: ActionContext, instances: readonly Ec2Instance[]): XmlValue {
  const now = ctx.store.now();
  const out: Array<{ reservationId: string; ownerId: string; groupSet: XmlValue; instancesSet: XmlValue[] }> = [];
  for (const i of instances) {
    let last = out[out.length - 1];
    if (!last || last.reservationId !== i.launch.reservationId) {
      last = { reservationId: i.launch.reservationId, ownerId: ACCOUNT_ID, groupSet: [], instancesSet: [] };
      out.push(last);
    }
    last.instancesSet.push(instanceXml(ctx.store, i, ctx.store.stateOf(i, now)));
  }
  return out;
}

function reservationResult(ctx: ActionContext, instances: readonly Ec2Instance[]): Record<string, XmlValue> {
  const now = ctx.store.now();
  return {
    reservationId: instances[0]?.launch.reservationId,
    ownerId: ACCOUNT_ID,
    groupSet: [],
    // Launch answers show instances pending, a state they soon leave: not worth keeping a rendering of.
    instancesSet: instances.map((i) => new RawXml(renderInstanceXml(ctx.store, i, ctx.store.stateOf(i, now)))),
  };
}

export const runInstances: ActionHandler = (ctx) => {
  const { params } = ctx;
  const max = params.int('MaxCount');
  const min = params.int('MinCount');
  if (max === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter MaxCount');
  if (min === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter MinCount');
  if (min < 1)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${min}) for parameter minCount is invalid. Expected a value greater than 0.`,
    );
  if (max < min)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${max}) for parameter maxCount is invalid. MaxCount must be greater than or equal to MinCount (${min}).`,
    );
  const token = clientToken(ctx);
  const previous = replay(ctx, 'RunInstances', token);
  if (previous !== undefined)
    return reservationResult(
      ctx,
      ctx.store.order.filter((i) => i.launch.reservationId === previous),
    );

  const ltSpec = params.struct('LaunchTemplate');
  const template = ltSpec
    ? resolveTemplate(ctx, {
        id: ltSpec.str('LaunchTemplateId'),
        name: ltSpec.str('LaunchTemplateName'),
        version: ltSpec.str('Version'),
      })
    : undefined;
  const { privateIp, ...data } = parseLaunchData(params);
  const input = mergeTemplate(template, {
    ...data,
    zone: params.str('Placement.AvailabilityZone'),
    groupNames: params.strList('SecurityGroup'),
    keyName: params.str('KeyName'),
    templateVersion: ltSpec?.str('Version'),
  });
  const plan = resolveLaunch(ctx, input);
  if (privateIp !== undefined && max > 1) {
    throw new Ec2Error(
      'InvalidParameterCombination',
      'Cannot specify a private IP address when launching more than one instance (MaxCount > 1).',
    );
  }
  const grant = grantCapacity(ctx, plan, min, max);
  ctx.limiter.takeInstances(ctx.account, ctx.region, grant.count);
  const ips = allocateAddresses(plan.subnet, grant.count, privateIp);
  const instances = createInstances(ctx, plan, ips, grant, { clientToken: token });
  remember(ctx, 'RunInstances', token, instances[0]!.launch.reservationId);
  return reservationResult(ctx, instances);
};

const instanceFields: FilterFields<Ec2Instance> = {
  'instance-id': (i) => i.id,
  'reservation-id': (i) => i.launch.reservationId,
  'instance-type': (i) => i.launch.instanceType,
  'image-id': (i) => i.launch.imageId,
  'availability-zone': (i) => i.launch.zone,
  'vpc-id': (i) => i.launch.vpcId,
  'subnet-id': (i) => i.launch.subnetId,
  'private-ip-address': (i) => formatIp(i.ip),
  'ip-address': (i) => (i.publicIp === undefined ? undefined : formatIp(i.publicIp)),
  'client-token': (i) => i.launch.clientToken,
  'instance.group-id': (i) => i.launch.groupIds,
  'launch-index': (i) => String(i.index),
  'owner-id': () => ACCOUNT_ID,
  'metadata-options.http-tokens': (i) => i.launch.metadata.httpTokens,
};

/** A NextToken of DescribeInstances resumes after a creation sequence number, so pages stay stable as VMs come and go. */
export const describeInstances: ActionHandler = (ctx) => {
  const { params, store } = ctx;
  const ids = params.strList('InstanceId');
  const size = params.int('MaxResults');
  if (ids.length && size !== undefined)
    throw new Ec2Error(
      'InvalidParameterCombination',
      'The parameter instancesSet cannot be used with the parameter maxResults',
    );
  if (size !== undefined && (size < 5 || size > 1000)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value ( ${size} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
    );
  }
  const token = params.str('NextToken');
  const after = token === undefined ? 0 : decodeToken(token);
  const stateFilter = ['instance-state-name', 'instance-state-code'];
  const now = store.now();
  store.purge(now);
  const filter = parseFilters(params, {
    ...instanceFields,
    [stateFilter[0]!]: (i) => store.stateOf(i, now).name,
    [stateFilter[1]!]: (i) => String(store.stateOf(i, now).code),
  });
  if (ids.length) {
    for (const id of ids) checkId(id, 'i', 'InstanceID');
    const missing = ids.filter((id) => store.instances.get(id)?.launch.region !== ctx.region);
    if (missing.length) throw notFound('InstanceID', 'instance ID', missing);
    const wanted = new Set(ids);
    const found = store.order.filter((i) => wanted.has(i.id) && (!filter || filter.test(i)));
    return { reservationSet: reservationsXml(ctx, found) };
  }
  const out: Ec2Instance[] = [];
  const limit = size ?? Number.POSITIVE_INFINITY;
  let next: string | undefined;
  const order = store.order;
  for (let k = store.indexAfter(after); k < order.length; k++) {
    const i = order[k]!;
    if (i.launch.region !== ctx.region || (filter && !filter.test(i))) continue;
    if (out.length === limit) {
      next = encodeToken(out[out.length - 1]!.seq);
      break;
    }
    out.push(i);
  }
  return { reservationSet: reservationsXml(ctx, out), nextToken: next };
};

export const terminateInstances: ActionHandler = (ctx) => {
  const { store } = ctx;
  const ids = ctx.params.strList('InstanceId');
  if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids) checkId(id, 'i', 'InstanceID');
  store.purge();
  const missing = ids.filter((id) => store.instances.get(id)?.launch.region !== ctx.region);
  if (missing.length) throw notFound('InstanceID', 'instance ID', missing);
  const now = store.now();
  const changes = [...new Set(ids)].map((id) => {
    const instance = store.instances.get(id)!;
    const previousState = store.stateOf(instance, now);
    terminate(ctx, instance, now);
    return { instanceId: id, currentState: store.stateOf(instance, now), previousState };
  });
  return { instancesSet: changes };
};

/** Starts shutting an instance down (no-op when it already is): stops its local VM, then frees its address. */
export function terminate(ctx: ActionContext, instance: Ec2Instance, now: number): void {
  if (instance.endedAt !== undefined && now >= instance.endedAt) return;
  instance.endedAt = now;
  instance.reason = 'Client.UserInitiatedShutdown';
  releaseFromInstance(ctx, instance.id);
  const free = () => ctx.store.subnets.get(instance.launch.subnetId)?.used.delete(instance.ip);
  if (ctx.sim.settings.backing === 'local' && ctx.sim.backing) {
    // The host VM is torn down in the background; EC2 also answers before the instance is gone. Its address stays
    // taken until then, as EC2 keeps it on the instance's interface while it shuts down.
    void ctx.sim.backing
      .stop({ cloud: 'aws', id: instance.id })
      .catch(() => undefined)
      .finally(free);
  } else free();
}

/** The instances a Stop/StartInstances call names, all of them in the caller's region (or InvalidInstanceID.NotFound). */
function named(ctx: ActionContext): Ec2Instance[] {
  const { store } = ctx;
  const ids = ctx.params.strList('InstanceId');
  if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids) checkId(id, 'i', 'InstanceID');
  store.purge();
  const missing = ids.filter((id) => store.instances.get(id)?.launch.region !== ctx.region);
  if (missing.length) throw notFound('InstanceID', 'instance ID', missing);
  return [...new Set(ids)].map((id) => store.instances.get(id)!);
}

const hasElasticIp = (ctx: ActionContext, instance: Ec2Instance): boolean =>
  [...ctx.store.addresses.values()].some((a) => a.association?.instanceId === instance.id);

interface PowerTransition {
  /** States from which the call is accepted (the others fail with IncorrectInstanceState). */
  readonly acceptedFrom: readonly string[];
  readonly refusal: (id: string) => string;
  /** The state the call acts on; from any other accepted state it changes nothing. */
  readonly actsOn: string;
  readonly act: (ctx: ActionContext, instance: Ec2Instance, now: number) => void;
}

const powerTransition =
  (transition: PowerTransition): ActionHandler =>
  (ctx) => {
    const instances = named(ctx);
    const now = ctx.store.now();
    for (const instance of instances) {
      if (!transition.acceptedFrom.includes(ctx.store.stateOf(instance, now).name))
        throw new Ec2Error('IncorrectInstanceState', transition.refusal(instance.id));
    }
    const changes = instances.map((instance) => {
      const previousState = ctx.store.stateOf(instance, now);
      if (previousState.name === transition.actsOn) transition.act(ctx, instance, now);
      return { instanceId: instance.id, currentState: ctx.store.stateOf(instance, now), previousState };
    });
    return { instancesSet: changes };
  };

const localBacking = (ctx: ActionContext) => (ctx.sim.settings.backing === 'local' ? ctx.sim.backing : undefined);

/**
 * StopInstances: running → stopping → stopped. The private address and volumes stay; an auto-assigned public
 * address is released (an Elastic IP stays associated). With the local backing the VM powers off, its disk kept.
 * Stopping a stopping or stopped instance changes nothing; a pending or terminated one cannot be stopped.
 */
export const stopInstances: ActionHandler = powerTransition({
  acceptedFrom: ['running', 'stopping', 'stopped'],
  refusal: (id) => `This instance '${id}' is not in a state from which it can be stopped.`,
  actsOn: 'running',
  act: (ctx, instance, now) => {
    instance.stoppedAt = now;
    instance.startedAt = undefined;
    instance.reason = 'Client.UserInitiatedShutdown';
    if (!hasElasticIp(ctx, instance)) instance.publicIp = undefined;
    const backing = localBacking(ctx);
    if (!backing?.powerOff) return;
    instance.backingStopping = true;
    backing
      .powerOff({ cloud: 'aws', id: instance.id })
      .catch(() => undefined)
      .finally(() => {
        instance.backingStopping = false;
      });
  },
});

/**
 * StartInstances: stopped → pending → running, with the same private address and a new auto-assigned public one
 * (an Elastic IP stays). With the local backing the VM boots again from its disk (per-boot scripts, no user data).
 * Starting a pending or running instance changes nothing; a stopping or terminated one cannot be started.
 */
export const startInstances: ActionHandler = powerTransition({
  acceptedFrom: ['stopped', 'pending', 'running'],
  refusal: (id) => `The instance '${id}' is not in a state from which it can be started.`,
  actsOn: 'stopped',
  act: (ctx, instance, now) => {
    instance.stoppedAt = undefined;
    instance.startedAt = now;
    instance.reason = undefined;
    if (instance.launch.autoPublicIp && !hasElasticIp(ctx, instance)) instance.publicIp = ctx.store.nextPublicIp();
    const backing = localBacking(ctx);
    const subnet = ctx.store.subnets.get(instance.launch.subnetId);
    if (!backing?.powerOn || !subnet) return;
    instance.backingPending = true;
    backing
      .powerOn({
        cloud: 'aws',
        id: instance.id,
        subnetCidr: formatCidr(subnet.cidr),
        network: ec2NetworkKey(instance.launch.region, instance.launch.vpcId),
      })
      .catch(() => {
        // EC2 shows an instance that failed to start as stopped again.
        instance.stoppedAt = ctx.store.now();
        instance.reason = 'Server.InternalError';
      })
      .finally(() => {
        instance.backingPending = false;
      });
  },
});
