import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** mulberry32: every run makes the same trials. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const CHAOS_SUMMARY = join(process.cwd(), 'bench/results/chaos.json');

/**
 * Writes `keys` into bench/results/chaos.json, keeping every other top-level key there: the provider-phase suite
 * (test/chaos.test.ts) and the engine-phase suite each own their keys of one file.
 */
export async function mergeChaosSummary(keys: Readonly<Record<string, unknown>>): Promise<void> {
  let current: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(CHAOS_SUMMARY, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) current = parsed as Record<string, unknown>;
  } catch {
    // No summary yet, or an unreadable one: start afresh.
  }
  await mkdir(join(process.cwd(), 'bench/results'), { recursive: true });
  await writeFile(CHAOS_SUMMARY, `${JSON.stringify({ ...current, ...keys }, null, 2)}\n`);
}
