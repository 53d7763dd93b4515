import { EngineError } from '../errors.js';
import type { OutsidePool } from '../plan.js';
import { preflightProvider } from '../providers/registry.js';
import type { Instance } from '../providers/types.js';
import type { ClusterSpec, ProviderName } from '../spec/schema.js';
import type { ClusterContext } from './context.js';
import { type Footprint, readFootprint, regionsToList } from './footprint.js';
import { findManager, type ManagerRef } from './nodes.js';

/** What read-only commands see: what apply sees, and the cluster's VMs beyond it. */
export interface Survey {
  /** The instances on the providers the spec names (what apply lists). */
  readonly own: Instance[];
  /** The cluster's instances on other providers: where this state directory put it, or the options configure. */
  readonly beyond: Instance[];
  /** A manager that answers, among all of them. */
  readonly manager: ManagerRef | undefined;
  /** Providers that could not be listed, in words. */
  readonly warnings: string[];
  /** The providers beyond the spec's that this state directory has put the cluster on (apply checks these). */
  readonly recorded: ReadonlySet<ProviderName>;
}

/**
 * Lists the cluster on the providers the spec does not name, each on its own: one that cannot be listed (no
 * credentials here, an outage) is a warning, never a failure of the read-only command.
 */
async function listBeyond(
  ctx: ClusterContext,
  providers: ReadonlyMap<ProviderName, readonly string[]>,
  signal?: AbortSignal,
  options: { identities?: boolean } = {},
): Promise<{ instances: Instance[]; warnings: string[] }> {
  const warnings: string[] = [];
  const lists = await Promise.all(
    [...providers].map(async ([name, regions]) => {
      try {
        // Settings missing here (the cluster left that cloud) fail in milliseconds, before its SDK loads.
        await preflightProvider(name, ctx.options.providers?.[name]);
        return await ctx.listInstances(name, regions, signal);
      } catch (error) {
        warnings.push(`could not list cluster ${ctx.spec.name} on ${name}: ${(error as Error).message}`);
        return [];
      }
    }),
  );
  const instances = lists.flat();
  if (options.identities !== false)
    await ctx.recallIdentities(
      instances.filter((i) => i.tags.role === 'manager'),
      signal,
    );
  return { instances, warnings };
}

/**
 * Every VM of the cluster a read-only command can find, and a manager among them. The spec's providers first
 * (what apply sees), then the providers this state directory has put the cluster on (a migration moved it, and
 * the spec was written before); only when no manager answers on those, the other providers the options
 * configure. So a spec from before `migrate` still reaches the managers wherever they run now. `findManager:
 * false` only lists (no CA here to ask one with).
 */
export async function surveyCluster(
  ctx: ClusterContext,
  options: { waitMs?: number; signal?: AbortSignal; findManager?: boolean } = {},
): Promise<Survey> {
  const { signal } = options;
  const wait = { ...(options.waitMs !== undefined ? { waitMs: options.waitMs } : {}), ...(signal ? { signal } : {}) };
  const named = new Set(ctx.providerNames);
  const [own, footprint] = await Promise.all([
    ctx.inventory(signal, { identities: 'managers' }),
    readFootprint(ctx.options.stateDir, ctx.spec.name),
  ]);
  const recorded = recordedBeyond(footprint, named);
  const first = await listBeyond(ctx, recorded, signal);
  const beyond = [...first.instances];
  const warnings = [...first.warnings];
  const all = [...own, ...beyond];
  const search = options.findManager !== false;
  let manager = search && all.length > 0 ? await findManager(ctx, all, wait) : undefined;
  if (search && !manager) {
    const configured = new Map(
      configuredProviders(ctx)
        .filter((name) => !named.has(name) && !recorded.has(name))
        .map((name) => [name, [] as string[]]),
    );
    if (configured.size > 0) {
      const more = await listBeyond(ctx, configured, signal);
      beyond.push(...more.instances);
      warnings.push(...more.warnings);
      if (more.instances.length > 0) manager = await findManager(ctx, more.instances, wait);
    }
  }
  return { own, beyond, manager, warnings, recorded: new Set(recorded.keys()) };
}

/**
 * The manager a command that talks to the engine (run, a workload's or a job's read) uses, found as status finds
 * it: among every VM of the cluster, also where a spec from before `migrate` no longer points. What the spec
 * does not describe, and providers that could not be listed, are said as progress warnings, as status notes them.
 */
export async function reachManager(
  ctx: ClusterContext,
  options: { waitMs?: number; signal?: AbortSignal } = {},
): Promise<{ manager: ManagerRef | undefined; instances: Instance[] }> {
  const survey = await surveyCluster(ctx, options);
  for (const warning of [...survey.warnings, ...driftWarnings(ctx.spec, survey, outsidePools(survey.beyond))])
    ctx.progress.message(warning, 'warn');
  return { manager: survey.manager, instances: [...survey.own, ...survey.beyond] };
}

/** Why no manager answers, for a command that cannot go on without one; `instances` as `reachManager` found them. */
export function noManagerAnswers(ctx: ClusterContext, instances: readonly Instance[]): EngineError {
  const silent = instances.filter((i) => i.tags.role === 'manager');
  const why =
    silent.length > 0
      ? `its manager VM(s) ${silent.map((i) => `${i.name} (${i.provider}, ${i.state})`).join(', ')} do not answer on the engine API (still booting, or the engine is down): \`skypool status\` shows them`
      : 'run `skypool up` first';
  return new EngineError(`no manager of cluster ${ctx.spec.name} answers: ${why}`, { cluster: ctx.spec.name });
}

