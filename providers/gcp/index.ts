import { SkypoolError } from '../../src/errors.js';
import type { Provider } from '../../src/providers/types.js';

// Placeholder until the gcp adapter lands.
export function createProvider(): Provider {
  throw new SkypoolError('PROVIDER_UNAVAILABLE', 'the gcp provider is not implemented yet');
}
