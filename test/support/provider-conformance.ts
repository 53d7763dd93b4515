import { randomUUID } from 'node:crypto';
import type { LaunchRequest, NetworkRef, Provider } from '../../src/providers/types.js';
import type { NodePoolSpec } from '../../src/spec/schema.js';

/**
 * One suite, every provider (kysely-dialect style): each adapter must pass the same contract against cloudsim or
 * the local machine. `setup` starts whatever backs the provider and returns it with a way to count live VMs from
 * the backing's point of view (cloudsim admin inventory, or the host's namespaces).
 */
export interface ConformanceTarget {
  readonly provider: Provider;
  readonly pool: NodePoolSpec;
  /** VMs of `cluster` that the backing (not the adapter) reports as alive. */
  liveVms(cluster: string): Promise<number>;
  teardown(): Promise<void>;
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function describeProviderConformance(
  name: string,
  setup: () => Promise<ConformanceTarget>,
  options: { timeoutMs?: number } = {},
): void {
  describe(`provider conformance: ${name}`, () => {
    const cluster = `cf-${randomUUID().slice(0, 6)}`;
    let target: ConformanceTarget;
    let network: NetworkRef;
    const request = (nodes: LaunchRequest['nodes'], token: string): LaunchRequest => ({
      cluster,
      pool: target.pool,
      tags: { cluster, pool: target.pool.name, role: target.pool.role, specHash: 'abc123def456' },
      network,
      nodes,
      userData: '#!/bin/sh\necho skypool conformance > /var/lib/skypool/conformance\nexec sleep 3600\n',
      idempotencyToken: token,
    });

    beforeAll(async () => {
      target = await setup();
    }, options.timeoutMs ?? 60_000);

    afterAll(async () => {
      if (!target) return;
      try {
        const left = await target.provider.listInstances(cluster);
        if (left.length) await target.provider.terminateInstances(left.map((i) => i.id));
        await target.provider.deleteNetwork(cluster);
      } finally {
        await target.provider.close?.();
        await target.teardown();
      }
    }, options.timeoutMs ?? 60_000);

    it('passes its prerequisites and creates one network however often asked', async () => {
      await target.provider.checkPrerequisites();
      network = await target.provider.ensureNetwork(cluster);
      const again = await target.provider.ensureNetwork(cluster);
      expect(again.id).toBe(network.id);
      expect(network.cidr).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    });

    it('launches tagged VMs once per idempotency token and lists them by tags', async () => {
      const token = randomUUID();
      const nodes = [{ name: `${cluster}-w-1` }, { name: `${cluster}-w-2` }];
      const launched = await target.provider.runInstances(request(nodes, token));
      // Every node gets a distinct name in the cluster's namespace: the planned one, or (EC2) one from its id.
      expect(new Set(launched.map((i) => i.name)).size).toBe(2);
      for (const i of launched) expect(i.name.startsWith(`${cluster}-w-`)).toBe(true);
      const running = await target.provider.waitUntilRunning(
        launched.map((i) => i.id),
        { deadline: Date.now() + 30_000 },
      );
      expect(running.every((i) => i.state === 'running' && i.privateIp)).toBe(true);
      expect(running[0]!.tags).toEqual({
        cluster,
        pool: target.pool.name,
        role: target.pool.role,
        specHash: 'abc123def456',
      });

      const repeated = await target.provider.runInstances(request(nodes, token));
      expect(repeated.map((i) => i.id).sort()).toEqual(launched.map((i) => i.id).sort());
      // The names runInstances returns are authoritative (EC2 derives them from the instance ids); listing agrees.
      expect(repeated.map((i) => i.name).sort()).toEqual(launched.map((i) => i.name).sort());
      const listed = await target.provider.listInstances(cluster);
      expect(listed.map((i) => i.name).sort()).toEqual(launched.map((i) => i.name).sort());
      expect(await target.liveVms(cluster)).toBe(2);
    });

    it('gives a VM the private address it was asked for', async () => {
      const base = network.cidr.split('/')[0]!.split('.').map(Number);
      const ip = `${base[0]}.${base[1]}.${base[2]}.${(base[3] ?? 0) + 77}`;
      const [vm] = await target.provider.runInstances(
        request([{ name: `${cluster}-w-3`, privateIp: ip }], randomUUID()),
      );
      const [running] = await target.provider.waitUntilRunning([vm!.id], { deadline: Date.now() + 30_000 });
      expect(running!.privateIp).toBe(ip);
    });

    it('terminates idempotently and leaves nothing behind', async () => {
      const all = await target.provider.listInstances(cluster);
      expect(all).toHaveLength(3);
      await target.provider.terminateInstances(all.map((i) => i.id));
      await target.provider.terminateInstances(all.map((i) => i.id));
      await until('no VMs listed', 30_000, async () =>
        (await target.provider.listInstances(cluster)).length === 0 ? true : undefined,
      );
      await until('backing reports no VMs', 30_000, async () =>
        (await target.liveVms(cluster)) === 0 ? true : undefined,
      );
      await target.provider.deleteNetwork(cluster);
      await target.provider.deleteNetwork(cluster);
    });
  });
}
