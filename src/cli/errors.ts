import { SkypoolError } from '../errors.js';
import { redact } from '../redact.js';
import type { OutputFormat } from './output.js';

/** Prints an error the way the user asked for output and returns the exit code (2 bad input, 1 failure). */
export function reportError(error: unknown, format: OutputFormat): number {
  const known = SkypoolError.isInstance(error);
  const code = known ? error.code : 'INTERNAL';
  const exitCode = known ? error.exitCode : 1;
  const message = redact(error instanceof Error ? error.message : String(error));
  if (format === 'json') {
    const details = known ? error.details : {};
    process.stdout.write(`${redact(JSON.stringify({ error: { code, message, details } }, null, 2))}\n`);
  } else {
    process.stderr.write(`error [${code}]: ${message}\n`);
    if (!known && process.env.SKYPOOL_DEBUG && error instanceof Error && error.stack)
      process.stderr.write(`${redact(error.stack)}\n`);
  }
  return exitCode;
}

export class UsageError extends SkypoolError {
  constructor(message: string) {
    super('USAGE', message, { exitCode: 2 });
  }
}
