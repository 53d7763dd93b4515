import * as z from 'zod/mini';
import { parseCidr } from '../util/ipv4.js';

// zod/mini loads a few ms faster than `zod` (no method-chaining classes). Unlike `zod`, it installs neither the
// English messages nor the memoizer (shared references parse to shared output), so set both as `zod` would:
// only when nobody configured them.
if (!z.config().localeError) z.config(z.locales.en());
if (!z.config().memoizer) z.config({ memoizer: z.memoizer() });

/** Provider names a pool may use. */
export const PROVIDERS = ['local', 'aws', 'azure', 'gcp'] as const;
/** Scheduling engines a spec may name (only swarm is implemented in this release). */
export const ENGINES = ['swarm', 'slurm', 'k3s'] as const;
/** Roles of a pool's nodes in the engine. */
export const ROLES = ['manager', 'worker'] as const;

/** One of {@link PROVIDERS}. */
export type ProviderName = (typeof PROVIDERS)[number];
/** One of {@link ENGINES}. */
export type EngineName = (typeof ENGINES)[number];
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/**
 * Names end up in instance names (`<cluster>-<pool>-<n>`), tags, GCE labels and Azure resource names, so they
 * follow the strictest rule of the four: lowercase DNS labels. 24 + 20 characters plus an index stay well
 * under the 63 characters GCE and Azure allow.
 */
const dnsLabel = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .check(
      z.minLength(1, `${what} must not be empty`),
      z.maxLength(max, `${what} must be at most ${max} characters (clouds put it in instance names)`),
      z.regex(
        /^[a-z]([a-z0-9-]*[a-z0-9])?$/,
        `${what} must be lowercase letters, digits and '-', start with a letter and not end with '-' (e.g. "web-1")`,
      ),
    );

const labelKey = z
  .string()
  .check(
    z.regex(
      /^[a-z][a-z0-9_-]{0,62}$/,
      'label keys must be lowercase, start with a letter, ≤ 63 chars of [a-z0-9_-] (GCE rule)',
    ),
  );
const labelValue = z
  .string()
  .check(z.regex(/^[a-z0-9_-]{0,63}$/, 'label values must be ≤ 63 chars of lowercase [a-z0-9_-] (GCE rule)'));
const nonEmpty = () => z.string().check(z.minLength(1));

/** Schema of a pool's `size`: vCPUs and memory the chosen type must have at least. */
export const SizeSchema = z.strictObject({
  cpus: z.number().check(z.int('size.cpus must be a whole number'), z.gte(1), z.lte(448)),
  memoryGiB: z.number().check(z.positive('size.memoryGiB must be > 0'), z.lte(24_576)),
});

/** Schema of one pool. */
export const NodePoolSchema = z.strictObject({
  name: dnsLabel('pool name', 20),
  provider: z.enum(PROVIDERS, { error: `provider must be one of ${PROVIDERS.join(', ')}` }),
  region: z.optional(nonEmpty()),
  zones: z.optional(z.array(nonEmpty()).check(z.minLength(1))),
  size: z.optional(SizeSchema),
  instanceType: z.optional(nonEmpty()),
  count: z
    .number({ error: 'count must be a number' })
    .check(
      z.int('count must be a whole number (e.g. 3)'),
      z.gte(0, 'count must be 0 or more'),
      z.lte(1000, 'count must be at most 1000 per pool; split larger pools'),
    ),
  role: z.enum(ROLES, { error: `role must be one of ${ROLES.join(', ')}` }),
  labels: z.optional(z.record(labelKey, labelValue)),
});

/** Schema of an image preloaded into every node. */
export const ImageSchema = z.strictObject({
  /** Reference the engine will know the image by, e.g. `skypool/hello:1`. */
  name: nonEmpty(),
  /** `docker save` tarball preloaded into every VM (the local provider has no registry access). */
  tarball: nonEmpty(),
});

/** Schema of a cluster spec (skypool.yaml). */
export const ClusterSpecSchema = z.strictObject({
  apiVersion: z.optional(z.literal('skypool/v1', { error: 'apiVersion must be "skypool/v1"' })),
  name: dnsLabel('cluster name', 24),
  engine: z.enum(ENGINES, { error: `engine must be one of ${ENGINES.join(', ')}` }),
  pools: z.array(NodePoolSchema).check(z.minLength(1, 'a cluster needs at least one pool')),
  images: z.optional(z.array(ImageSchema)),
  /**
   * Who may reach the nodes' engine API (2376/tcp, mutual TLS) besides nothing: IPv4 CIDRs. Default: the address
   * of the machine running skypool, found at apply time. `0.0.0.0/0` is accepted with a warning.
   */
  adminCidrs: z.optional(
    z
      .array(
        z.string().check(
          z.refine((c) => parseCidr(c) !== undefined, {
            error: 'adminCidrs entries must be IPv4 CIDRs, e.g. 203.0.113.7/32',
          }),
        ),
      )
      .check(z.minLength(1, "adminCidrs needs at least one CIDR; leave it out for this machine's address")),
  ),
});

/** A pool's `size`. */
export type NodeSize = z.infer<typeof SizeSchema>;
/** One validated pool. */
export type NodePoolSpec = z.infer<typeof NodePoolSchema>;
/** One validated image entry. */
export type ImageSpec = z.infer<typeof ImageSchema>;
/** A validated cluster spec. */
export type ClusterSpec = z.infer<typeof ClusterSpecSchema>;
/** What a TypeScript caller may write: the same shape, validated by `parseSpec`. */
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
