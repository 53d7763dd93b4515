import { launchToken, MAX_GENERATIONS } from './cluster/launch-token.js';
import type { MigrationPlan } from './cluster/migrate/types.js';
import type { Instance } from './providers/types.js';
import { poolSpecHash } from './spec/hash.js';
import type { ClusterSpec, NodePoolSpec, ProviderName } from './spec/schema.js';

/** Nodes `apply` would create for one pool. */
export interface PlannedCreate {
  readonly pool: NodePoolSpec;
  readonly specHash: string;
  /** Node names to create, `<cluster>-<pool>-<n>` with the lowest free indexes. */
  readonly names: string[];
}

/** One instance `apply` would delete, and why. */
export interface PlannedDelete {
  readonly instance: Instance;
  /**
   * `duplicate`: a second VM under a name another (older) VM holds; `stray`: a VM whose engine never joined the
   * pool or is down. Both are terminated before anything is created; the others are drained first.
   */
  readonly reason: 'scale-down' | 'spec-changed' | 'pool-removed' | 'duplicate' | 'stray';
  /** Why, in words (for a stray: what the engine said). */
  readonly detail?: string;
}

/** The cluster's VMs of one pool on a provider the spec names no pool on (apply with that spec does not list them). */
export interface OutsidePool {
  readonly pool: string;
  readonly provider: ProviderName;
  readonly role: string;
  readonly instances: readonly Instance[];
}

/** What `apply` would do: creates, deletes and the nodes that already match. */
export interface Plan {
  readonly cluster: string;
  readonly creates: PlannedCreate[];
  readonly deletes: PlannedDelete[];
  readonly unchanged: Instance[];
  readonly hasChanges: boolean;
  /** Who may reach each cloud's engine API port once applied (filled by `Cluster.plan`). */
  readonly engineApi?: readonly { readonly provider: string; readonly sources: readonly string[] }[];
  /** A migration the engine recorded and has not finished (filled by `Cluster.plan`): what is left of it. */
  readonly migration?: MigrationPlan;
  /**
   * The cluster's VMs on providers the spec names no pool on (filled by `Cluster.plan`): apply with this spec does
   * not list them. A spec written before `migrate` moved the cluster shows its new pools here.
   */
  readonly outside?: readonly OutsidePool[];
  /** What the plan could not see or what apply would refuse, in words (filled by `Cluster.plan`). */
  readonly warnings?: readonly string[];
}

export function nodeName(cluster: string, pool: string, index: number): string {
  return `${cluster}-${pool}-${index}`;
}

/** Index of a node named by `nodeName`, or -1 for a name skypool did not give. */
export function nodeIndex(cluster: string, pool: string, name: string): number {
  const prefix = `${cluster}-${pool}-`;
  if (!name.startsWith(prefix)) return -1;
  const rest = name.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : -1;
}

/** The instances sorted by node index, highest first (each index computed once, not per comparison). */
function byIndexDescending(cluster: string, instances: readonly Instance[]): Instance[] {
  const index = new Map(instances.map((i) => [i, nodeIndex(cluster, i.tags.pool, i.name)]));
  return [...instances].sort((a, b) => index.get(b)! - index.get(a)!);
}

/** Oldest first (launch time, then id): the VM that keeps a name two VMs carry. */
function byAge(a: Instance, b: Instance): number {
  const at = a.launchedAt ? Date.parse(a.launchedAt) : Number.POSITIVE_INFINITY;
  const bt = b.launchedAt ? Date.parse(b.launchedAt) : Number.POSITIVE_INFINITY;
  if (at !== bt) return at < bt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The ordinals a pool's VMs were launched under where their names do not say it (EC2 names a VM after its
 * instance id): read back from their launch tokens, a batch's token (made from its last ordinal) covering as many
 * ordinals as it has VMs. A process that sees part of another's launches, or a rerun after a kill, then plans the
 * nodes still missing under their own tokens: never again under a listed VM's, which the cloud would answer with
 * that VM (one node short, the apply believing it made it).
 */
