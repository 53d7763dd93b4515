import type { SimContext } from '../core/types.js';
import { ArmError } from './errors.js';

export type ArmCallKind = 'reads' | 'writes' | 'deletes';

/** cloud-apis.md: ARM buckets per principal (the simulator is one ARM region), and the Compute PutVM limit. */
export const ARM_BUCKETS: Record<ArmCallKind, { capacity: number; refill: number }> = {
  reads: { capacity: 250, refill: 25 },
  writes: { capacity: 200, refill: 10 },
  deletes: { capacity: 200, refill: 10 },
};
export const PUT_VM = { capacity: 1500, refill: 500 / 60 };

export interface ThrottleResult {
  /** Headers every answer carries (`x-ms-ratelimit-remaining-*`). */
  readonly headers: Record<string, string>;
}

function scale(context: SimContext): number | undefined {
  const limits = context.settings.rateLimits.azure;
  if (limits.enabled === false) return undefined;
  return limits.scale ?? 1;
}

function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Takes a token for the call or throws the 429 ARM answers. `putVm` adds the Compute resource provider's own
 * bucket, whose throttling error comes from Compute (OperationNotAllowed / TooManyRequests), not from ARM.
 */
export function throttle(
  context: SimContext,
  principal: string,
  subscription: string,
  kind: ArmCallKind,
  putVm: boolean,
): ThrottleResult {
  const factor = scale(context);
  if (factor === undefined) return { headers: {} };
  const spec = ARM_BUCKETS[kind];
  const bucket = context.buckets.get(
    `azure/${principal}/${kind}`,
    Math.max(1, spec.capacity * factor),
    spec.refill * factor,
  );
  const header = `x-ms-ratelimit-remaining-subscription-${kind}`;
  if (!bucket.tryTake()) {
    const wait = bucket.msUntil();
    throw new ArmError(
      429,
      'SubscriptionRequestsThrottled',
      `Number of '${kind.slice(0, -1)}' requests for subscription '${subscription}' actor '${principal}' exceeded. Please try again after '${retryAfterSeconds(wait)}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
      { headers: { 'retry-after': retryAfterSeconds(wait), [header]: '0' } },
    );
  }
  const headers: Record<string, string> = { [header]: String(Math.floor(bucket.available)) };
  if (putVm) {
    const vmBucket = context.buckets.get(
      `azure/${subscription.toLowerCase()}/PutVM`,
      Math.max(1, PUT_VM.capacity * factor),
      PUT_VM.refill * factor,
    );
    const allowed = Math.round(PUT_VM.capacity * factor);
    if (!vmBucket.tryTake()) {
      const wait = vmBucket.msUntil();
      throw new ArmError(
        429,
        'OperationNotAllowed',
        'The server rejected the request because too many requests have been received for this subscription.',
        {
          details: [
            {
              code: 'TooManyRequests',
              target: 'PutVMSubscriptionMaximum',
              message: JSON.stringify({ operationGroup: 'PutVMSubscriptionMaximum', allowedRequestCount: allowed }),
            },
          ],
          headers: {
            'retry-after': retryAfterSeconds(wait),
            'x-ms-ratelimit-remaining-resource': 'Microsoft.Compute/PutVMSubscriptionMaximum;0',
          },
        },
      );
    }
    headers['x-ms-ratelimit-remaining-resource'] =
      `Microsoft.Compute/PutVMSubscriptionMaximum;${Math.floor(vmBucket.available)}`;
  }
  return { headers };
}

/** The 429 ARM answers for a throttled call (a fault rule's throttle storm: the bucket itself had tokens). */
export function throttled(principal: string, subscription: string, kind: ArmCallKind): ArmError {
  return new ArmError(
    429,
    'SubscriptionRequestsThrottled',
    `Number of '${kind.slice(0, -1)}' requests for subscription '${subscription}' actor '${principal}' exceeded. Please try again after '1' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
    { headers: { 'retry-after': '1', [`x-ms-ratelimit-remaining-subscription-${kind}`]: '0' } },
  );
}
