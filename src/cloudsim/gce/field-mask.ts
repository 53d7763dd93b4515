import { GceError } from './errors.js';

/**
 * Partial responses: the `fields` system parameter (or its `X-Goog-FieldMask` header) that every Google JSON API
 * honours, e.g. `items/*\/instances(name,labels,status),nextPageToken`. Grammar: a comma-separated list of paths;
 * a path is names joined by `/`, optionally followed by a parenthesised sub-selection; `*` selects every key (the
 * scopes of an aggregated list). Selecting nothing that exists leaves the field out, as the API does.
 */
export type FieldMask = Map<string, FieldMask | true>;

const NAME = /^(?:\*|[A-Za-z_][A-Za-z0-9_]*)$/;

const invalid = (text: string) =>
  new GceError(400, 'invalidParameter', `Invalid field selection ${text}`, { location: 'fields' });

function merge(into: FieldMask, key: string, sub: FieldMask | true): void {
  const seen = into.get(key);
  if (seen === true || sub === true) into.set(key, true);
  else if (!seen) into.set(key, sub);
  else for (const [k, v] of sub) merge(seen, k, v);
}

/** Parses a mask; a malformed one is the API's 400 `invalidParameter`. */
export function parseFieldMask(text: string): FieldMask {
  let at = 0;
  const selection = (): FieldMask => {
    const mask: FieldMask = new Map();
    for (;;) {
      const start = at;
      while (at < text.length && !',()'.includes(text[at]!)) at++;
      const names = text.slice(start, at).trim().split('/');
      if (names.some((n) => !NAME.test(n))) throw invalid(text.slice(start, at) || text);
      let leaf: FieldMask | true = true;
      if (text[at] === '(') {
        at++;
        leaf = selection();
        if (text[at] !== ')') throw invalid(text);
        at++;
      }
      for (let i = names.length - 1; i > 0; i--) leaf = new Map([[names[i]!, leaf]]);
      merge(mask, names[0]!, leaf);
      if (text[at] !== ',') return mask;
      at++;
    }
  };
  const mask = selection();
  if (at !== text.length) throw invalid(text);
  return mask;
}

/** The parts of a JSON value the mask selects (arrays: the mask applies to each element). */
export function applyFieldMask(value: unknown, mask: FieldMask): unknown {
  if (Array.isArray(value)) return value.map((v) => applyFieldMask(v, mask));
  if (typeof value !== 'object' || value === null) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const pick = (key: string, sub: FieldMask | true) => {
    if (!(key in source)) return;
    const picked = sub === true ? source[key] : applyFieldMask(source[key], sub);
    if (picked !== undefined && !(isEmptyObject(picked) && sub !== true)) out[key] = picked;
  };
  const all = mask.get('*');
  for (const key of Object.keys(source)) {
    const own = mask.get(key);
    if (own !== undefined) pick(key, all === undefined || own === true ? own : mergedWith(own, all));
    else if (all !== undefined) pick(key, all);
  }
  return out;
}

function mergedWith(a: FieldMask, b: FieldMask | true): FieldMask | true {
  if (b === true) return true;
  const out: FieldMask = new Map(a);
  for (const [k, v] of b) merge(out, k, v);
  return out;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** The mask of a request: the `fields` query parameter, else the `X-Goog-FieldMask` header. */
export function requestFieldMask(
  query: URLSearchParams,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): FieldMask | undefined {
  const header = headers['x-goog-fieldmask'];
  const text = query.get('fields') ?? (Array.isArray(header) ? header.join(',') : header);
  return text === undefined || text === null || text.trim() === '' ? undefined : parseFieldMask(text);
}
