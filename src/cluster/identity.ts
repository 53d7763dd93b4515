import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterStateDir } from '../bootstrap/cluster-pki.js';
import { formatIdentity, type NodeIdentity, parseIdentity } from '../bootstrap/node-identity.js';
import { EngineError, PrerequisiteError } from '../errors.js';
import type { Instance } from '../providers/types.js';
import { pollUntil } from '../util/poll.js';
import { bootFailed, bootLogTail } from './boot-log.js';
import type { ClusterContext } from './context.js';

/**
 * Node identities (engines with `nodeIdentity: 'console'`): a node makes its keys at boot and prints its public
 * identity on its console; the SDK reads it through the cloud's authenticated console API and pins it here:
 *
 *   <stateDir>/clusters/<cluster>/nodes/<instance id>.pem        the node's self-signed server certificate (0644)
 *   <stateDir>/clusters/<cluster>/nodes/<instance id>.identity   the whole identity line (fabric address, WG key)
 *
 * The cloud stays the source of truth: a missing pin is read again from the console.
 */

export function nodesDir(stateDir: string, cluster: string): string {
  return join(clusterStateDir(stateDir, cluster), 'nodes');
}

// Azure ids are resource paths: one file name per id, whatever the cloud's alphabet.
const fileOf = (id: string): string => id.replace(/[^A-Za-z0-9._-]/g, '_');

export function pinPath(stateDir: string, cluster: string, instanceId: string): string {
  return join(nodesDir(stateDir, cluster), `${fileOf(instanceId)}.pem`);
}

const identityPath = (stateDir: string, cluster: string, instanceId: string): string =>
  join(nodesDir(stateDir, cluster), `${fileOf(instanceId)}.identity`);

export async function savePin(stateDir: string, cluster: string, instanceId: string, identity: NodeIdentity) {
  await mkdir(nodesDir(stateDir, cluster), { recursive: true, mode: 0o755 });
  await writeFile(pinPath(stateDir, cluster, instanceId), identity.certPem, { mode: 0o644 });
  await writeFile(identityPath(stateDir, cluster, instanceId), `${formatIdentity(identity)}\n`, { mode: 0o644 });
}

/** The pinned identity of an instance, when this machine has one for that name. */
export async function loadPin(
  stateDir: string,
  cluster: string,
  instance: Pick<Instance, 'id' | 'name'>,
): Promise<NodeIdentity | undefined> {
  const text = await readFile(identityPath(stateDir, cluster, instance.id), 'utf8').catch(() => undefined);
  return text ? parseIdentity(text, instance.name) : undefined;
}

export async function removePin(stateDir: string, cluster: string, instanceId: string): Promise<void> {
  await rm(pinPath(stateDir, cluster, instanceId), { force: true });
  await rm(identityPath(stateDir, cluster, instanceId), { force: true });
}

/** One read of the console, no wait: the identity when the node printed it already. */
export async function readIdentityOnce(
  ctx: ClusterContext,
  instance: Instance,
  signal?: AbortSignal,
): Promise<NodeIdentity | undefined> {
  const provider = await ctx.provider(instance.provider);
  if (!provider.readConsole) return undefined;
  const text = await provider.readConsole(instance, signal).catch(() => '');
  return parseIdentity(text, instance.name);
}

/**
 * Polls the node's console until it printed its identity (for the name the cloud gave it), pins it and returns
 * it. A boot script that already failed ends the wait at once, with the end of its log.
 */
export async function awaitIdentity(
  ctx: ClusterContext,
  instance: Instance,
  signal?: AbortSignal,
): Promise<NodeIdentity> {
  const known = ctx.identityOf(instance);
  if (known) return known;
  const provider = await ctx.provider(instance.provider);
  if (!provider.readConsole) {
    throw new PrerequisiteError(
      `provider ${provider.name} cannot read a VM's console, and engine ${ctx.spec.engine} verifies each node by the identity it prints there`,
      { provider: provider.name },
    );
  }
  const read = provider.readConsole.bind(provider);
  const failed = new Set<string>();
  const identity = await pollUntil(
    async () => {
      const found = parseIdentity(await read(instance, signal), instance.name);
      if (found) return found;
      if (await bootFailed(ctx, instance)) {
        failed.add(instance.name);
        throw new EngineError(
          `the boot script of ${instance.name} failed before it printed its identity: ${(await bootLogTail(ctx, instance)) ?? 'no log'}`,
          { node: instance.name },
        );
      }
      return undefined;
    },
    {
      deadline: Date.now() + ctx.readyTimeoutMs,
      intervalMs: 100,
      what: `node ${instance.name} (${instance.id}) to print its identity (SKYPOOL-IDENTITY) on its console`,
      hint: 'its boot script may have failed before it made its keys: read the VM console',
      isFatal: (error) => EngineError.isInstance(error) && failed.has(instance.name),
      ...(signal ? { signal } : {}),
    },
  );
  await savePin(ctx.options.stateDir, ctx.spec.name, instance.id, identity);
  ctx.rememberIdentity(instance, identity);
  ctx.progress.emit({ type: 'node', node: instance.name, pool: instance.tags.pool, state: 'identified' });
  return identity;
}
