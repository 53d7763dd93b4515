import { SkypoolError } from '../../src/errors.js';
import type { Provider } from '../../src/providers/types.js';

// Placeholder until the azure adapter lands.
export function createProvider(): Provider {
  throw new SkypoolError('PROVIDER_UNAVAILABLE', 'the azure provider is not implemented yet');
}
