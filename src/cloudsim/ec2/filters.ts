import { Ec2Error } from './errors.js';
import type { QueryParams } from './query.js';
import type { Tags } from './tags.js';

/** What a filter name reads from a resource: one value, several (any may match), or none. */
export type FilterValue = string | readonly string[] | undefined;
export type FilterFields<T> = Readonly<Record<string, (resource: T) => FilterValue>>;

export interface Filter<T> {
  test(resource: T): boolean;
}

function valueMatcher(values: readonly string[]): (v: string) => boolean {
  // EC2 filter values accept `*` and `?` wildcards; plain values are the common case, keep them a Set lookup.
  const plain = new Set(values.filter((v) => !/[*?]/.test(v)));
  const patterns = values
    .filter((v) => /[*?]/.test(v))
    .map(
      (v) =>
        new RegExp(
          `^${v
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
          's',
        ),
    );
  return (v) => plain.has(v) || patterns.some((p) => p.test(v));
}

function tagsFilter<T extends { tags: Tags }>(
  name: string,
  values: (v: string) => boolean,
): ((r: T) => boolean) | undefined {
  if (name.startsWith('tag:')) {
    const key = name.slice(4);
    return byTagList((tags) => tags.some(([k, v]) => k === key && values(v)));
  }
  if (name === 'tag-key') return byTagList((tags) => tags.some(([k]) => values(k)));
  if (name === 'tag-value') return byTagList((tags) => tags.some(([, v]) => values(v)));
  return undefined;
}

/** Tag lists are immutable and shared (all instances of one launch hold the same list): reuse the last answer. */
function byTagList<T extends { tags: Tags }>(test: (tags: Tags) => boolean): (r: T) => boolean {
  let last: Tags | undefined;
  let answer = false;
  return (r) => {
    if (r.tags !== last) {
      last = r.tags;
      answer = test(last);
    }
    return answer;
  };
}

/** `Filter.N.Name` / `Filter.N.Value.M` → one predicate (AND across filters, OR across a filter's values). */
export function parseFilters<T extends { tags: Tags }>(
  params: QueryParams,
  fields: FilterFields<T>,
): Filter<T> | undefined {
  const tests = params.list('Filter').map((f) => {
    const name = f.required('Name');
    const values = valueMatcher(f.strList('Value'));
    const byTag = tagsFilter<T>(name, values);
    if (byTag) return byTag;
    const read = fields[name];
    if (!read) throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
    return (r: T) => {
      const v = read(r);
      if (v === undefined) return false;
      return typeof v === 'string' ? values(v) : v.some(values);
    };
  });
  if (tests.length === 0) return undefined;
  return { test: (r) => tests.every((t) => t(r)) };
}
