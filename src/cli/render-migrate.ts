import type { MigrationPlan, MigrationResult, PricedPool } from '../cluster/index.js';
import { table } from './output.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const usd = (n: number | undefined) => (n === undefined ? 'n/a' : `$${n.toFixed(4)}/h`);
const where = (p: PricedPool) => `${p.provider}${p.region ? ` ${p.region}` : ''}`;
const list = (names: readonly string[]) => (names.length ? names.join(', ') : 'none');

/** The plan: each pool's move with the type and list price on each side, then what is created, drained, removed. */
export function renderMigrationPlan(plan: MigrationPlan): string {
  const rows = [
    ['SOURCE POOL', 'WHERE', 'NODES', 'TYPE', 'COST', '→', 'TARGET POOL', 'WHERE', 'TYPE', 'COST'],
    ...plan.mappings.map((m) => [
      m.source.pool,
      where(m.source),
      `${m.source.count} ${m.source.role}`,
      m.source.instanceType ?? '?',
      usd(m.source.poolHourlyUsd),
      '→',
      `${m.target.pool}${m.targetExists ? '' : ' (new)'}`,
      where(m.target),
      m.target.instanceType ?? '?',
      usd(m.target.poolHourlyUsd),
    ]),
  ];
  return [
    `Migration of cluster ${plan.cluster} from ${plan.from} to ${plan.to}${plan.resumed ? ` (resuming the one started ${plan.resumed})` : ''}`,
    table(rows),
    '',
    `  create:     ${list(plan.create)}`,
    `  drain:      ${list(plan.drain)}`,
    `  managers:   ${plan.managersLeaving.length ? `${list(plan.managersLeaving)} demoted one at a time once the target's managers are in the quorum` : 'none on the source'}`,
    `  terminate:  ${list(plan.terminate)}`,
    `  networks:   ${plan.networksDeleted.length ? plan.networksDeleted.map((n) => `${n.provider}${n.region ? ` ${n.region}` : ''}`).join(', ') : 'none'} deleted`,
    `  cost:       ${usd(plan.sourceHourlyUsd)} → ${usd(plan.targetHourlyUsd)} (list prices as of ${plan.catalogDate})`,
    ...(plan.rollbackPossible === undefined
      ? []
      : [
          `  rollback:   ${plan.rollbackPossible ? `possible while the source exists: skypool migrate --from ${plan.from} --to ${plan.to} --rollback` : 'no longer possible: the source is being retired (finish the migration, then migrate back)'}`,
        ]),
  ].join('\n');
}

export function renderMigration(result: MigrationResult): string {
  const plan = renderMigrationPlan(result.plan);
  if (result.dryRun) return `${plan}\n\nDry run: nothing was changed.`;
  if (result.rolledBack)
    return [
      `Migration of cluster ${result.cluster} from ${result.plan.from} to ${result.plan.to} rolled back in ${seconds(result.durationMs)}:`,
      ...result.services.map(
        (s) => `  service ${s.service}: ${s.movedTasks} of ${s.replicas} task(s) back on ${list(s.toNodes)}`,
      ),
      `  managers:   ${list(result.managers)}${result.leader ? ` (leader ${result.leader})` : ''}`,
      `  removed:    ${list(result.terminated)}`,
    ].join('\n');
  const services = result.services.map(
    (s) =>
      `  service ${s.service}: ${s.movedTasks} of ${s.replicas} task(s) moved from ${list(s.fromNodes)} to ${list(s.toNodes)} in ${seconds(s.ms)}`,
  );
  const jobs = (result.jobs ?? []).map(
    (j) =>
      `  job ${j.job} (${j.name}): ${j.requeued ? `requeued from ${list(j.fromNodes)} onto ${list(j.toNodes)}` : `${j.state} on ${list(j.fromNodes)}`} (drained in ${seconds(j.ms)})`,
  );
  return [
    plan,
    '',
    `Migrated in ${seconds(result.durationMs)} (target provisioned in ${seconds(result.provisionMs)}):`,
    `  created:    ${list(result.created)}`,
    ...services,
    ...jobs,
    `  managers:   ${list(result.managers)}${result.leader ? ` (leader ${result.leader})` : ''}`,
    `  terminated: ${list(result.terminated)}`,
    `  phases:     ${result.phases.map((p) => `${p.phase} ${seconds(p.ms)}`).join(', ')}`,
  ].join('\n');
}
