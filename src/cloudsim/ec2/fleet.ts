import { type ActionContext, type ActionHandler, type ActionResult, page } from './action.js';
import { Ec2Error } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import { terminate } from './instances.js';
import {
  allocateAddresses,
  clientToken,
  createInstances,
  type Grant,
  grantCapacity,
  type LaunchPlan,
  mergeTemplate,
  remember,
  replay,
  resolveLaunch,
} from './launch.js';
import { LAUNCH_TAG_TYPES } from './launch-spec.js';
import { resolveTemplate } from './launch-templates.js';
import type { Fleet } from './model.js';
import { NO_TAGS, parseTagSpecifications, withTags } from './tags.js';
import { tagSet, type XmlValue } from './xml.js';

/**
 * CreateFleet of type `instant`: one call tries the overrides in allocation order, fills what it can and reports
 * each override that failed in `errorSet`, as EC2 does. Below OnDemandOptions.MinTargetCapacity nothing launches.
 */

interface Candidate {
  readonly order: number;
  readonly priority: number;
  readonly spec: XmlValue;
  plan?: LaunchPlan;
  error?: Ec2Error;
}

const errorItem = (c: Candidate, e: Ec2Error) => ({
  launchTemplateAndOverrides: c.spec,
  lifecycle: 'on-demand',
  errorCode: e.code,
  errorMessage: e.message,
});

