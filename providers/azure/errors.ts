import {
  CapacityError,
  CloudApiError,
  IdempotencyConflictError,
  QuotaError,
  SkypoolError,
  ThrottledError,
} from '../../src/errors.js';

/** Where an error happened, for the typed error's details. */
export interface ErrorContext {
  readonly operation: string;
  readonly zone?: string;
  readonly instanceType?: string;
  readonly region?: string;
}

const CAPACITY = new Set([
  'AllocationFailed',
  'ZonalAllocationFailed',
  'OverconstrainedAllocationRequest',
  'OverconstrainedZonalAllocationRequest',
  'SkuNotAvailable',
]);

/** The ARM error code of a RestError or of a failed long-running operation ("...has failed. CODE. message"). */
export function armCode(error: unknown): { code?: string; status?: number; message: string } {
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (typeof e?.code === 'string' && e.code !== 'REQUEST_SEND_ERROR') return { code: e.code, status, message };
  const lro = /long-running operation has failed\. (\w+)\./.exec(message);
  return { code: lro?.[1] ?? (typeof e?.code === 'string' ? e.code : undefined), status, message };
}

/** Maps an Azure SDK error to skypool's typed errors; SkypoolErrors pass through. */
export function mapAzureError(error: unknown, ctx: ErrorContext): SkypoolError {
  if (SkypoolError.isInstance(error)) return error;
  if ((error as Error)?.name === 'AbortError')
    return new SkypoolError('CANCELLED', `cancelled during Azure ${ctx.operation}`, {
      details: { provider: 'azure', operation: ctx.operation },
      cause: error,
    });
  const { code, status, message } = armCode(error);
  const details = {
    provider: 'azure',
    operation: ctx.operation,
    code,
    status,
    zone: ctx.zone,
    instanceType: ctx.instanceType,
    region: ctx.region,
  };
  // Azure zones are bare numbers: `eastus-1` says whose zone 1 it is.
  const where = ctx.region && ctx.zone ? `${ctx.region}-${ctx.zone}` : (ctx.region ?? ctx.zone ?? '');
  if (code && CAPACITY.has(code)) {
    return new CapacityError(
      `Azure has no capacity for ${ctx.instanceType ?? 'the VM size'} in ${where || 'the region'} (${code}); try another zone or size`,
      details,
      error,
    );
  }
  if (code === 'OperationNotAllowed' && status === 409 && /quota/i.test(message)) {
    return new QuotaError(
      `Azure vCPU quota exceeded in ${ctx.region ?? 'the region'} (${ctx.instanceType ?? 'VM size'}); request a quota increase or use fewer/smaller VMs`,
      details,
      error,
    );
  }
  // A VM of this name exists with other immutable settings (its customData): another process (or an earlier run)
  // launched this very node. The launch's caller adopts that VM by its launch token, as for EC2's ClientToken.
  if (code === 'PropertyChangeNotAllowed' && ctx.operation === 'runInstances') {
    return new IdempotencyConflictError(
      `Azure runInstances: a VM of this name already exists from another launch of the node: ${message.split('\n')[0]}`,
      details,
      error,
    );
  }
  // The launch's scale set (named from its token) is being deleted: that token's VMs are gone, so the caller takes
  // the next generation's token, as for a VM whose name the cloud still holds.
  if (
    code === 'OperationNotAllowed' &&
    status === 409 &&
    /marked for deletion/i.test(message) &&
    ctx.operation === 'runInstances'
  ) {
    return new IdempotencyConflictError(
      `Azure runInstances: the scale set of this launch is being deleted: ${message.split('\n')[0]}`,
      details,
      error,
    );
  }
  if (status === 429)
    return new ThrottledError(
      `Azure throttled ${ctx.operation} after the SDK's retries; slow down or retry later`,
      details,
      error,
    );
  if (code === 'REQUEST_SEND_ERROR' || (code === undefined && status === undefined)) {
    return new CloudApiError(`Azure ${ctx.operation} could not reach the ARM endpoint: ${message}`, details, error);
  }
  return new CloudApiError(
    `Azure ${ctx.operation} failed: ${code ?? status}: ${message.split('\n')[0]}`,
    details,
    error,
  );
}

export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number })?.statusCode === 404;
}
