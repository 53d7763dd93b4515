import {
  CapacityError,
  CloudApiError,
  IdempotencyConflictError,
  QuotaError,
  SkypoolError,
  ThrottledError,
} from '../../src/errors.js';

/** What an SDK error carries that we use; the SDK's own types are classes we only duck-type. */
interface AwsSdkError {
  readonly name: string;
  readonly message: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string; readonly attempts?: number };
}

// The SDK also stamps $metadata on network errors; only an HTTP answer carries a service error code.
const isAwsError = (e: unknown): e is AwsSdkError =>
  typeof e === 'object' &&
  e !== null &&
  typeof (e as AwsSdkError).$metadata?.httpStatusCode === 'number' &&
  typeof (e as AwsSdkError).name === 'string';

const CAPACITY = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientCapacity',
  'InsufficientReservedInstanceCapacity',
  'Unsupported',
]);
const QUOTA = new Set([
  'VcpuLimitExceeded',
  'InstanceLimitExceeded',
  'VolumeLimitExceeded',
  'VpcLimitExceeded',
  'SecurityGroupLimitExceeded',
  'RulesPerSecurityGroupLimitExceeded',
]);
const LAUNCHES = new Set(['RunInstances', 'CreateFleet']);
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);

export interface ErrorContext {
  readonly action: string;
  readonly region: string;
  readonly zone?: string;
  readonly instanceType?: string;
}

/** Maps an @aws-sdk/client-ec2 error (after the SDK's own retries) to skypool's typed errors. */
export function mapAwsError(error: unknown, ctx: ErrorContext): Error {
  if (SkypoolError.isInstance(error)) return error;
  if (!isAwsError(error)) {
    if ((error as Error)?.name === 'AbortError') {
      return new SkypoolError('CANCELLED', `cancelled during EC2 ${ctx.action}`, {
        details: { action: ctx.action, region: ctx.region },
        cause: error,
      });
    }
    return new CloudApiError(
      `EC2 ${ctx.action} failed: ${(error as Error)?.message ?? String(error)}; check the endpoint and network`,
      { action: ctx.action, region: ctx.region },
      error,
    );
  }
  const code = error.name;
  const details = {
    code,
    action: ctx.action,
    region: ctx.region,
    status: error.$metadata?.httpStatusCode,
    requestId: error.$metadata?.requestId,
    attempts: error.$metadata?.attempts,
    ...(ctx.zone ? { zone: ctx.zone } : {}),
    ...(ctx.instanceType ? { instanceType: ctx.instanceType } : {}),
  };
  if (CAPACITY.has(code)) {
    return new CapacityError(
      `EC2 has no ${ctx.instanceType ?? 'instance'} capacity in ${ctx.zone ?? ctx.region} (${code}): ${error.message} Try another zone or instance type.`,
      details,
      error,
    );
  }
  if (QUOTA.has(code)) {
    return new QuotaError(
      `EC2 quota exceeded in ${ctx.region} (${code}): ${error.message} Request a limit increase in Service Quotas or launch fewer/smaller instances.`,
      details,
      error,
    );
  }
  if (THROTTLING.has(code)) {
    return new ThrottledError(
      `EC2 throttled ${ctx.action} in ${ctx.region} after ${error.$metadata?.attempts ?? 1} attempts: ${
        LAUNCHES.has(ctx.action)
          ? "lower the pool's launch rate (queueLimits.aws)"
          : "another client may be using the account's API rate; wait a minute and run the command again"
      }`,
      details,
      error,
    );
  }
  if (code === 'IdempotentParameterMismatch') {
    return new IdempotencyConflictError(
      `EC2 ${ctx.action} in ${ctx.region}: its ClientToken was already used by a request with other parameters`,
      details,
      error,
    );
  }
  return new CloudApiError(`EC2 ${ctx.action} failed with ${code}: ${error.message}`, details, error);
}

/** The EC2 error code of an SDK error, if it is one. */
export const awsErrorCode = (error: unknown): string | undefined => (isAwsError(error) ? error.name : undefined);
