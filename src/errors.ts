/**
 * Typed errors. Every error skypool throws on purpose is a SkypoolError with a stable `code`, a message that
 * tells the user what to do, and the process exit code the CLI should use (2 = bad input, 1 = failure).
 */
export type ErrorCode =
  | 'SPEC_INVALID'
  | 'SPEC_NOT_FOUND'
  | 'USAGE'
  | 'PROVIDER_UNKNOWN'
  | 'PROVIDER_UNAVAILABLE'
  | 'PREREQUISITE_MISSING'
  | 'CAPACITY_UNAVAILABLE'
  | 'QUOTA_EXCEEDED'
  | 'THROTTLED'
  | 'CLOUD_API_ERROR'
  | 'ENGINE_ERROR'
  | 'TIMEOUT'
  | 'NOT_FOUND'
  | 'CANCELLED'
  | 'LOCKED'
  | 'IDEMPOTENCY_CONFLICT'
  | 'MIGRATION_NOT_REVERSIBLE'
  | 'INTERNAL';

const MARK = Symbol.for('skypool.error');

/** Codes a retry of the same call can cure when nothing more specific is known (throttling, a 5xx, a reset). */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set(['THROTTLED', 'CLOUD_API_ERROR']);

/** Base of every error skypool throws on purpose: a stable `code`, a message with the fix, an exit code. */
export class SkypoolError extends Error {
  readonly [MARK] = true;
  readonly code: ErrorCode;
  readonly exitCode: 1 | 2;
  /** Extra structured detail for `--output json`; never holds secrets. */
  readonly details: Readonly<Record<string, unknown>>;
  /**
   * Whether the same call again can succeed (throttling, a 5xx, a dropped connection). Deterministic failures
   * (validation, no size fits, bad input, quota) are false: the provisioning queue does not retry them.
   */
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; exitCode?: 1 | 2; details?: Record<string, unknown>; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? RETRYABLE_CODES.has(code);
  }

  /** Works across copies of the package (e.g. a CLI and an SDK from different node_modules). */
  static isInstance(value: unknown): value is SkypoolError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }

  /** What `--output json` prints for the error. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

/** One problem of a spec: the field and what to do. */
export interface SpecIssue {
  /** Dotted path of the field, e.g. `pools[1].count`. */
  readonly path: string;
  readonly message: string;
  /** Line of the spec file the field is on, when it came from YAML. */
  readonly line?: number;
}

/** Bad input in a cluster spec: names every field at fault and how to fix it. Exit code 2. */
export class SpecError extends SkypoolError {
  readonly issues: readonly SpecIssue[];
  constructor(issues: readonly SpecIssue[], source?: string) {
    const where = source ? ` in ${source}` : '';
    const lines = issues
      .map(
        (i) =>
          `  - ${i.path || '(root)'}: ${i.message}${i.line !== undefined && !i.path.startsWith('line ') ? ` (line ${i.line})` : ''}`,
      )
      .join('\n');
    super('SPEC_INVALID', `invalid cluster spec${where}:\n${lines}`, { exitCode: 2, details: { issues, source } });
    this.issues = issues;
  }
}

/** A tool, permission or platform the chosen provider needs is missing; raised before anything is created. */
export class PrerequisiteError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PREREQUISITE_MISSING', message, { details });
  }
}

/** Why one zone could not take a launch: the cloud's reason code and the instance type asked for. */
export interface ZoneFailure {
  readonly zone: string;
  /** The cloud's own code: InsufficientInstanceCapacity, ZONE_RESOURCE_POOL_EXHAUSTED, ZonalAllocationFailed... */
  readonly reason: string;
  readonly instanceType?: string;
}

/**
 * The cloud had no capacity for the request (synchronously or in a finished async operation). Not retried in
 * place: the provisioning queue moves the launch to the pool's next zone instead. `details.zones` lists each
 * zone tried with the cloud's reason when the queue gave up.
 */
export class CapacityError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('CAPACITY_UNAVAILABLE', message, { details, cause, retryable: false });
  }
}

/** No instance type / VM size / machine type of the region (or zone) has the pool's `size`: the same on every cloud. */
export class NoFittingSizeError extends CapacityError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { reason: 'NoFittingSize', ...details });
  }
}

/** The account's quota would be exceeded; retrying does not help, raising the quota does. */
export class QuotaError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('QUOTA_EXCEEDED', message, { details, cause });
  }
}

/**
 * A cloud API answered with an error the adapter did not map to something more specific. Retryable unless the
 * cloud refused the request itself (a 4xx other than 408/409/429: validation, bad CIDR, unknown type) or the
 * adapter says so with `details.retryable: false`.
 */
export class CloudApiError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    const status = [details.status, details.httpStatus].find((v): v is number => typeof v === 'number');
    const refused = status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
    const retryable = typeof details.retryable === 'boolean' ? details.retryable : !refused;
    super('CLOUD_API_ERROR', message, { details, cause, retryable });
  }
}

/** The scheduling engine (Docker Swarm) refused or failed an operation. */
export class EngineError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('ENGINE_ERROR', message, { details, cause });
  }
}

/** A wait passed its deadline (a VM not running, a node not joining, a service not ready). */
export class TimeoutError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('TIMEOUT', message, { details });
  }
}

/** The cloud throttled the call and the retries allowed were used up. */
export class ThrottledError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('THROTTLED', message, { details, cause });
  }
}

/**
 * The cloud already saw this idempotency token (EC2 ClientToken, GCE requestId) on a request with other
 * parameters: another process launched this node, or the token belongs to an earlier VM of that name.
 */
export class IdempotencyConflictError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('IDEMPOTENCY_CONFLICT', message, { details, cause, retryable: false });
  }
}

/** Another process holds the cluster's lock (a mutating call is in progress); exit code 1. */
export class LockedError extends SkypoolError {
  constructor(
    cluster: string,
    path: string,
    holder?: { pid: number; hostname: string; operation: string; since: string },
  ) {
    const who = holder
      ? `process ${holder.pid} on ${holder.hostname} (${holder.operation}, since ${holder.since})`
      : 'another process (its lock file is being written or unreadable)';
    super('LOCKED', `cluster ${cluster} is locked by ${who}: wait for it, or remove ${path} if that process is gone`, {
      details: { cluster, path, ...(holder ? { holder } : {}) },
    });
  }
}

/**
 * `migrate --rollback` cannot return to the source: its retirement started (source VMs terminated or being
 * terminated) or the migration finished. Migrating back is the way then. Exit code 1; `details.stage` says why.
 */
export class MigrationNotReversibleError extends SkypoolError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MIGRATION_NOT_REVERSIBLE', message, { details, retryable: false });
  }
}
