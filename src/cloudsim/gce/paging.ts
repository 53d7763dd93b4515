import type { SimResponse } from '../core/types.js';
import { invalidField } from './errors.js';
import { compileFilter, jsonGetter } from './filter.js';
import { link } from './refs.js';
import { type GceCall, ok } from './runtime.js';

/** `maxResults` / `pageToken` of list calls: at most 500 per page, 500 by default. */
export function pageSize(query: URLSearchParams): number {
  const raw = query.get('maxResults');
  if (raw === null || raw === '') return 500;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalidField('maxResults', raw, 'Must be a non-negative integer.');
  if (n > 500) throw invalidField('maxResults', raw, 'Must be less than or equal to 500');
  return n === 0 ? 500 : n;
}

export function encodeToken(parts: readonly (string | number)[]): string {
  return Buffer.from(parts.join(':')).toString('base64url');
}

/** Decodes a token made by `encodeToken` into `count` integers, or throws the API's 400. */
export function decodeToken(query: URLSearchParams, count: number): number[] | undefined {
  const raw = query.get('pageToken');
  if (raw === null || raw === '') return undefined;
  const parts = Buffer.from(raw, 'base64url').toString('utf8').split(':').map(Number);
  if (parts.length !== count || parts.some((n) => !Number.isSafeInteger(n) || n < 0))
    throw invalidField('pageToken', raw, 'Invalid page token.');
  return parts;
}

/** Offset paging over a small, stable list (catalog, networks, firewalls). */
export function paginate<T>(items: readonly T[], query: URLSearchParams): { items: T[]; nextPageToken?: string } {
  const size = pageSize(query);
  const start = decodeToken(query, 1)?.[0] ?? 0;
  const page = items.slice(start, start + size);
  return start + size < items.length ? { items: page, nextPageToken: encodeToken([start + size]) } : { items: page };
}

/** A `<kind>List` response for a small collection of rendered resources: filter, then offset paging. */
export function listResponse(
  call: GceCall,
  kind: string,
  path: string,
  resources: readonly Record<string, unknown>[],
): SimResponse {
  const predicate = compileFilter(call.query.get('filter'));
  const page = paginate(predicate ? resources.filter((r) => predicate(jsonGetter(r))) : resources, call.query);
  return ok({
    kind,
    id: path,
    items: page.items,
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    selfLink: link(path),
  });
}
