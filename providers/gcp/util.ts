/** Small helpers of the gcp adapter. */
export const lastSegment = (url: string | null | undefined) => (url ? url.slice(url.lastIndexOf('/') + 1) : undefined);
export const regionOfZone = (zone: string) => zone.replace(/-[a-z]$/, '');

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// One abortable sleep for the whole project: an abort rejects with skypool's CANCELLED error.
export { sleep } from '../../src/util/poll.js';
