import * as z from 'zod/mini';
import { ClusterSpecSchema } from './schema.js';

/** JSON Schema (draft 2020-12) of skypool.yaml, for editors and `skypool schema`. */
export function specJsonSchema(): Record<string, unknown> {
  return { title: 'skypool cluster spec', ...z.toJSONSchema(ClusterSpecSchema, { target: 'draft-2020-12' }) } as Record<
    string,
    unknown
  >;
}
