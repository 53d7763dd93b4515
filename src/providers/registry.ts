import { SkypoolError } from '../errors.js';
import type { ProviderName } from '../spec/schema.js';
import type { Provider, ProviderSettings } from './types.js';

/**
 * Providers are loaded by name on first use, so importing the core never loads a cloud SDK. Each entry is a
 * dynamic import of providers/<name>/index.js whose `createProvider` builds the adapter.
 */
const loaders: Record<
  ProviderName,
  () => Promise<{
    createProvider: (settings?: ProviderSettings & Record<string, unknown>) => Promise<Provider> | Provider;
  }>
> = {
  local: () => import('../../providers/local/index.js'),
  aws: () => import('../../providers/aws/index.js'),
  azure: () => import('../../providers/azure/index.js'),
  gcp: () => import('../../providers/gcp/index.js'),
};

/**
 * Each cloud's settings check (region, project, credentials present) in a module that loads no SDK: run before any
 * adapter loads, so a missing setting is reported in milliseconds instead of after seconds of SDK loading.
 */
const preflights: Partial<
  Record<
    ProviderName,
    () => Promise<{
      preflight: (settings?: Record<string, unknown>) => void;
      endpoint: (settings?: Record<string, unknown>) => string;
    }>
  >
> = {
  aws: () => import('../../providers/aws/preflight.js'),
  azure: () => import('../../providers/azure/preflight.js'),
  gcp: () => import('../../providers/gcp/preflight.js'),
};

/**
 * Throws the provider's PrerequisiteError when its settings (or the environment variables it reads) cannot work,
 * without loading its SDK. Does nothing for a ready-made Provider or a provider without such a check.
 */
export async function preflightProvider(
  name: ProviderName,
  override?: Provider | (ProviderSettings & Record<string, unknown>),
): Promise<void> {
  if (isProvider(override)) return;
  const loader = preflights[name];
  if (loader) (await loader()).preflight(override ?? {});
}

export type ProviderOverrides = Partial<Record<ProviderName, Provider | (ProviderSettings & Record<string, unknown>)>>;

function isProvider(value: unknown): value is Provider {
  return typeof value === 'object' && value !== null && typeof (value as Provider).runInstances === 'function';
}

/** The provider adapter `name`, loaded on first use, or `override` when it is already a Provider. */
export async function loadProvider(
  name: ProviderName,
  override?: Provider | (ProviderSettings & Record<string, unknown>),
): Promise<Provider> {
  if (isProvider(override)) return override;
  const loader = loaders[name];
  if (!loader) throw new SkypoolError('PROVIDER_UNKNOWN', `unknown provider "${name}"`, { exitCode: 2 });
  let mod: Awaited<ReturnType<typeof loader>>;
  try {
    mod = await loader();
  } catch (cause) {
    throw new SkypoolError(
      'PROVIDER_UNAVAILABLE',
      `provider "${name}" could not be loaded (${(cause as Error).message}); install its SDK: npm install skypool with optional dependencies`,
      { cause },
    );
  }
  return mod.createProvider(override);
}

/** The API endpoint the provider's calls go to with these settings; undefined for a provider without one (local). */
export async function providerEndpoint(
  name: ProviderName,
  override?: ProviderSettings & Record<string, unknown>,
): Promise<string | undefined> {
  const loader = preflights[name];
  return loader ? (await loader()).endpoint(override ?? {}) : undefined;
}
