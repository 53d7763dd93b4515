import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterStateDir } from '../bootstrap/cluster-pki.js';
import { type NodePoolSpec, PROVIDERS, type ProviderName } from '../spec/schema.js';

/**
 * Where this state directory has put the cluster's VMs: per provider, the regions its pools named ('' for the
 * provider's own). Read-only commands list these too, so a spec that no longer names a provider the cluster
 * runs on (written before a migration) still finds its managers and shows what runs there.
 */
export type Footprint = Partial<Record<ProviderName, readonly string[]>>;

const FILE = 'footprint.json';

const pathOf = (stateDir: string, cluster: string): string => join(clusterStateDir(stateDir, cluster), FILE);

/** The footprint with the pools' providers and regions added; the same object when they add nothing. Pure. */
export function withPools(
  footprint: Footprint,
  pools: readonly Pick<NodePoolSpec, 'provider' | 'region'>[],
): Footprint {
  let next: Record<string, readonly string[]> | undefined;
  for (const pool of pools) {
    const regions = (next ?? footprint)[pool.provider] ?? [];
    const region = pool.region ?? '';
    if (regions.includes(region)) continue;
    next ??= { ...footprint };
    next[pool.provider] = [...regions, region].sort();
  }
  return next ?? footprint;
}

function sameFootprint(a: Footprint, b: Footprint): boolean {
  const key = (f: Footprint) =>
    JSON.stringify(PROVIDERS.filter((p) => f[p] !== undefined).map((p) => [p, [...(f[p] ?? [])].sort()]));
  return key(a) === key(b);
}

/** The regions to list on a provider: the named ones, or none (its own region) when only that was used. */
export function regionsToList(regions: readonly string[]): string[] {
  return regions.filter((r) => r !== '');
}

/** The recorded footprint; an absent or unreadable record is an empty one (a cluster made by an older release). */
export async function readFootprint(stateDir: string, cluster: string): Promise<Footprint> {
  let text: string;
  try {
    text = await readFile(pathOf(stateDir, cluster), 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const providers = (parsed as { providers?: unknown } | null)?.providers;
  if (!providers || typeof providers !== 'object') return {};
  const footprint: Record<string, readonly string[]> = {};
  for (const name of PROVIDERS) {
    const regions = (providers as Record<string, unknown>)[name];
    if (Array.isArray(regions)) footprint[name] = regions.filter((r): r is string => typeof r === 'string');
  }
  return footprint;
}

/**
 * Adds the pools' providers and regions to the record (written whole, only when they add something), or with
 * `replace` makes them the whole record (a migration retired its source: the cluster runs on these pools only).
 */
export async function recordFootprint(
  stateDir: string,
  cluster: string,
  pools: readonly Pick<NodePoolSpec, 'provider' | 'region'>[],
  options: { replace?: boolean } = {},
): Promise<void> {
  const before = await readFootprint(stateDir, cluster);
  const after = withPools(options.replace ? {} : before, pools);
  if (after === before || (options.replace && sameFootprint(after, before))) return;
  const path = pathOf(stateDir, cluster);
  await mkdir(clusterStateDir(stateDir, cluster), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ providers: after }, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, path);
}
