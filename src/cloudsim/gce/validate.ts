import { GceError, invalidField, required } from './errors.js';

/** Validation of request fields with the messages Compute Engine uses. */
const NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const METADATA_KEY = /^[a-zA-Z0-9_-]{1,128}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A string field, or '' when absent or of another type (the validators then report it as required/invalid). */
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A JSON object field; absent or not an object is the API's "required" error. */
export function objectField(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) throw required(field);
  return value as Record<string, unknown>;
}

export const METADATA_TOTAL_LIMIT = 256 * 1024;
const MAX_LABELS = 64;

export function validName(field: string, value: unknown): string {
  if (value === undefined || value === null || value === '') throw required(field);
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalidField(field, value, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'");
  }
  return value;
}

export function validLabels(field: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalidField(field, value, 'Labels must be a map of strings.');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_LABELS)
    throw invalidField(field, '', `Resource cannot have more than ${MAX_LABELS} labels.`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) {
      throw invalidField(
        field,
        '',
        `Label key '${k}' violates format constraints. The key must start with a lowercase character, can only contain lowercase letters, numeric characters, underscores and dashes. The key can be at most 63 characters long. International characters are allowed.`,
      );
    }
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) {
      throw invalidField(
        field,
        '',
        `Label value '${String(v)}' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 characters long. International characters are allowed.`,
      );
    }
  }
  return value as Record<string, string>;
}

export interface MetadataItem {
  readonly key: string;
  readonly value: string;
}

export function validMetadata(field: string, value: unknown): MetadataItem[] {
  if (value === undefined || value === null) return [];
  const items = (value as { items?: unknown }).items;
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw invalidField(`${field}.items`, items, 'Must be a list.');
  const seen = new Set<string>();
  let total = 0;
  const out: MetadataItem[] = [];
  items.forEach((item: unknown, i) => {
    const { key, value: v } = (item ?? {}) as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || !METADATA_KEY.test(key))
      throw invalidField(`${field}.items[${i}].key`, key, "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'");
    if (seen.has(key))
      throw new GceError(400, 'invalid', `Invalid value for field '${field}': ''. Duplicate metadata key '${key}'.`);
    seen.add(key);
    const text = v === undefined || v === null ? '' : String(v);
    total += Buffer.byteLength(key) + Buffer.byteLength(text);
    out.push({ key, value: text });
  });
  if (total > METADATA_TOTAL_LIMIT) {
    throw invalidField(
      field,
      '',
      `Metadata total size limit of ${METADATA_TOTAL_LIMIT} bytes exceeded (${total} bytes).`,
    );
  }
  return out;
}

export function validRequestId(value: string | null): string | undefined {
  if (value === null || value === '') return undefined;
  if (!UUID.test(value) || /^[0-]+$/.test(value)) {
    throw invalidField(
      'requestId',
      value,
      'Request ID must be a valid UUID with the exception that zero UUID is not supported (00000000-0000-0000-0000-000000000000).',
    );
  }
  return value.toLowerCase();
}

/** int64 fields travel as strings in JSON; numbers are accepted too. */
export function int64(field: string, value: unknown, fallback?: number): number | undefined {
  if (value === undefined || value === null || value === '') return fallback;
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidField(field, value, 'Must be an integer.');
  return n;
}

export function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const ip = ipToInt(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (ip % size !== 0) return undefined;
  return { base: ip, prefix, size };
}

export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + b.size && b.base < a.base + a.size;