export const createFleet: ActionHandler = (ctx) => {
  const { params } = ctx;
  const type = params.str('Type') ?? 'maintain';
  if (type !== 'instant')
    throw new Ec2Error('Unsupported', `cloudsim simulates CreateFleet with Type=instant only (got ${type}).`);
  const target = params.struct('TargetCapacitySpecification');
  if (!target)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter TargetCapacitySpecification');
  const total = target.int('TotalTargetCapacity', 1, 10_000);
  if (total === undefined)
    throw new Ec2Error(
      'MissingParameter',
      'The request must contain the parameter TargetCapacitySpecification.TotalTargetCapacity',
    );
  const capacityType = target.str('DefaultTargetCapacityType');
  if (capacityType !== 'on-demand')
    throw new Ec2Error(
      'Unsupported',
      `cloudsim simulates on-demand fleets only (DefaultTargetCapacityType=${capacityType ?? 'missing'}).`,
    );
  const onDemand = params.struct('OnDemandOptions');
  const minTarget = onDemand?.int('MinTargetCapacity', 0, total) ?? 0;
  const strategy = onDemand?.str('AllocationStrategy') ?? 'lowest-price';
  if (strategy !== 'lowest-price' && strategy !== 'prioritized')
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${strategy}' for AllocationStrategy`);
  const singleType = onDemand?.bool('SingleInstanceType') ?? false;
  const singleZone = onDemand?.bool('SingleAvailabilityZone') ?? false;
  const configs = params.list('LaunchTemplateConfigs');
  if (!configs.length)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter LaunchTemplateConfigs');

  const token = clientToken(ctx);
  const previous = replay(ctx, 'CreateFleet', token);
  if (previous !== undefined) return JSON.parse(previous) as ActionResult;

  const tagSpecs = parseTagSpecifications(params, [...LAUNCH_TAG_TYPES, 'fleet']);
  const candidates: Candidate[] = [];
  for (const config of configs) {
    const ltParams = config.struct('LaunchTemplateSpecification');
    if (!ltParams)
      throw new Ec2Error(
        'MissingParameter',
        'The request must contain the parameter LaunchTemplateConfigs.LaunchTemplateSpecification',
      );
    const template = resolveTemplate(ctx, {
      id: ltParams.str('LaunchTemplateId'),
      name: ltParams.str('LaunchTemplateName'),
      version: ltParams.str('Version'),
    });
    const version = ltParams.str('Version') ?? '1';
    const overrides = config.list('Overrides');
    for (const o of overrides.length ? overrides : [undefined]) {
      const override = {
        instanceType: o?.str('InstanceType'),
        subnetId: o?.str('SubnetId'),
        availabilityZone: o?.str('AvailabilityZone'),
        imageId: o?.str('ImageId'),
        priority: o?.str('Priority'),
      };
      const candidate: Candidate = {
        order: candidates.length,
        priority: override.priority === undefined ? Number.POSITIVE_INFINITY : Number(override.priority),
        spec: {
          launchTemplateSpecification: { launchTemplateId: template.id, version },
          overrides: o ? override : undefined,
        },
      };
      try {
        const instanceTags = tagSpecs.get('instance');
        const volumeTags = tagSpecs.get('volume');
        candidate.plan = resolveLaunch(
          ctx,
          mergeTemplate(template, {
            instanceType: override.instanceType,
            subnetId: override.subnetId,
            zone: override.availabilityZone,
            imageId: override.imageId,
            instanceTags: instanceTags ? withTags(template.data.instanceTags ?? NO_TAGS, instanceTags) : undefined,
            volumeTags: volumeTags ? withTags(template.data.volumeTags ?? NO_TAGS, volumeTags) : undefined,
            templateVersion: version,
          }),
        );
      } catch (error) {
        if (!(error instanceof Ec2Error)) throw error;
        candidate.error = error;
      }
      candidates.push(candidate);
    }
  }

  // lowest-price: the smaller type is the cheaper one in this catalog; prioritized: Priority, then request order.
  const price = (c: Candidate) =>
    c.plan ? c.plan.type.vcpus * 1000 + c.plan.type.memoryMiB / 1024 : Number.POSITIVE_INFINITY;
  const ordered = [...candidates].sort(
    (a, b) => (strategy === 'prioritized' ? a.priority - b.priority : price(a) - price(b)) || a.order - b.order,
  );

  const errors: XmlValue[] = [];
  const picks: Array<{ candidate: Candidate; grant: Grant }> = [];
  let remaining = total;
  for (const c of ordered) {
    if (c.error) {
      errors.push(errorItem(c, c.error));
      continue;
    }
    if (remaining === 0) continue;
    const fixed = picks[0]?.candidate.plan;
    if (
      fixed &&
      ((singleType && fixed.type.name !== c.plan!.type.name) ||
        (singleZone && fixed.subnet.zone !== c.plan!.subnet.zone))
    )
      continue;
    try {
      const grant = grantCapacity(ctx, c.plan!, singleType || singleZone ? remaining : 1, remaining);
      picks.push({ candidate: c, grant });
      remaining -= grant.count;
    } catch (error) {
      if (!(error instanceof Ec2Error)) throw error;
      errors.push(errorItem(c, error));
    }
  }
  const launched = total - remaining;
  const fleetId = `fleet-${ctx.sim.random.uuid()}`;
  let instances: Array<{
    launchTemplateAndOverrides: XmlValue;
    lifecycle: string;
    instanceIds: string[];
    instanceType: string;
  }> = [];
  if (launched >= Math.max(1, minTarget)) {
    ctx.limiter.takeInstances(ctx.account, ctx.region, launched);
    instances = picks.map(({ candidate, grant }) => {
      const plan = candidate.plan!;
      const created = createInstances(ctx, plan, allocateAddresses(plan.subnet, grant.count), grant, {
        clientToken: token,
        fleetId,
      });
      return {
        launchTemplateAndOverrides: candidate.spec,
        lifecycle: 'on-demand',
        instanceIds: created.map((i) => i.id),
        instanceType: plan.type.name,
      };
    });
  } else if (launched > 0) {
    for (const { candidate } of picks) {
      errors.push(
        errorItem(
          candidate,
          new Ec2Error(
            'InsufficientInstanceCapacity',
            `There is not enough capacity to fulfill your request: the fleet's minimum target capacity (${minTarget}) could not be met, so no instances were launched.`,
          ),
        ),
      );
    }
  }
  const instanceIds = instances.flatMap((i) => i.instanceIds);
  ctx.store.fleets.set(fleetId, {
    id: fleetId,
    region: ctx.region,
    createdAt: ctx.store.now(),
    clientToken: token,
    total,
    instanceIds,
    state: 'active',
    tags: tagSpecs.get('fleet') ?? NO_TAGS,
  });
  const result: ActionResult = { fleetId, errorSet: errors, fleetInstanceSet: instances };
  remember(ctx, 'CreateFleet', token, JSON.stringify(result));
  return result;
};

