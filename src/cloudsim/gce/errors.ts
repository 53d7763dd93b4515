import type { SimResponse } from '../core/types.js';

/** Canonical status names Google puts next to the HTTP code (google.rpc.Code). */
const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/**
 * A Compute Engine API error. `reason` is the legacy `errors[].reason` (e.g. `notFound`, `rateLimitExceeded`);
 * the ErrorInfo in `details` carries it in UPPER_SNAKE form, which is what newer clients surface as `e.reason`.
 */
export class GceError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
    message: string,
    readonly extra: {
      domain?: string;
      location?: string;
      locationType?: string;
      metadata?: Record<string, string>;
      infoReason?: string;
      /** `errors[].message` when it differs from the top-level message (as for 401s). */
      itemMessage?: string;
    } = {},
  ) {
    super(message);
  }

  toJSON(): unknown {
    const item: Record<string, string> = {
      domain: this.extra.domain ?? 'global',
      reason: this.reason,
      message: this.extra.itemMessage ?? this.message,
    };
    if (this.extra.location) item.location = this.extra.location;
    if (this.extra.locationType) item.locationType = this.extra.locationType;
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        errors: [item],
        status: STATUS[this.httpStatus] ?? 'UNKNOWN',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: this.extra.infoReason ?? upperSnake(this.reason),
            domain: this.extra.domain === 'usageLimits' ? 'googleapis.com' : 'compute.googleapis.com',
            metadata: this.extra.metadata ?? {},
          },
        ],
      },
    };
  }
}

function upperSnake(reason: string): string {
  return reason.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function errorResponse(error: GceError): SimResponse {
  return {
    status: error.httpStatus,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: JSON.stringify(error.toJSON()),
  };
}

export const notFound = (resource: string) => new GceError(404, 'notFound', `The resource '${resource}' was not found`);
export const alreadyExists = (resource: string) =>
  new GceError(409, 'alreadyExists', `The resource '${resource}' already exists`);
export const notReady = (resource: string) =>
  new GceError(400, 'resourceNotReady', `The resource '${resource}' is not ready`);
export const inUse = (resource: string, by: string) =>
  new GceError(
    400,
    'resourceInUseByAnotherResource',
    `The ${resource.includes('/subnetworks/') ? 'subnetwork' : 'network'} resource '${resource}' is already being used by '${by}'`,
  );
/** The message shape Compute Engine uses for every field validation failure. */
export const invalidField = (field: string, value: unknown, why: string) =>
  new GceError(
    400,
    'invalid',
    `Invalid value for field '${field}': '${typeof value === 'string' ? value : JSON.stringify(value ?? '')}'. ${why}`,
  );
export const required = (field: string) => new GceError(400, 'required', `Required field '${field}' not specified`);

/** An error recorded in a finished Operation (async failure), with the HTTP status the API would have used. */
export interface OperationFailure {
  readonly code: string;
  readonly message: string;
  readonly httpStatus: number;
}