/**
 * The providers this state directory put the cluster on that the spec names no pool on, each with the regions
 * recorded there ('' for the provider's own region).
 */
export async function recordedElsewhere(ctx: ClusterContext): Promise<Map<ProviderName, readonly string[]>> {
  const named = new Set(ctx.providerNames);
  const footprint = await readFootprint(ctx.options.stateDir, ctx.spec.name);
  return new Map((Object.entries(footprint) as [ProviderName, readonly string[]][]).filter(([n]) => !named.has(n)));
}

/** The providers of the footprint the spec names no pool on, with the regions to list there. */
function recordedBeyond(footprint: Footprint, named: ReadonlySet<ProviderName>): Map<ProviderName, string[]> {
  return new Map(
    (Object.entries(footprint) as [ProviderName, readonly string[]][])
      .filter(([name]) => !named.has(name))
      .map(([name, regions]) => [name, regionsToList(regions)]),
  );
}

/** The providers the options hold settings or an adapter for. */
function configuredProviders(ctx: ClusterContext): ProviderName[] {
  const providers = ctx.options.providers ?? {};
  return (Object.keys(providers) as ProviderName[]).filter((name) => providers[name] !== undefined);
}

/** The VMs beyond the spec's providers grouped by pool, in name order. Pure. */
export function outsidePools(beyond: readonly Instance[]): OutsidePool[] {
  const byPool = new Map<string, { pool: string; provider: ProviderName; role: string; instances: Instance[] }>();
  for (const i of beyond) {
    const key = `${i.provider} ${i.tags.pool}`;
    let group = byPool.get(key);
    if (!group) {
      group = { pool: i.tags.pool, provider: i.provider, role: i.tags.role, instances: [] };
      byPool.set(key, group);
    }
    group.instances.push(i);
  }
  return [...byPool.values()]
    .map((g) => ({
      ...g,
      instances: [...g.instances].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    }))
    .sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : a.provider < b.provider ? -1 : 1));
}

/**
 * The drift a read-only command reports, in words: the pools that run on providers the spec names none of (apply
 * with this spec does not list them), and, when the only answering manager runs there, what apply would do
 * instead of joining it. Pure.
 */
export function driftWarnings(
  spec: Pick<ClusterSpec, 'name' | 'engine'> & { readonly pools: readonly { readonly provider: ProviderName }[] },
  survey: Pick<Survey, 'own' | 'manager' | 'recorded'>,
  outside: readonly OutsidePool[],
): string[] {
  const named = [...new Set(spec.pools.map((p) => p.provider))].join(', ') || 'no provider';
  const lines = outside.map(
    (g) =>
      `pool ${g.pool} (${g.provider}, ${g.role}) is not in your spec: ${g.instances.length} VM(s) run there (${g.instances.map((i) => i.name).join(', ')}); apply with this spec lists only ${named} and leaves them as they are`,
  );
  const { manager, own } = survey;
  if (manager && !own.some((i) => i.name === manager.instance.name)) {
    const where = manager.instance.provider;
    const instead = own.some((i) => i.tags.role === 'manager')
      ? 'fails (no manager it lists answers)'
      : survey.recorded.has(where)
        ? `refuses to run (the cluster runs on ${where})`
        : `would start a second, separate ${spec.engine} pool on ${named}`;
    lines.push(
      `the manager that answers for cluster ${spec.name} runs on ${where} (pool ${manager.instance.tags.pool}), where your spec has no pool: apply with this spec ${instead}. ` +
        'Put the pools that run now into the spec first (`skypool migrate` writes them unless --no-write-spec)',
    );
  }
  return lines;
}

/**
 * Apply's guard, before it creates anything: refuses when this state directory put the cluster on a provider the
 * spec names no pool on, VMs of it run there, and no manager VM runs where the spec points (a spec written before
 * `migrate`): going on would start a second, separate pool under the same name. A provider that cannot be listed
 * is reported and skipped: its credentials may be gone with the cloud the cluster left. Costs nothing unless the
 * record names such a provider.
 */
export async function refuseIfRunningElsewhere(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  const named = new Set(ctx.providerNames);
  const recorded = recordedBeyond(await readFootprint(ctx.options.stateDir, ctx.spec.name), named);
  if (recorded.size === 0) return;
  const own = await Promise.all(ctx.providerNames.map((name) => ctx.listInstances(name, ctx.regionsOf(name), signal)));
  if (own.flat().some((i) => i.tags.role === 'manager')) return;
  const { instances, warnings } = await listBeyond(ctx, recorded, signal, { identities: false });
  for (const warning of warnings) ctx.progress.message(warning, 'warn');
  const pools = outsidePools(instances);
  if (pools.length === 0) return;
  throw new EngineError(
    `cluster ${ctx.spec.name} runs on providers your spec names no pool on (${pools.map((p) => `pool ${p.pool} on ${p.provider}: ${p.instances.length} VM(s)`).join('; ')}), and no manager of it runs on ${[...named].join(', ')}: ` +
      'applying this spec would start a second, separate pool under the same name. Put the pools that run now into the spec (`skypool migrate` writes them unless --no-write-spec), or destroy those VMs first',
    {
      cluster: ctx.spec.name,
      outside: pools.map((p) => ({ pool: p.pool, provider: p.provider, vms: p.instances.length })),
    },
  );
}
