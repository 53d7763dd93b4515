import type { EngineDriver, EngineEndpoint } from '../../engines/types.js';
import { EngineError } from '../../errors.js';
import { NodePoolSchema, type NodePoolSpec } from '../../spec/schema.js';
import type { MigrationPlan } from './types.js';

/** The engine's record of a migration in progress (Swarm: a label of the swarm, replicated by Raft). */
export const MIGRATION_RECORD = 'skypool.migration';

/**
 * What a rerun of `migrate` needs to finish an interrupted one from the engine's state alone: which pools leave
 * and the exact target pools (their names and shapes: the target VMs carry their spec hash). No secrets.
 */
export interface MigrationIntent {
  readonly v: 1;
  readonly from: string;
  readonly to: string;
  readonly sources: readonly string[];
  readonly targets: readonly NodePoolSpec[];
  /** Source pool name -> target pool name. */
  readonly targetOf: Readonly<Record<string, string>>;
  readonly startedAt: string;
  /** Set once the source's retirement starts: from then on the source is going, and a rollback is refused. */
  readonly stage?: 'retire-source';
}

export function parseIntent(text: string): MigrationIntent {
  const value = JSON.parse(text) as Partial<MigrationIntent>;
  if (value.v !== 1 || !Array.isArray(value.sources) || !Array.isArray(value.targets) || !value.targetOf)
    throw new Error('unknown record format');
  return { ...(value as MigrationIntent), targets: value.targets.map((t) => NodePoolSchema.parse(t)) };
}

/** The migration the engine recorded, if any; a record this release cannot read is an error, not ignored. */
export async function readIntent(driver: EngineDriver, manager: EngineEndpoint): Promise<MigrationIntent | undefined> {
  const text = await driver.clusterRecord?.(manager, MIGRATION_RECORD);
  if (!text) return undefined;
  try {
    return parseIntent(text);
  } catch (error) {
    throw new EngineError(
      `the engine holds a migration record (${MIGRATION_RECORD}) this release cannot read: ${(error as Error).message}`,
      { record: MIGRATION_RECORD },
    );
  }
}

export async function writeIntent(
  driver: EngineDriver,
  manager: EngineEndpoint,
  intent: MigrationIntent | undefined,
): Promise<void> {
  await driver.setClusterRecord?.(manager, MIGRATION_RECORD, intent ? JSON.stringify(intent) : undefined);
}

/**
 * The migration's record: the one the engine holds (a rerun), else a new one for this plan, written before anything
 * moves. Its targets are the plan's target pools, each once.
 */
export async function startIntent(
  driver: EngineDriver,
  manager: EngineEndpoint,
  plan: MigrationPlan,
  recorded: MigrationIntent | undefined,
): Promise<MigrationIntent> {
  if (recorded) return recorded;
  const targetNames = new Set(plan.mappings.map((m) => m.target.pool));
  const intent: MigrationIntent = {
    v: 1,
    from: plan.from,
    to: plan.to,
    sources: [...new Set(plan.mappings.map((m) => m.source.pool))],
    targets: [...new Map(plan.pools.filter((p) => targetNames.has(p.name)).map((p) => [p.name, p])).values()],
    targetOf: Object.fromEntries(plan.mappings.map((m) => [m.source.pool, m.target.pool])),
    startedAt: new Date().toISOString(),
  };
  await writeIntent(driver, manager, intent);
  return intent;
}
