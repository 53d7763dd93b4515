import type { SimResponse } from '../core/types.js';
import { MACHINE_TYPE_BY_NAME } from './catalog.js';
import { alreadyExists, invalidField, notFound, required } from './errors.js';
import { mutate } from './operations.js';
import { link, refName } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import { objectField, str, validLabels, validMetadata, validName } from './validate.js';

/** Global instance templates (`sourceInstanceTemplate` of insert and bulkInsert). */

const templatePath = (project: string, name: string) => `projects/${project}/global/instanceTemplates/${name}`;

function renderTemplate(
  rt: GceRuntime,
  t: {
    project: string;
    name: string;
    id: string;
    createdAt: number;
    description: string;
    properties: Record<string, unknown>;
  },
): Record<string, unknown> {
  return {
    kind: 'compute#instanceTemplate',
    id: t.id,
    creationTimestamp: rt.timestamp(t.createdAt),
    name: t.name,
    description: t.description || undefined,
    properties: t.properties,
    selfLink: link(templatePath(t.project, t.name)),
  };
}

export function insertTemplate(rt: GceRuntime, call: GceCall): SimResponse {
  return mutate(rt, call, () => {
    const b = objectField(call.body, 'resource');
    const name = validName('resource.name', b.name);
    if (rt.state.templates.has(`${call.project}/${name}`)) throw alreadyExists(templatePath(call.project, name));
    const properties = objectField(b.properties, 'resource.properties');
    const mt = str(properties.machineType);
    if (!mt) throw required('resource.properties.machineType');
    if (!MACHINE_TYPE_BY_NAME.has(refName(mt, call.project, 'machineTypes')?.name ?? ''))
      throw invalidField('resource.properties.machineType', mt, `Machine type with name '${mt}' does not exist.`);
    validLabels('resource.properties.labels', properties.labels);
    validMetadata('resource.properties.metadata', properties.metadata);
    const t = {
      project: call.project,
      name,
      id: rt.newId(),
      createdAt: rt.now(),
      description: str(b.description),
      properties,
    };
    rt.state.templates.set(`${call.project}/${name}`, t);
    return {
      scope: 'global',
      location: '',
      operationType: 'insert',
      targetPath: templatePath(call.project, name),
      targetId: t.id,
      durationMs: rt.shortMs,
    };
  });
}

export function getTemplate(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  const t = rt.state.templates.get(`${call.project}/${name}`);
  if (!t) throw notFound(templatePath(call.project, name));
  return ok(renderTemplate(rt, t));
}

export function listTemplates(rt: GceRuntime, call: GceCall): Record<string, unknown>[] {
  return [...rt.state.templates.values()].filter((t) => t.project === call.project).map((t) => renderTemplate(rt, t));
}

export function deleteTemplate(rt: GceRuntime, call: GceCall, name: string): SimResponse {
  return mutate(rt, call, () => {
    const key = `${call.project}/${name}`;
    const t = rt.state.templates.get(key);
    if (!t) throw notFound(templatePath(call.project, name));
    rt.state.templates.delete(key);
    return {
      scope: 'global',
      location: '',
      operationType: 'delete',
      targetPath: templatePath(call.project, name),
      targetId: t.id,
      durationMs: rt.shortMs,
    };
  });
}

/** Live VMs for the admin inventory (purging the ones whose deletion finished). */
