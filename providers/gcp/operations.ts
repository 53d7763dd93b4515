import { TimeoutError } from '../../src/errors.js';
import { throwIfCancelled } from '../../src/util/poll.js';
import type { ComputeClients } from './clients.js';
import { type FailureContext, mapApiError, type OperationLike, operationError } from './errors.js';
import { lastSegment } from './util.js';

export interface Operation extends OperationLike {
  readonly zone?: string | null;
  readonly region?: string | null;
}

export interface WaitSettings {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** The Operation inside what a mutation resolved to (an LRO wrapper whose `latestResponse` is the Operation). */
export function operationOf(result: unknown): Operation {
  const latest = (result as { latestResponse?: unknown } | undefined)?.latestResponse;
  return (latest ?? result) as Operation;
}

/**
 * Waits for a Compute Engine Operation the way the API intends: `operations.wait` holds up to ~2 minutes and
 * answers with the Operation, DONE or not, so it is called in a loop (each call through `retried`). A failed
 * Operation becomes a typed error.
 */
export async function waitForOperation(
  retried: <T>(read: () => Promise<T>) => Promise<T>,
  clients: ComputeClients,
  project: string,
  op: Operation,
  settings: WaitSettings,
  context: FailureContext,
): Promise<Operation> {
  const deadline = Date.now() + settings.timeoutMs;
  let current = op;
  while (current.status !== 'DONE') {
    throwIfCancelled(settings.signal);
    if (Date.now() > deadline) {
      throw new TimeoutError(
        `Compute Engine operation ${op.name} (${context.action}) did not finish within ${settings.timeoutMs} ms; check it in the console and retry`,
        { ...context, operation: op.name },
      );
    }
    try {
      const name = String(op.name);
      // operations.wait only reads: on throttling, a 5xx or a dropped connection it is asked again.
      const wait = (): Promise<unknown> =>
        op.zone
          ? clients.zoneOperations.wait({ project, zone: lastSegment(op.zone)!, operation: name })
          : op.region
            ? clients.regionOperations.wait({ project, region: lastSegment(op.region)!, operation: name })
            : clients.globalOperations.wait({ project, operation: name });
      [current] = (await retried(wait)) as [Operation];
    } catch (error) {
      throw mapApiError(error, { ...context, action: `${context.action} (waiting for ${op.name})` });
    }
  }
  const failure = operationError(current, context);
  if (failure) throw failure;
  return current;
}
