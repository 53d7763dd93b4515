// A child process for test/chaos.test.ts: the provider half of `skypool up` (networks, duplicates removed,
// missing VMs launched with their deterministic tokens, waited for) for the spec and sim given as JSON on stdin
// (the sim's credentials stay out of the command line; Azure's as `azure.accessToken`).
// The chaos test SIGKILLs it at a random moment and runs it again; the rerun must converge without duplicates.
import { mkdir } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { staticTokenCredential } from '../../dist/providers/azure/index.js';
import { pickAddresses } from '../../dist/src/cluster/addresses.js';
import { ClusterContext } from '../../dist/src/cluster/context.js';
import { launchNode, waitRunning } from '../../dist/src/cluster/launch.js';
import { computePlan } from '../../dist/src/plan.js';
import { parseSpec } from '../../dist/src/spec/load.js';

const { spec, stateDir, providers: given } = JSON.parse(await text(process.stdin));
const { accessToken, ...azure } = given.azure ?? {};
const providers = {
  ...given,
  ...(accessToken ? { azure: { ...azure, credential: staticTokenCredential(accessToken) } } : {}),
};
await mkdir(stateDir, { recursive: true });
const silent = { level: 'silent', trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
silent.child = () => silent;
const ctx = new ClusterContext(parseSpec(spec), { stateDir, providers, readyTimeoutMs: 60_000 }, silent);
try {
  await Promise.all(ctx.providerNames.map((cloud) => ctx.network(cloud)));
  let instances = await ctx.inventory();
  const plan = computePlan(ctx.spec, instances);
  for (const d of plan.deletes) {
    await ctx.queue.terminate(await ctx.provider(d.instance.provider), [d.instance.id]);
    instances = instances.filter((i) => i !== d.instance);
  }
  // Addresses per provider across all pools, as apply assigns them (pools of one cloud share its network).
  const used = new Map();
  const nodes = [];
  for (const create of plan.creates) {
    const cloud = create.pool.provider;
    if (!used.has(cloud))
      used.set(
        cloud,
        instances.filter((i) => i.provider === cloud).flatMap((i) => (i.privateIp ? [i.privateIp] : [])),
      );
    const ips = pickAddresses(await ctx.network(cloud), used.get(cloud), create.names.length);
    used.get(cloud).push(...ips);
    for (const [k, name] of create.names.entries()) nodes.push({ name, pool: create.pool, ip: ips[k] });
  }
  await Promise.all(
    nodes.map(async (node) => {
      const join = node.pool.role === 'manager' ? {} : { token: 'SWMTKN-1-chaos', managers: ['10.0.0.10'] };
      const instance = await launchNode(ctx, node, node.pool.role, node.pool.role === 'manager', join);
      await waitRunning(ctx, instance);
    }),
  );
  process.stdout.write('converged\n');
} finally {
  await ctx.close();
}
