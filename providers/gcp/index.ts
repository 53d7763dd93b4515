import { GcpProvider } from './provider.js';
import type { GcpProviderSettings } from './settings.js';

export type { GcpAuthClient } from './clients.js';
export { GcpProvider } from './provider.js';
export type { GcpProviderSettings } from './settings.js';

/**
 * The Compute Engine provider. Against the real cloud: `createProvider({ project, region })` with Application
 * Default Credentials. Against cloudsim: `createProvider({ project, region, apiEndpoint: '127.0.0.1', port,
 * protocol: 'http', accessToken: 'any' })`.
 */
export function createProvider(settings: GcpProviderSettings = {}): GcpProvider {
  return new GcpProvider(settings);
}
