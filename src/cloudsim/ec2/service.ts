import type { CloudService, SimContext } from '../core/types.js';

// Placeholder: claims nothing until the ec2 simulator lands.
export function createEc2Service(_context: SimContext): CloudService {
  return {
    cloud: 'aws',
    claims: () => false,
    handle: async () => ({ status: 501 }),
    inventory: () => [],
    snapshot: () => ({}),
    restore: () => undefined,
  };
}
