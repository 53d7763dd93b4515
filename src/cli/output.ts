import { redact, redactValue } from '../redact.js';

/** `mermaid` and `dot` draw `status`; every other command prints text for them. */
export type OutputFormat = 'text' | 'json' | 'mermaid' | 'dot';

export interface GlobalOptions {
  readonly file: string;
  readonly output: OutputFormat;
  readonly stateDir?: string;
  readonly adminCidr?: string[];
  /** Seconds a new node may take to boot and join (ClusterOptions.readyTimeoutMs). */
  readonly readyTimeout?: number;
}

/** Writes a command's result: JSON on stdout for scripts, or the text rendering. Always redacted. */
export function printResult(format: OutputFormat, value: unknown, text: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(redactValue(value), null, 2)}\n`);
  else process.stdout.write(`${redact(text())}\n`);
}

/** Progress and notes go to stderr so stdout stays parseable. */
export function note(message: string): void {
  process.stderr.write(`${redact(message)}\n`);
}

export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows
    .map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  '))
    .join('\n');
}
