import { SkypoolError } from '../../errors.js';
import type { MigrationPlan } from './types.js';

/** The target could not come up: the source was not touched; the error keeps the cause's code and names it. */
export function targetFailed(
  plan: MigrationPlan,
  error: unknown,
  cleaned: string,
  work: 'workload' | 'job' = 'workload',
): SkypoolError {
  const known = SkypoolError.isInstance(error);
  const targets = [...new Set(plan.mappings.map((m) => `${m.target.pool} (${m.target.provider})`))].join(', ');
  return new SkypoolError(
    known ? error.code : 'INTERNAL',
    `migration from ${plan.from} to ${plan.to} stopped before touching the source (its nodes still run every ${work}): ` +
      `the target pool ${targets} could not come up: ${(error as Error).message}${cleaned}`,
    {
      cause: error,
      exitCode: known ? error.exitCode : 1,
      details: {
        ...(known ? error.details : {}),
        migration: { from: plan.from, to: plan.to, stage: 'provision-target' },
      },
    },
  );
}
