import { type ActionContext, type ActionHandler, page } from './action.js';
import { ACCOUNT_ID } from './catalog.js';
import { checkId, Ec2Error } from './errors.js';
import { type FilterFields, parseFilters } from './filters.js';
import { parseLaunchData } from './launch-spec.js';
import type { LaunchTemplate } from './model.js';
import { NO_TAGS, parseTagSpecifications } from './tags.js';
import { tagSet, type XmlValue } from './xml.js';

const NAME = /^[a-zA-Z0-9().\-/_]{3,128}$/;

const templateXml = (t: LaunchTemplate): XmlValue => ({
  launchTemplateId: t.id,
  launchTemplateName: t.name,
  createTime: new Date(t.createdAt).toISOString(),
  createdBy: `arn:aws:iam::${ACCOUNT_ID}:root`,
  defaultVersionNumber: 1,
  latestVersionNumber: 1,
  tagSet: tagSet(t.tags),
});

/** Finds a template by `LaunchTemplateId` or `LaunchTemplateName` under `params`, checking the version asked for. */
export function resolveTemplate(
  ctx: ActionContext,
  spec: { id?: string; name?: string; version?: string },
): LaunchTemplate {
  let found: LaunchTemplate | undefined;
  if (spec.id) {
    checkId(spec.id, 'lt', 'LaunchTemplateId');
    found = ctx.store.templates.get(spec.id);
    if (!found || found.region !== ctx.region)
      throw new Ec2Error(
        'InvalidLaunchTemplateId.NotFound',
        `The specified launch template, with template ID ${spec.id}, does not exist.`,
      );
  } else if (spec.name) {
    found = [...ctx.store.templates.values()].find((t) => t.region === ctx.region && t.name === spec.name);
    if (!found)
      throw new Ec2Error(
        'InvalidLaunchTemplateName.NotFoundException',
        `The specified launch template, with template name ${spec.name}, does not exist.`,
      );
  } else {
    throw new Ec2Error(
      'MissingParameter',
      'The request must contain the parameter LaunchTemplateId or LaunchTemplateName',
    );
  }
  const version = spec.version ?? '$Default';
  if (!['$Latest', '$Default', '1'].includes(version)) {
    throw new Ec2Error(
      'InvalidLaunchTemplateId.VersionNotFound',
      `Could not find launch template version ${version} for launch template ${found.id}.`,
    );
  }
  return found;
}

export const createLaunchTemplate: ActionHandler = (ctx) => {
  const name = ctx.params.required('LaunchTemplateName');
  if (!NAME.test(name))
    throw new Ec2Error(
      'InvalidLaunchTemplateName.MalformedException',
      'A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.',
    );
  const dataParams = ctx.params.struct('LaunchTemplateData');
  if (!dataParams) throw new Ec2Error('MissingParameter', 'The request must contain the parameter LaunchTemplateData');
  const { privateIp, ...data } = parseLaunchData(dataParams);
  if (privateIp)
    throw new Ec2Error(
      'InvalidParameterValue',
      'A launch template cannot fix a private IP address for every instance launched from it.',
    );
  if ([...ctx.store.templates.values()].some((t) => t.region === ctx.region && t.name === name)) {
    throw new Ec2Error('InvalidLaunchTemplateName.AlreadyExistsException', `Launch template name already in use.`);
  }
  const tags = parseTagSpecifications(ctx.params, ['launch-template']).get('launch-template') ?? NO_TAGS;
  const template: LaunchTemplate = {
    id: ctx.store.newId('lt'),
    region: ctx.region,
    name,
    createdAt: ctx.store.now(),
    data,
    tags,
  };
  ctx.store.templates.set(template.id, template);
  return { launchTemplate: templateXml(template) };
};

const fields: FilterFields<LaunchTemplate> = {
  'launch-template-name': (t) => t.name,
  'create-time': (t) => new Date(t.createdAt).toISOString(),
};

export const describeLaunchTemplates: ActionHandler = (ctx) => {
  const ids = ctx.params.strList('LaunchTemplateId');
  const names = ctx.params.strList('LaunchTemplateName');
  const all = [...ctx.store.templates.values()].filter((t) => t.region === ctx.region);
  for (const id of ids) resolveTemplate(ctx, { id });
  for (const name of names) resolveTemplate(ctx, { name });
  const filter = parseFilters(ctx.params, fields);
  const selected = all.filter(
    (t) =>
      (!ids.length || ids.includes(t.id)) && (!names.length || names.includes(t.name)) && (!filter || filter.test(t)),
  );
  const { items, nextToken } = page(ctx, selected, 1, 200);
  return { launchTemplates: items.map(templateXml), nextToken };
};

export const deleteLaunchTemplate: ActionHandler = (ctx) => {
  const template = resolveTemplate(ctx, {
    id: ctx.params.str('LaunchTemplateId'),
    name: ctx.params.str('LaunchTemplateName'),
  });
  ctx.store.templates.delete(template.id);
  return { launchTemplate: templateXml(template) };
};
