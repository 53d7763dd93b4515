import type { CloudService, SimContext } from '../core/types.js';

// Placeholder: claims nothing until the gce simulator lands.
export function createGceService(_context: SimContext): CloudService {
  return {
    cloud: 'gcp',
    claims: () => false,
    handle: async () => ({ status: 501 }),
    inventory: () => [],
    snapshot: () => ({}),
    restore: () => undefined,
  };
}
