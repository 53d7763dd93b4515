import { type ArmCall, type ArmReply, type Json, obj, RawJson, str } from './call.js';
import { isRegion, normalizeLocation, REGIONS } from './catalog.js';
import { ArmError, badRequest } from './errors.js';
import { type OperationRef, operationHeaders, type ResourceKind } from './lro.js';
import { derivedUuid, type Lifecycle } from './store.js';

/** Helpers shared by the resource handlers. */

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

/** Names of network and compute resources: 1-80 chars, letters, digits, `_ . -`, not ending in `.` or `-`. */
export function checkName(name: string, type: string, max = 80): void {
  if (name.length > max || !NAME.test(name)) {
    throw badRequest(
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to ${max} characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
      type,
    );
  }
}

/** The `location` of a PUT body, normalized; the errors ARM gives when it is missing or not offered. */
export function bodyLocation(body: Json, resourceType: string): string {
  const raw = str(body.location);
  if (!raw) throw badRequest('LocationRequired', 'The location property is required for this definition.');
  const location = normalizeLocation(raw);
  if (!isRegion(location)) {
    throw badRequest(
      'LocationNotAvailableForResourceType',
      `The provided location '${raw}' is not available for resource type '${resourceType}'. List of available regions for the resource type is '${REGIONS.join(',')}'.`,
    );
  }
  return location;
}

/** ARM refuses to move a resource by PUT: same name in another location is a conflict. */
export function checkSameLocation(
  existing: { location: string } | undefined,
  location: string,
  name: string,
  rg: string,
): void {
  if (existing && existing.location !== location) {
    throw new ArmError(
      409,
      'InvalidResourceLocation',
      `The resource '${name}' already exists in location '${existing.location}' in resource group '${rg}'. A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
    );
  }
}

export function properties(body: Json): Json {
  return obj(body.properties);
}

export function etag(seed: number, seq: number, gen: number): string {
  return `W/"${derivedUuid(seed, seq, gen)}"`;
}

/** 201 (created) or 200 (updated) with the async-operation headers of a PUT. */
export function putReply(
  call: ArmCall,
  family: 'compute' | 'network',
  location: string,
  kind: ResourceKind,
  names: string[],
  record: Lifecycle,
  created: boolean,
  body: unknown,
): ArmReply {
  const ref: OperationRef = {
    op: 'put',
    kind,
    rg: call.route.resourceGroup!,
    names,
    gen: record.gen,
    started: Date.now(),
  };
  return {
    status: created ? 201 : 200,
    body,
    headers: operationHeaders(call, family, location, ref, record.readyAt - call.now),
  };
}

/** 202 with the async-operation headers of a DELETE. */
export function deleteReply(
  call: ArmCall,
  family: 'compute' | 'network',
  location: string,
  kind: ResourceKind,
  names: string[],
  gen: number,
  remainingMs: number,
): ArmReply {
  const ref: OperationRef = { op: 'delete', kind, rg: call.route.resourceGroup!, names, gen, started: Date.now() };
  return { status: 202, headers: operationHeaders(call, family, location, ref, remainingMs) };
}

/** Offset of the page a request asks for (`$skiptoken`), and the absolute nextLink after `end`, if any. */
function pageBounds(call: ArmCall, total: number, pageSize: number): { start: number; end: number; nextLink?: string } {
  const token = call.request.url.searchParams.get('$skiptoken');
  const start = token && /^\d+$/.test(token) ? Math.min(Number(token), total) : 0;
  const end = Math.min(total, start + pageSize);
  if (end >= total) return { start, end };
  const next = new URL(call.request.url.pathname, call.request.origin);
  for (const [k, v] of call.request.url.searchParams) if (k !== '$skiptoken') next.searchParams.append(k, v);
  next.searchParams.set('$skiptoken', String(end));
  return { start, end, nextLink: next.toString() };
}

/** A `{ value, nextLink }` page; `nextLink` is absolute with the client's origin and carries `$skiptoken`. */
export function page<T>(call: ArmCall, items: readonly T[], render: (item: T) => unknown, pageSize: number): ArmReply {
  const { start, end, nextLink } = pageBounds(call, items.length, pageSize);
  const value = new Array<unknown>(end - start);
  for (let i = start; i < end; i++) value[i - start] = render(items[i]!);
  return { status: 200, body: nextLink ? { value, nextLink } : { value } };
}

/** The same page built from items already serialized to JSON text (the VM list hot path). */
export function rawPage<T>(
  call: ArmCall,
  items: readonly T[],
  renderText: (item: T) => string,
  pageSize: number,
): ArmReply {
  const { start, end, nextLink } = pageBounds(call, items.length, pageSize);
  const parts = new Array<string>(end - start);
  for (let i = start; i < end; i++) parts[i - start] = renderText(items[i]!);
  const tail = nextLink ? `],"nextLink":${JSON.stringify(nextLink)}}` : ']}';
  return { status: 200, body: new RawJson(`{"value":[${parts.join(',')}${tail}`) };
}

export function tagsBody(body: Json): unknown {
  const tags = body.tags;
  if (tags !== undefined && tags !== null && (typeof tags !== 'object' || Array.isArray(tags))) {
    throw badRequest(
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'tags' must be an object of strings.",
    );
  }
  const entries = Object.entries(obj(tags));
  if (entries.length > 50)
    throw badRequest('InvalidTag', `The number of tags (${entries.length}) exceeds the limit of 50 per resource.`);
  for (const [k, v] of entries) {
    if (k.length > 512 || /[<>%&\\?/]/.test(k))
      throw badRequest(
        'InvalidTagNameCharacters',
        `The tag name '${k}' has invalid characters '<,>,%,&,\\,?,/' or exceeds 512 characters.`,
      );
    if (typeof v !== 'string' || v.length > 256)
      throw badRequest('InvalidTag', `The value of tag '${k}' must be a string of at most 256 characters.`);
  }
  return tags;
}
