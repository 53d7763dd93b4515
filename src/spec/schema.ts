import { z } from 'zod';

export const PROVIDERS = ['local', 'aws', 'azure', 'gcp'] as const;
export const ENGINES = ['swarm', 'slurm', 'k3s'] as const;
export const ROLES = ['manager', 'worker'] as const;

export type ProviderName = (typeof PROVIDERS)[number];
export type EngineName = (typeof ENGINES)[number];
export type Role = (typeof ROLES)[number];

/**
 * Names end up in instance names (`<cluster>-<pool>-<n>`), tags, GCE labels and Azure resource names, so they
 * follow the strictest rule of the four: lowercase DNS labels. 24 + 20 characters plus an index stay well
 * under the 63 characters GCE and Azure allow.
 */
const dnsLabel = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters (clouds put it in instance names)`)
    .regex(
      /^[a-z]([a-z0-9-]*[a-z0-9])?$/,
      `${what} must be lowercase letters, digits and '-', start with a letter and not end with '-' (e.g. "web-1")`,
    );

const labelKey = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'label keys must be lowercase, start with a letter, ≤ 63 chars of [a-z0-9_-] (GCE rule)');
const labelValue = z
  .string()
  .regex(/^[a-z0-9_-]{0,63}$/, 'label values must be ≤ 63 chars of lowercase [a-z0-9_-] (GCE rule)');

export const SizeSchema = z
  .object({
    cpus: z.number().int('size.cpus must be a whole number').min(1).max(448),
    memoryGiB: z.number().positive('size.memoryGiB must be > 0').max(24_576),
  })
  .strict();

export const NodePoolSchema = z
  .object({
    name: dnsLabel('pool name', 20),
    provider: z.enum(PROVIDERS, { error: `provider must be one of ${PROVIDERS.join(', ')}` }),
    region: z.string().min(1).optional(),
    zones: z.array(z.string().min(1)).min(1).optional(),
    size: SizeSchema.optional(),
    instanceType: z.string().min(1).optional(),
    count: z
      .number({ error: 'count must be a number' })
      .int('count must be a whole number (e.g. 3)')
      .min(0, 'count must be 0 or more')
      .max(1000, 'count must be at most 1000 per pool; split larger pools'),
    role: z.enum(ROLES, { error: `role must be one of ${ROLES.join(', ')}` }),
    labels: z.record(labelKey, labelValue).optional(),
  })
  .strict();

export const ImageSchema = z
  .object({
    /** Reference the engine will know the image by, e.g. `skypool/hello:1`. */
    name: z.string().min(1),
    /** `docker save` tarball preloaded into every VM (the local provider has no registry access). */
    tarball: z.string().min(1),
  })
  .strict();

export const ClusterSpecSchema = z
  .object({
    apiVersion: z.literal('skypool/v1', { error: 'apiVersion must be "skypool/v1"' }).optional(),
    name: dnsLabel('cluster name', 24),
    engine: z.enum(ENGINES, { error: `engine must be one of ${ENGINES.join(', ')}` }),
    pools: z.array(NodePoolSchema).min(1, 'a cluster needs at least one pool'),
    images: z.array(ImageSchema).optional(),
  })
  .strict();

export type NodeSize = z.infer<typeof SizeSchema>;
export type NodePoolSpec = z.infer<typeof NodePoolSchema>;
export type ImageSpec = z.infer<typeof ImageSchema>;
export type ClusterSpec = z.infer<typeof ClusterSpecSchema>;
/** What a TypeScript caller may write: the same shape, validated by `parseSpec`. */
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
