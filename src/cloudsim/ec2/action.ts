import type { SimContext } from '../core/types.js';
import { Ec2Error } from './errors.js';
import type { QueryParams } from './query.js';
import type { Ec2Store } from './store.js';
import type { XmlValue } from './xml.js';

/** What every action handler gets: the parsed request, the caller's region and the shared state. */
export interface ActionContext {
  readonly params: QueryParams;
  readonly region: string;
  readonly account: string;
  readonly store: Ec2Store;
  readonly sim: SimContext;
  readonly limiter: { takeInstances(account: string, region: string, count: number): void };
}

export type ActionResult = Record<string, XmlValue>;
export type ActionHandler = (ctx: ActionContext) => ActionResult | Promise<ActionResult>;

/** MaxResults/NextToken paging over an already filtered list (small resource kinds; instances page by seq). */
export function page<T>(
  ctx: ActionContext,
  items: readonly T[],
  min: number,
  max: number,
): { items: T[]; nextToken?: string } {
  const size = ctx.params.int('MaxResults', min, max);
  const token = ctx.params.str('NextToken');
  let start = 0;
  if (token !== undefined) {
    start = decodeToken(token);
    if (start > items.length) throw invalidToken();
  }
  if (size === undefined) return { items: items.slice(start) };
  const end = start + size;
  return { items: items.slice(start, end), nextToken: end < items.length ? encodeToken(end) : undefined };
}

const invalidToken = () =>
  new Ec2Error('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');

export function encodeToken(n: number): string {
  return Buffer.from(JSON.stringify({ p: n }), 'utf8').toString('base64url');
}

export function decodeToken(token: string): number {
  try {
    const n = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { p?: unknown }).p;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  } catch {
    // fall through
  }
  throw invalidToken();
}
