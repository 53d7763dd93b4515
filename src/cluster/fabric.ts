import type { EngineDriver } from '../engines/types.js';
import { EngineError } from '../errors.js';
import {
  type FabricMember,
  fabricMember,
  fabricPrefixFor,
  networkKey,
  peersFor,
  pushJoin,
  syncPeerVolumes,
} from '../fabric/index.js';
import type { Instance } from '../providers/types.js';
import type { ClusterSpec } from '../spec/schema.js';
import { pollUntil } from '../util/poll.js';
import { bootFailed, bootLogTail } from './boot-log.js';
import type { ClusterContext } from './context.js';

/**
 * The core's side of the fabric: one /16 of the fabric range per cloud network (provider + region), recorded as
 * the `skypool-fabric` tag of every VM there; peers and join secrets pushed as labelled volumes on the nodes'
 * engine APIs (src/fabric), which each node's fabric loop and join step read.
 */

export { networkKey } from '../fabric/index.js';

/**
 * The fabric prefix of every network the spec uses: the one its VMs carry (tag), else the lowest free /16, in
 * the spec's pool order so that every process plans the same.
 */
export function fabricPrefixes(spec: ClusterSpec, instances: readonly Instance[]): Map<string, string> {
  const prefixes = new Map<string, string>();
  for (const instance of instances) {
    const pool = spec.pools.find((p) => p.name === instance.tags.pool);
    const key = networkKey(pool ?? instance);
    if (instance.tags.fabric && !prefixes.has(key)) prefixes.set(key, instance.tags.fabric);
  }
  for (const pool of spec.pools) {
    const key = networkKey(pool);
    if (!prefixes.has(key)) prefixes.set(key, fabricPrefixFor(prefixes.values()));
  }
  return prefixes;
}

/** The fabric members among `instances`: those whose identity is pinned. */
export function fabricMembers(ctx: ClusterContext, instances: readonly Instance[]): FabricMember[] {
  return instances.flatMap((i) => {
    const identity = ctx.identityOf(i);
    return identity ? [fabricMember(i, identity)] : [];
  });
}

/**
 * Calls the node's engine API until it answers (a new node's dockerd starts after it printed its identity); a
 * boot that failed ends the wait at once.
 */
async function onNode(
  ctx: ClusterContext,
  instance: Instance,
  what: string,
  run: () => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let failed = false;
  await pollUntil(
    async () => {
      try {
        await run();
        return true;
      } catch (error) {
        if (await bootFailed(ctx, instance)) {
          failed = true;
          throw new EngineError(
            `the boot script of ${instance.name} failed before ${what}: ${(await bootLogTail(ctx, instance)) ?? 'no log'}`,
            { node: instance.name },
          );
        }
        throw error;
      }
    },
    {
      deadline: Date.now() + ctx.readyTimeoutMs,
      intervalMs: 100,
      what: `${what} on ${instance.name}`,
      isFatal: () => failed,
      ...(signal ? { signal } : {}),
    },
  );
}

/**
 * Makes every target's wg0 peers exactly the other members (new peers added, peers of removed nodes gone).
 * Targets without a pinned identity are skipped: they are not on the fabric.
 */
export async function syncFabric(
  ctx: ClusterContext,
  driver: EngineDriver,
  members: readonly Instance[],
  targets: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  const channel = driver.nodeChannel?.bind(driver);
  if (!channel) return;
  const all = fabricMembers(ctx, members);
  await Promise.all(
    targets.map(async (target) => {
      const me = all.find((m) => m.node === target.name);
      if (!me) return;
      const wanted = peersFor(me, all);
      await onNode(
        ctx,
        target,
        'its fabric peers were pushed',
        async () => {
          await syncPeerVolumes(channel(ctx.endpoint(target)), wanted);
        },
        signal,
      );
    }),
  );
}

/** Hands each joining node the join token of its role and the managers' fabric addresses (the join volume). */
export async function pushJoins(
  ctx: ClusterContext,
  driver: EngineDriver,
  manager: Parameters<NonNullable<EngineDriver['joinTokens']>>[0],
  managers: readonly Instance[],
  joining: readonly Instance[],
  signal?: AbortSignal,
): Promise<void> {
  const channel = driver.nodeChannel?.bind(driver);
  if (!channel || !driver.joinTokens || joining.length === 0) return;
  const tokens = await driver.joinTokens(manager);
  const addrs = managers.flatMap((m) => {
    const ip = ctx.identityOf(m)?.fabricIp;
    return ip ? [ip] : [];
  });
  if (addrs.length === 0)
    throw new EngineError('no manager of the pool has a fabric address: cannot tell new nodes where to join', {
      cluster: ctx.spec.name,
    });
  await Promise.all(
    joining.map((node) =>
      onNode(
        ctx,
        node,
        'its join volume was pushed',
        () =>
          pushJoin(channel(ctx.endpoint(node)), {
            token: node.tags.role === 'manager' ? tokens.manager : tokens.worker,
            addrs,
          }),
        signal,
      ),
    ),
  );
}
