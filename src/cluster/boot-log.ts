import { EngineError, SkypoolError, TimeoutError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import { redact } from '../redact.js';
import { sleep } from '../util/poll.js';
import type { ClusterContext } from './context.js';

/**
 * What a VM's boot log tells, where its provider can read it (`readUserDataResult`, local): a boot that failed
 * ends a wait at once, and errors carry the end of the log.
 */

/** True only when the provider can tell that the VM's boot script ended with an error (local). */
export async function bootFailed(ctx: ClusterContext, instance: Instance): Promise<boolean> {
  const provider = await ctx.provider(instance.provider);
  if (!provider.readUserDataResult) return false;
  const result = await provider.readUserDataResult(ctx.spec.name, instance.name).catch(() => undefined);
  return result?.done === true && result.exitCode !== 0;
}

/**
 * The end of the VM's boot log for error messages: the user-data's own log where the provider can read it (local),
 * else the end of the VM's console (EC2 GetConsoleOutput, GCE serial port, Azure boot diagnostics), where the
 * boot script logs too.
 */
export async function bootLogTail(
  ctx: Pick<ClusterContext, 'provider' | 'spec'>,
  instance: Instance,
  lines = 15,
): Promise<string | undefined> {
  const provider = await ctx.provider(instance.provider);
  const tailOf = (text: string) => text.trimEnd().split('\n').slice(-lines).join('\n');
  try {
    if (provider.readUserDataResult) {
      const result = await provider.readUserDataResult(ctx.spec.name, instance.name);
      const status = result.done ? `user-data exited with ${result.exitCode}` : 'user-data still running';
      return redact(`${status}; last lines of its log:\n${tailOf(result.log)}`);
    }
    if (!provider.readConsole) return undefined;
    const console = await provider.readConsole(instance, AbortSignal.timeout(10_000));
    return console.trim() ? redact(`last lines of its console:\n${tailOf(console)}`) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the node's engine is part of the pool. Where the provider can read the boot log (local), a
 * user-data that already failed ends the wait at once, with the end of its log in the error.
 */
export async function waitEngine(ctx: ClusterContext, instance: Instance, signal?: AbortSignal): Promise<void> {
  const driver = await ctx.driver();
  const provider = await ctx.provider(instance.provider);
  const stop = new AbortController();
  const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let failedBoot: string | undefined;
  const read = provider.readUserDataResult?.bind(provider);
  const watch = read
    ? (async () => {
        while (!combined.aborted) {
          const result = await read(ctx.spec.name, instance.name).catch(() => undefined);
          if (result?.done && result.exitCode !== 0) {
            failedBoot = await bootLogTail(ctx, instance);
            stop.abort();
            return;
          }
          await sleep(250, combined).catch(() => undefined);
        }
      })()
    : Promise.resolve();
  try {
    await driver.waitReady(ctx.endpoint(instance), instance.tags.role, {
      deadline: Date.now() + ctx.readyTimeoutMs,
      signal: combined,
    });
    ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'engine-ready' });
  } catch (error) {
    if (failedBoot !== undefined && !signal?.aborted) {
      throw new EngineError(
        `the boot script of ${instance.name} failed before its engine joined the pool: ${failedBoot}`,
        { node: instance.name },
      );
    }
    await withBootLog(ctx, instance, error);
  } finally {
    stop.abort();
    await watch;
  }
}

/** Rethrows a node failure with the VM's boot log appended when available. */
export async function withBootLog(ctx: ClusterContext, instance: Instance, error: unknown): Promise<never> {
  const tail =
    SkypoolError.isInstance(error) && error.code !== 'CANCELLED' ? await bootLogTail(ctx, instance) : undefined;
  if (!SkypoolError.isInstance(error) || error.code === 'CANCELLED' || !tail) throw error;
  const details = { ...error.details, node: instance.name };
  if (error.code === 'TIMEOUT') throw new TimeoutError(`${error.message}\n${tail}`, details);
  throw new EngineError(`${error.message}\n${tail}`, details, error);
}
