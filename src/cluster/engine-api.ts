import type { Provider, ProviderSettings } from '../providers/types.js';
import { isWholeInternet } from '../util/operator-address.js';

/** Who may reach one provider's engine API port (2376/tcp), as its firewall will say. */
export interface EngineApiExposure {
  readonly provider: string;
  readonly sources: readonly string[];
}

type Settings = Provider | (ProviderSettings & Record<string, unknown>) | undefined;

/**
 * The provider settings with the cluster's admin CIDRs (`--admin-cidr`, else the spec's `adminCidrs`) as
 * `engineApiSources`. A Provider instance passed by the caller is used as it is.
 */
export function withAdminCidrs(settings: Settings, adminCidrs: readonly string[] | undefined): Settings {
  if (!adminCidrs?.length) return settings;
  if (settings && typeof (settings as Provider).runInstances === 'function') return settings;
  return { ...(settings as ProviderSettings & Record<string, unknown>), engineApiSources: [...adminCidrs] };
}

/** The engine API sources of every provider that has a firewall for it (the local provider has none). */
export async function engineApiExposure(
  providers: readonly Provider[],
  signal?: AbortSignal,
): Promise<EngineApiExposure[]> {
  const out: EngineApiExposure[] = [];
  for (const provider of providers) {
    if (!provider.engineApiSources) continue;
    out.push({ provider: provider.name, sources: await provider.engineApiSources(signal) });
  }
  return out;
}

/** The warning to show when a provider opens the engine API to the whole internet; undefined otherwise. */
export function wholeInternetWarning(exposure: readonly EngineApiExposure[]): string | undefined {
  const open = exposure.filter((e) => isWholeInternet(e.sources)).map((e) => e.provider);
  if (open.length === 0) return undefined;
  return (
    `the engine API (2376/tcp) of the ${open.join(', ')} nodes is open to the whole internet (0.0.0.0/0): ` +
    'mutual TLS is its only guard. Narrow adminCidrs / --admin-cidr to the addresses you run skypool from.'
  );
}
