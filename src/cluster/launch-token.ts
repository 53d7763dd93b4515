import { createHash } from 'node:crypto';

/** Tokens tried for one node before giving up: each is one earlier VM of that name whose token the cloud still holds. */
export const MAX_GENERATIONS = 6;

export interface TokenInput {
  readonly cluster: string;
  readonly pool: string;
  /** The node's ordinal, `n` of `<cluster>-<pool>-<n>`. */
  readonly ordinal: number;
  readonly specHash: string;
  /** 0 for the first VM of this name and spec; counts up only when the cloud holds the token of a gone VM. */
  readonly generation?: number;
}

/**
 * The idempotency token of one node's launch: the same for every process that plans the same node of the same
 * spec, so the clouds' own idempotency (EC2 ClientToken, GCE requestId, both derived from it by the adapters)
 * answers a second launch with the first one's VM instead of a duplicate. 56 ASCII characters (EC2 allows 64).
 */
export function launchToken(input: TokenInput): string {
  const digest = createHash('sha256')
    .update([input.cluster, input.pool, input.ordinal, input.specHash, input.generation ?? 0].join('\n'))
    .digest('hex');
  return `skypool-${digest.slice(0, 48)}`;
}
