import type { EngineDriver } from '../../engines/types.js';
import { SpecError } from '../../errors.js';
import type { ClusterContext } from '../context.js';

/**
 * Checks what can be checked before anything changes: the providers' prerequisites and the engine (a SpecError
 * before any network exists). The PKI and the driver wait for the inventory: a state directory that did not make
 * the cluster must not write a CA for it.
 */
export async function prepare(ctx: ClusterContext): Promise<void> {
  await ctx.checkPrerequisites();
  ctx.assertEngineSupported();
}

/** Spec fields the engine cannot honour are refused by name. */
export function assertSpecFitsEngine(
  ctx: Pick<ClusterContext, 'spec'>,
  driver: Pick<EngineDriver, 'engine' | 'loadImage'>,
): void {
  if ((ctx.spec.images ?? []).length > 0 && !driver.loadImage) {
    throw new SpecError([
      {
        path: 'images',
        message: `engine ${driver.engine} runs no container images: remove images from the spec (or use engine: swarm)`,
      },
    ]);
  }
}