const fleetFields: FilterFields<Fleet> = { 'fleet-state': (f) => f.state, type: () => 'instant' };

const fleetXml = (ctx: ActionContext, f: Fleet): XmlValue => {
  const now = ctx.store.now();
  const live = f.instanceIds.filter((id) => {
    const i = ctx.store.instances.get(id);
    return i !== undefined && ctx.store.stateOf(i, now).name !== 'terminated';
  }).length;
  return {
    createTime: new Date(f.createdAt).toISOString(),
    fleetId: f.id,
    fleetState: f.state,
    clientToken: f.clientToken,
    type: 'instant',
    fulfilledCapacity: live,
    fulfilledOnDemandCapacity: live,
    targetCapacitySpecification: {
      totalTargetCapacity: f.total,
      onDemandTargetCapacity: f.total,
      spotTargetCapacity: 0,
      defaultTargetCapacityType: 'on-demand',
    },
    terminateInstancesWithExpiration: false,
    replaceUnhealthyInstances: false,
    tagSet: tagSet(f.tags),
  };
};

export const describeFleets: ActionHandler = (ctx) => {
  const ids = ctx.params.strList('FleetId');
  const missing = ids.filter((id) => ctx.store.fleets.get(id)?.region !== ctx.region);
  if (missing.length)
    throw new Ec2Error('InvalidFleetId.NotFound', `The fleet ID '${missing.join(', ')}' does not exist`);
  const filter = parseFilters(ctx.params, fleetFields);
  const all = [...ctx.store.fleets.values()].filter(
    (f) => f.region === ctx.region && (!ids.length || ids.includes(f.id)) && (!filter || filter.test(f)),
  );
  const { items, nextToken } = page(ctx, all, 1, 1000);
  return { fleetSet: items.map((f) => fleetXml(ctx, f)), nextToken };
};

/** Instant fleets can only be deleted together with their instances, as in EC2. */
export const deleteFleets: ActionHandler = (ctx) => {
  const ids = ctx.params.strList('FleetId');
  if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter FleetId');
  const terminateToo = ctx.params.bool('TerminateInstances');
  if (terminateToo === undefined)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter TerminateInstances');
  if (!terminateToo)
    throw new Ec2Error(
      'Unsupported',
      'NoTerminateInstances is not supported for instant fleets: pass TerminateInstances=true.',
    );
  const ok: XmlValue[] = [];
  const failed: XmlValue[] = [];
  const now = ctx.store.now();
  for (const id of ids) {
    const fleet = ctx.store.fleets.get(id);
    if (!/^fleet-[0-9a-f-]{36}$/.test(id)) {
      failed.push({ error: { code: 'fleetIdMalformed', message: `Invalid id: "${id}"` }, fleetId: id });
      continue;
    }
    if (!fleet || fleet.region !== ctx.region) {
      failed.push({
        error: { code: 'fleetIdDoesNotExist', message: `The fleet ID '${id}' does not exist` },
        fleetId: id,
      });
      continue;
    }
    const previous = fleet.state;
    for (const instanceId of fleet.instanceIds) {
      const instance = ctx.store.instances.get(instanceId);
      if (instance) terminate(ctx, instance, now);
    }
    fleet.state = 'deleted_terminating';
    ok.push({ currentFleetState: fleet.state, previousFleetState: previous, fleetId: id });
  }
  return { successfulFleetDeletionSet: ok, unsuccessfulFleetDeletionSet: failed };
};
