import type { Logger } from 'pino';
import { redact, redactValue } from './redact.js';

/** Field names whose values are secret whatever they hold; pino censors them at any of the first three levels. */
const SECRET_FIELDS = [
  'token',
  'joinToken',
  'managerToken',
  'workerToken',
  'unlockKey',
  'password',
  'secret',
  'clientSecret',
  'secretAccessKey',
  'sessionToken',
  'accessToken',
  'privateKey',
  'key',
  'authorization',
  'Authorization',
  'cookie',
  'userData',
  'credentials',
] as const;

/** pino `redact` paths: fields with secret names, at the top and two levels down, are censored in every log line. */
export const LOG_REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
export const LOG_CENSOR = '[REDACTED]';

function redactError(error: Error): Error {
  const copy = new Error(redact(error.message));
  copy.name = error.name;
  if (error.stack) copy.stack = redact(error.stack);
  return Object.assign(copy, redactValue({ ...error }));
}

/** Every string of a log record through `redact()`, errors included (their message and stack are not enumerable). */
export function redactLogRecord(record: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, v instanceof Error ? redactError(v) : redactValue(v)]),
  );
}

/**
 * A child of the caller's pino logger that cannot print a secret: named secret fields are censored by pino's
 * `redact` paths, and every other value passes the text patterns of `redact()`, so a field added tomorrow under
 * a new name is still covered. Messages are skypool's own constant strings.
 */
export function redactingLogger(logger: Logger): Logger {
  return logger.child(
    {},
    {
      redact: { paths: [...LOG_REDACT_PATHS], censor: LOG_CENSOR },
      formatters: { log: redactLogRecord },
    },
  );
}
