import type { ClusterPki } from '../../bootstrap/cluster-pki.js';
import type { EngineDriver } from '../../engines/types.js';
import { SpecError } from '../../errors.js';
import type { ClusterContext } from '../context.js';

/**
 * Checks what can be checked before anything changes: the providers' prerequisites, the engine (a SpecError
 * before any network or PKI exists), what the spec asks of the engine; then loads the PKI and the driver.
 */
export async function prepare(ctx: ClusterContext): Promise<{ pki: ClusterPki; driver: EngineDriver }> {
  await ctx.checkPrerequisites();
  ctx.assertEngineSupported();
  const driver = await ctx.driver();
  assertSpecFitsEngine(ctx, driver);
  return { pki: await ctx.pki(), driver };
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
