import type { ActionContext, ActionHandler } from './action.js';
import { Ec2Error, notFound } from './errors.js';
import { parseTags, type Tags, withoutTags, withTags } from './tags.js';

/** CreateTags / DeleteTags on any resource the simulator keeps, found by id prefix. */

interface Taggable {
  tags: Tags;
  region: string;
}

function resolve(ctx: ActionContext, id: string): Taggable {
  const { store } = ctx;
  const prefix = id.slice(0, id.indexOf('-'));
  const lookups: Record<string, [Map<string, Taggable>, string, string] | undefined> = {
    vpc: [store.vpcs, 'VpcID', 'vpc ID'],
    subnet: [store.subnets, 'SubnetID', 'subnet ID'],
    sg: [store.groups, 'Group', 'security group'],
    igw: [store.gateways, 'InternetGatewayID', 'internet gateway ID'],
    rtb: [store.routeTables, 'RouteTableID', 'route table ID'],
    lt: [store.templates, 'LaunchTemplateId', 'launch template ID'],
    eipalloc: [store.addresses, 'AllocationID', 'allocation ID'],
    vol: [store.volumes, 'Volume', 'volume'],
  };
  // CreateTags/DeleteTags answer any id that is not well formed with InvalidID, whatever its prefix.
  if (!/^[a-z]+(-[a-z]+)?-[0-9a-f]{8}([0-9a-f]{9})?$/.test(id))
    throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
  if (prefix === 'i') {
    const instance = store.instances.get(id);
    if (!instance || instance.launch.region !== ctx.region) throw notFound('InstanceID', 'instance ID', [id]);
    return {
      get tags() {
        return instance.tags;
      },
      set tags(t: Tags) {
        instance.tags = t;
      },
      region: ctx.region,
    };
  }
  const lookup = lookups[prefix];
  if (!lookup) throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
  const found = lookup[0].get(id);
  if (!found || found.region !== ctx.region) throw notFound(lookup[1], lookup[2], [id]);
  return found;
}

function change(ctx: ActionContext, update: (tags: Tags) => Tags): void {
  const ids = ctx.params.strList('ResourceId');
  if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter resourceIdSet');
  const targets = ids.map((id) => resolve(ctx, id));
  // Resources that shared one tag list before share the updated one too (instances of one launch).
  const updated = new Map<Tags, Tags>();
  for (const t of targets) {
    let next = updated.get(t.tags);
    if (!next) updated.set(t.tags, (next = update(t.tags)));
    t.tags = next;
  }
}

export const createTags: ActionHandler = (ctx) => {
  const tags = parseTags(ctx.params).map(([k, v]) => [k, v ?? ''] as const);
  if (!tags.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter Tags');
  change(ctx, (current) => withTags(current, tags));
  return { return: true };
};

export const deleteTags: ActionHandler = (ctx) => {
  const tags = parseTags(ctx.params, 'Tag', false);
  change(ctx, (current) =>
    tags.length ? withoutTags(current, tags) : Object.freeze(current.filter(([k]) => k.startsWith('aws:'))),
  );
  return { return: true };
};