function launchedOrdinals(
  cluster: string,
  pool: NodePoolSpec,
  specHash: string,
  members: readonly Instance[],
): Set<number> {
  const perToken = new Map<string, number>();
  for (const i of members)
    if (i.tags.launch && nodeIndex(cluster, pool.name, i.name) < 0)
      perToken.set(i.tags.launch, (perToken.get(i.tags.launch) ?? 0) + 1);
  const ordinals = new Set<number>();
  if (perToken.size === 0) return ordinals;
  const highest = 2 * (pool.count + members.length) + 8;
  let found = 0;
  for (let ordinal = 1; ordinal <= highest && found < perToken.size; ordinal += 1) {
    for (let generation = 0; generation < MAX_GENERATIONS; generation += 1) {
      const vms = perToken.get(launchToken({ cluster, pool: pool.name, ordinal, specHash, generation }));
      if (vms === undefined) continue;
      found += 1;
      for (let k = 0; k < vms; k += 1) ordinals.add(ordinal - k);
    }
  }
  return ordinals;
}

/** Every VM but the oldest of each name (two processes or a crashed rerun launched one node twice). */
export function duplicatesOf(instances: readonly Instance[]): Instance[] {
  const byName = new Map<string, Instance[]>();
  for (const i of instances) {
    const same = byName.get(i.name);
    if (same) same.push(i);
    else byName.set(i.name, [i]);
  }
  return [...byName.values()].flatMap((same) => (same.length > 1 ? same.sort(byAge).slice(1) : []));
}

/**
 * Compares the spec with what the providers report (instances carrying the cluster's ownership tags) and lists the
 * creates and deletes that would make them match. Pure: it calls nothing. VMs whose spec hash differs from the
 * pool's are replaced (deleted and created again under a free name); scale-down removes the highest indexes first.
 * A name two VMs carry keeps its oldest VM; `strays` (VMs the engine does not count, found by the caller) are
 * removed and their names created again.
 */
export function computePlan(
  spec: ClusterSpec,
  instances: readonly Instance[],
  strays: ReadonlyArray<{ readonly instance: Instance; readonly detail: string }> = [],
): Plan {
  const mine = instances.filter(
    (i) => i.tags.cluster === spec.name && i.state !== 'terminated' && i.state !== 'stopping',
  );
  const duplicates = new Set(duplicatesOf(mine));
  const mineSet = new Set(mine);
  const creates: PlannedCreate[] = [];
  const deletes: PlannedDelete[] = [...duplicates].map((instance) => ({
    instance,
    reason: 'duplicate',
    detail: `another VM named ${instance.name} is older`,
  }));
  for (const stray of strays) {
    if (mineSet.has(stray.instance) && !duplicates.has(stray.instance))
      deletes.push({ instance: stray.instance, reason: 'stray', detail: stray.detail });
  }
  const leaving = new Set(deletes.map((d) => d.instance));
  const live = mine.filter((i) => !leaving.has(i));
  const unchanged: Instance[] = [];
  const poolNames = new Set(spec.pools.map((p) => p.name));

  for (const instance of live) {
    if (!poolNames.has(instance.tags.pool)) deletes.push({ instance, reason: 'pool-removed' });
  }

  const membersOf = new Map<string, Instance[]>();
  for (const i of live) {
    const members = membersOf.get(i.tags.pool);
    if (members) members.push(i);
    else membersOf.set(i.tags.pool, [i]);
  }

  for (const pool of spec.pools) {
    const specHash = poolSpecHash(spec, pool);
    const members = membersOf.get(pool.name) ?? [];
    const current: Instance[] = [];
    for (const i of members) {
      if (i.tags.specHash === specHash && i.provider === pool.provider && i.tags.role === pool.role) current.push(i);
      else deletes.push({ instance: i, reason: 'spec-changed' });
    }

    // Highest index first; ties keep the listing's order, as the sort did before.
    const descending = byIndexDescending(spec.name, current);
    const keep = [...descending].reverse();
    if (keep.length > pool.count) {
      const surplus = descending.slice(0, keep.length - pool.count);
      for (const instance of surplus) deletes.push({ instance, reason: 'scale-down' });
      unchanged.push(...keep.slice(0, pool.count));
    } else {
      unchanged.push(...keep);
    }

    const missing = pool.count - Math.min(keep.length, pool.count);
    if (missing > 0) {
      const taken = new Set(members.map((i) => i.name));
      const launched = launchedOrdinals(spec.name, pool, specHash, current);
      const names: string[] = [];
      for (let index = 1; names.length < missing; index += 1) {
        const name = nodeName(spec.name, pool.name, index);
        if (!taken.has(name) && !launched.has(index)) names.push(name);
      }
      creates.push({ pool, specHash, names });
    }
  }
  return { cluster: spec.name, creates, deletes, unchanged, hasChanges: creates.length > 0 || deletes.length > 0 };
}
