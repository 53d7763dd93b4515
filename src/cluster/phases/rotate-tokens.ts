import type { EngineDriver } from '../../engines/types.js';
import type { ManagerRef } from '../nodes.js';

/** New join secrets once the joins settled, so a leaked user-data cannot add nodes (engines that have them). */
export async function rotateJoinTokens(driver: EngineDriver, manager: ManagerRef): Promise<void> {
  await driver.rotateJoinTokens?.(manager.endpoint);
}
