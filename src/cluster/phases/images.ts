import type { EngineDriver } from '../../engines/types.js';
import type { Instance } from '../../providers/types.js';
import type { ClusterContext } from '../context.js';

/** Loads the spec's image tarballs into every new node (prepare refused images for engines without loadImage). */
export async function loadImages(
  ctx: ClusterContext,
  driver: EngineDriver,
  created: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  const images = ctx.spec.images ?? [];
  const load = driver.loadImage?.bind(driver);
  if (!load) return;
  await Promise.all(
    created.map(async (instance) => {
      for (const image of images) await load(ctx.endpoint(instance), image.tarball, signal ? { signal } : {});
      ctx.progress.emit({
        type: 'node',
        node: instance.name,
        pool: instance.tags.pool,
        state: 'image-loaded',
        detail: images.map((i) => i.name).join(', '),
      });
    }),
  );
}
