import { SkypoolError } from '../errors.js';
import type { Plan } from '../plan.js';
import type { ClusterContext } from './context.js';
import type { EngineApiExposure } from './engine-api.js';
import { migrationInProgress } from './migrate/index.js';
import type { MigrationPlan } from './migrate/types.js';
import { type Observation, observeWith } from './observe.js';
import { assertNoSilentManager, foreignCluster } from './phases/inventory.js';
import { driftWarnings, outsidePools, surveyCluster } from './survey.js';

const CLOUD_SIDE_ONLY =
  "The plan shows the clouds' side only: without the engine's word, VMs whose engine never joined or is down are not shown as replaced";

/**
 * `Cluster.plan()`: what apply would do with this spec, from the providers the spec names (as apply lists them),
 * the engine's word from a manager found among every VM of the cluster, the cluster's pools beyond the spec, and
 * the migration the engine recorded. Read-only; what it could not see becomes a warning, never a failure.
 */
export async function planCluster(ctx: ClusterContext, engineApi: readonly EngineApiExposure[]): Promise<Plan> {
  const pki = ctx.hasPki();
  const survey = await surveyCluster(ctx, { findManager: pki });
  const warnings = [...survey.warnings];
  const vms = survey.own.length + survey.beyond.length;
  let observation: Observation;
  // Without the CA no manager can be asked; with no manager VM at all the pool never formed (as apply judges).
  if (!pki && [...survey.own, ...survey.beyond].some((i) => i.tags.role === 'manager')) {
    warnings.push(`${foreignCluster(ctx, vms).message}. ${CLOUD_SIDE_ONLY}`);
    observation = await observeWith(ctx, survey.own, undefined, { strays: false });
  } else observation = await observeOrWarn(ctx, survey.own, survey.manager, warnings);
  const outside = outsidePools(survey.beyond);
  warnings.push(...driftWarnings(ctx.spec, survey, outside));
  const silentBeyond = survey.beyond.filter((i) => i.tags.role === 'manager');
  if (pki && !survey.manager && silentBeyond.length > 0)
    warnings.push(
      `no manager of cluster ${ctx.spec.name} answers on the providers your spec names, nor on ${[...new Set(silentBeyond.map((i) => i.provider))].join(', ')} (${silentBeyond.map((i) => i.name).join(', ')}): the engine could not be asked`,
    );
  let migration: MigrationPlan | undefined;
  if (survey.manager) {
    try {
      migration = await migrationInProgress(ctx, survey.manager);
    } catch (error) {
      if (!SkypoolError.isInstance(error)) throw error;
      warnings.push(`the migration the engine recorded could not be read: ${error.message}`);
    }
  }
  return {
    ...observation.plan,
    engineApi,
    ...(migration ? { migration } : {}),
    ...(outside.length > 0 ? { outside } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/**
 * The plan from the manager found; without one, apply's own judgement: no manager VM that booted (the pool never
 * formed, every VM a stray) or managers that stay silent, where apply would stop. Then, or when the manager fails
 * to list its nodes, the plan shows the clouds' side with the error as a warning (strays unknown without the
 * engine's word).
 */
async function observeOrWarn(
  ctx: ClusterContext,
  own: Parameters<typeof observeWith>[1],
  manager: Parameters<typeof observeWith>[2],
  warnings: string[],
): Promise<Observation> {
  try {
    if (!manager) await assertNoSilentManager(ctx, own);
    return await observeWith(ctx, own, manager);
  } catch (error) {
    if (!SkypoolError.isInstance(error)) throw error;
    warnings.push(`${error.message}. ${CLOUD_SIDE_ONLY}`);
    return observeWith(ctx, own, undefined, { strays: false });
  }
}
