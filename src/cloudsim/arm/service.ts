import type { CloudService, SimContext } from '../core/types.js';

// Placeholder: claims nothing until the arm simulator lands.
export function createArmService(_context: SimContext): CloudService {
  return {
    cloud: 'azure',
    claims: () => false,
    handle: async () => ({ status: 501 }),
    inventory: () => [],
    snapshot: () => ({}),
    restore: () => undefined,
  };
}
