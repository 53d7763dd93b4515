import type { Logger } from 'pino';
import { SkypoolError } from '../errors.js';
import { redact } from '../redact.js';
import type { PhaseName, PhaseTiming, ProgressEvent } from './types.js';

/** Fans progress events out to listeners and the logger, and times phases. */
export class Progress {
  private readonly listeners = new Set<(event: ProgressEvent) => void>();
  constructor(private readonly logger: Logger) {}

  on(listener: (event: ProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: ProgressEvent): void {
    this.logger.debug({ event }, event.type);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn({ err: redact(String(error)) }, 'progress listener threw');
      }
    }
  }

  message(message: string, level: 'info' | 'warn' = 'info'): void {
    this.emit({ type: 'message', level, message: redact(message) });
  }

  /** Runs one phase, emitting start and end (with its duration) and recording the timing. */
  async phase<T>(phase: PhaseName, timings: PhaseTiming[] | undefined, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.emit({ type: 'phase-start', phase, at: new Date().toISOString() });
    try {
      const value = await run();
      const ms = Math.round(performance.now() - started);
      timings?.push({ phase, ms });
      this.emit({ type: 'phase-end', phase, ms, ok: true });
      return value;
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      timings?.push({ phase, ms });
      const message = SkypoolError.isInstance(error) || error instanceof Error ? error.message : String(error);
      this.emit({ type: 'phase-end', phase, ms, ok: false, error: redact(message) });
      throw error;
    }
  }
}
