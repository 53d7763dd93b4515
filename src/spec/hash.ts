import { createHash } from 'node:crypto';
import type { ClusterSpec, NodePoolSpec } from './schema.js';

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Hash of everything that shapes a pool's VMs. `count` is left out on purpose: scaling a pool must not mark
 * its existing VMs as out of date. 12 hex chars fit every cloud's tag/label limits.
 */
export function poolSpecHash(spec: Pick<ClusterSpec, 'name' | 'engine' | 'images'>, pool: NodePoolSpec): string {
  const { count: _count, ...shape } = pool;
  return createHash('sha256')
    .update(canonical({ cluster: spec.name, engine: spec.engine, images: spec.images ?? [], pool: shape }))
    .digest('hex')
    .slice(0, 12);
}
