import { EngineError } from '../../errors.js';
import type { Instance } from '../../providers/types.js';
import { waitEngine } from '../boot-log.js';
import type { ClusterContext, NodeToLaunch } from '../context.js';
import { launchNode, waitRunning } from '../launch.js';
import type { ManagerRef } from '../nodes.js';

/** Creates the pool: launches the first manager and waits until its engine answers as a manager. */
export async function bootstrapManager(
  ctx: ClusterContext,
  first: NodeToLaunch | undefined,
  signal?: AbortSignal,
): Promise<ManagerRef & { instance: Instance }> {
  if (!first)
    throw new EngineError(
      'no manager of the pool answers and none is planned: add a manager pool (count ≥ 1) and apply again',
      { cluster: ctx.spec.name },
    );
  const instance = await waitRunning(ctx, await launchNode(ctx, first, 'manager', true, {}, signal), signal);
  await waitEngine(ctx, instance, signal);
  return { instance, endpoint: ctx.endpoint(instance) };
}
