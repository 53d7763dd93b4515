import {
  CapacityError,
  CloudApiError,
  IdempotencyConflictError,
  QuotaError,
  SkypoolError,
  ThrottledError,
} from '../../src/errors.js';

/**
 * Maps Compute Engine failures to skypool's typed errors. Two shapes arrive: errors thrown by the client (a
 * GaxiosError whose message is the Google JSON error, or a GoogleError with `reason`/`httpStatusCode`), and
 * failed Operations (`op.error.errors[].code`, e.g. ZONE_RESOURCE_POOL_EXHAUSTED), which are data, not throws.
 * The original error is never attached as `cause`: a GaxiosError carries the request headers (the token).
 */
interface GoogleErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    errors?: { reason?: string; message?: string }[];
    details?: { reason?: string }[];
  };
}

export interface ApiFailure {
  readonly httpStatus?: number;
  readonly reason?: string;
  readonly message: string;
}

const CAPACITY_CODES = new Set([
  'ZONE_RESOURCE_POOL_EXHAUSTED',
  'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS',
  'RESOURCE_POOL_EXHAUSTED',
  'RESOURCE_NOT_AVAILABLE',
]);
const QUOTA_CODES = new Set(['QUOTA_EXCEEDED', 'quotaExceeded']);
export const THROTTLE_REASONS: ReadonlySet<string> = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'RATE_LIMIT_EXCEEDED',
]);

/** Status, reason and message of anything the client threw. */
export function describeFailure(error: unknown): ApiFailure {
  const e = (error ?? {}) as {
    code?: unknown;
    status?: unknown;
    httpStatusCode?: unknown;
    reason?: unknown;
    message?: unknown;
    response?: { status?: unknown; data?: unknown };
  };
  const text = typeof e.message === 'string' ? e.message : String(error);
  let body: GoogleErrorBody | undefined;
  if (e.response?.data && typeof e.response.data === 'object') body = e.response.data as GoogleErrorBody;
  else {
    const start = text.indexOf('{');
    if (start >= 0) {
      try {
        body = JSON.parse(text.slice(start)) as GoogleErrorBody;
      } catch {
        body = undefined;
      }
    }
  }
  const status = [body?.error?.code, e.httpStatusCode, e.response?.status, e.status, e.code].find(
    (v): v is number => typeof v === 'number' && v >= 100,
  );
  const reason =
    body?.error?.errors?.[0]?.reason ??
    (typeof e.reason === 'string' ? e.reason : undefined) ??
    body?.error?.details?.[0]?.reason;
  return { httpStatus: status, reason, message: body?.error?.message ?? text.split('\n')[0]!.slice(0, 500) };
}

export function isNotFound(error: unknown): boolean {
  const f = describeFailure(error);
  return f.httpStatus === 404 || f.reason === 'notFound';
}

export function isAlreadyExists(error: unknown): boolean {
  const f = describeFailure(error);
  return f.httpStatus === 409 || f.reason === 'alreadyExists';
}

export interface FailureContext {
  readonly action: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly project?: string;
}

function classify(
  code: string | undefined,
  httpStatus: number | undefined,
  message: string,
  context: FailureContext,
): SkypoolError {
  const details = { ...context, ...(code ? { cloudCode: code } : {}), ...(httpStatus ? { httpStatus } : {}) };
  if (code && CAPACITY_CODES.has(code)) {
    return new CapacityError(
      `Compute Engine has no capacity for ${context.instanceType ?? 'the instances'} in ${context.zone ?? 'the zone'} (${code}): try another zone or machine type`,
      details,
    );
  }
  if (code && QUOTA_CODES.has(code)) {
    return new QuotaError(
      `Compute Engine quota exceeded during ${context.action}: ${message} Request a quota increase or launch fewer/smaller instances.`,
      details,
    );
  }
  if ((code && THROTTLE_REASONS.has(code)) || httpStatus === 429) {
    return new ThrottledError(
      `Compute Engine rate quota exceeded during ${context.action} (${code ?? httpStatus}): wait a minute or launch in smaller batches.`,
      details,
    );
  }
  if (httpStatus === 400 && /request ?id/i.test(message) && /already used/i.test(message)) {
    return new IdempotencyConflictError(
      `Compute Engine ${context.action}: its requestId was already used by another request: ${message}`,
      details,
    );
  }
  return new CloudApiError(`Compute Engine ${context.action} failed${code ? ` (${code})` : ''}: ${message}`, details);
}

/** Typed error for something the client threw. */
export function mapApiError(error: unknown, context: FailureContext): SkypoolError {
  if (SkypoolError.isInstance(error)) return error;
  const f = describeFailure(error);
  return classify(f.reason, f.httpStatus, f.message, context);
}

export interface OperationLike {
  readonly name?: string | null;
  readonly status?: unknown;
  readonly error?: {
    readonly errors?: readonly { readonly code?: string | null; readonly message?: string | null }[] | null;
  } | null;
  readonly httpErrorStatusCode?: number | null;
}

/** Typed error for a finished Operation that failed, or undefined when it succeeded. */
export function operationError(op: OperationLike, context: FailureContext): SkypoolError | undefined {
  const first = op.error?.errors?.[0];
  if (!first) return undefined;
  return classify(
    first.code ?? undefined,
    op.httpErrorStatusCode ?? undefined,
    first.message ?? 'operation failed',
    context,
  );
}
