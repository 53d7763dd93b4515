import { Ec2Error } from './errors.js';
import type { QueryParams } from './query.js';

/** Tags as a shared, immutable list of pairs: instances launched together share one list (cheap at 10,000 VMs). */
export type Tags = ReadonlyArray<readonly [string, string]>;

export const NO_TAGS: Tags = Object.freeze([]);

function checkTag(key: string, value: string): void {
  if (key.length === 0 || key.length > 128)
    throw new Ec2Error('InvalidParameterValue', `Tag key '${key}' must be 1 to 128 characters long`);
  if (value.length > 256)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Tag value for key '${key}' exceeds the maximum length of 256 characters`,
    );
  if (key.toLowerCase().startsWith('aws:'))
    throw new Ec2Error('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
}

/** `Tag.N.Key` / `Tag.N.Value` under `params`, validated. Value defaults to '' as in EC2. */
export function parseTags(params: QueryParams, name = 'Tag', requireValue = true): Array<[string, string | undefined]> {
  const tags = params.list(name).map((t): [string, string | undefined] => {
    const key = t.required('Key');
    const value = t.str('Value');
    checkTag(key, value ?? '');
    return [key, value ?? (requireValue ? '' : undefined)];
  });
  const seen = new Set<string>();
  for (const [key] of tags) {
    if (seen.has(key)) throw new Ec2Error('InvalidParameterValue', `Duplicate tag key '${key}' specified.`);
    seen.add(key);
  }
  if (tags.length > 50) throw new Ec2Error('TagLimitExceeded', 'The maximum number of tags per resource is 50');
  return tags;
}

/**
 * `TagSpecification.N` → tags per resource type. Types other than `allowed` are refused as EC2 does, so a
 * client that tags the wrong thing finds out here and not in production.
 */
export function parseTagSpecifications(
  params: QueryParams,
  allowed: readonly string[],
  name = 'TagSpecification',
): Map<string, Tags> {
  const out = new Map<string, Tags>();
  for (const spec of params.list(name)) {
    const type = spec.required('ResourceType');
    if (!allowed.includes(type))
      throw new Ec2Error(
        'InvalidParameterValue',
        `'${type}' is not a valid taggable resource type for this operation.`,
      );
    if (out.has(type))
      throw new Ec2Error(
        'InvalidParameterValue',
        `The same resource type may not be specified more than once in tag specifications: '${type}'`,
      );
    out.set(
      type,
      Object.freeze(parseTags(spec).map(([k, v]) => Object.freeze([k, v ?? '']) as readonly [string, string])),
    );
  }
  return out;
}

export function withTags(tags: Tags, add: ReadonlyArray<readonly [string, string]>): Tags {
  const map = new Map(tags);
  for (const [k, v] of add) map.set(k, v);
  if (map.size > 50) throw new Ec2Error('TagLimitExceeded', 'The maximum number of tags per resource is 50');
  return Object.freeze([...map].map((e) => Object.freeze(e)));
}

/** DeleteTags semantics: a key alone removes the tag; key and value remove it only when the value matches. */
export function withoutTags(tags: Tags, remove: ReadonlyArray<readonly [string, string | undefined]>): Tags {
  return Object.freeze(tags.filter(([k, v]) => !remove.some(([rk, rv]) => rk === k && (rv === undefined || rv === v))));
}

export function tagValue(tags: Tags, key: string): string | undefined {
  for (const [k, v] of tags) if (k === key) return v;
  return undefined;
}

export function tagsRecord(tags: Tags): Record<string, string> {
  return Object.fromEntries(tags);
}
