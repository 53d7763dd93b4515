import { randomUUID } from 'node:crypto';
import type { CloudSim } from '../../src/cloudsim/index.js';
import { SkypoolError } from '../../src/errors.js';
import type { Instance, LaunchRequest, NetworkRef, Provider } from '../../src/providers/types.js';
import { TAG_KEYS } from '../../src/providers/types.js';
import { ProvisioningQueue, type QueueEvent } from '../../src/queue/provisioning-queue.js';
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
  /** The cloudsim behind a cloud adapter, and which of its clouds: fault injection for the error-mapping cases. */
  readonly sim?: { readonly cloud: 'aws' | 'gcp' | 'azure'; readonly instance: CloudSim };
  /** Every resource of the cluster the backing still holds, of any type (network cleanup). */
  leftovers?(cluster: string): Promise<readonly string[]>;
}

/** Live resources of a cloudsim that belong to `cluster`: tagged, made with one of its VMs, or in its resource group. */
export function simLeftovers(sim: CloudSim, cloud: 'aws' | 'gcp' | 'azure', cluster: string): string[] {
  return sim
    .inventory()
    .filter(
      (r) =>
        r.cloud === cloud &&
        (r.tags?.[TAG_KEYS.cluster] === cluster ||
          r.origin?.tags?.[TAG_KEYS.cluster] === cluster ||
          r.id.toLowerCase().includes(`/resourcegroups/skypool-${cluster.toLowerCase()}/`) ||
          r.id.toLowerCase().endsWith(`/resourcegroups/skypool-${cluster.toLowerCase()}`)) &&
        !/^(terminated|deleting|shutting-down)$/i.test(r.state ?? ''),
    )
    .map((r) => `${r.type} ${r.id}`);
}

/** What a rejection was, as skypool's typed errors say it (the contract of every adapter). */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return SkypoolError.isInstance(error)
      ? `${error.code} retryable=${error.retryable}`
      : `untyped ${(error as Error)?.name}: ${(error as Error)?.message}`;
  }
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

/** What a target can do beyond the core contract; the cases that need a feature are skipped without it. */
export interface ConformanceFeatures {
  /** The target has a cloudsim to inject faults into (`ConformanceTarget.sim`). */
  readonly faults?: boolean;
  /** Two zones of the provider's region, as pools name them. */
  readonly zones?: readonly [string, string];
  readonly otherRegion?: string;
  /** More VMs than one page of the adapter's listing. */
  readonly pageSpan?: number;
}

export function describeProviderConformance(
  name: string,
  setup: () => Promise<ConformanceTarget>,
  options: { timeoutMs?: number; features?: ConformanceFeatures } = {},
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

    /** A cluster of its own for one case, torn down whatever the case did. */
    async function inCluster(suffix: string, body: (name: string, net: NetworkRef) => Promise<void>): Promise<void> {
      const name = `${cluster}${suffix}`;
      const net = await target.provider.ensureNetwork(name);
      try {
        await body(name, net);
      } finally {
        target.sim?.instance.clearFaults();
        const left = await target.provider.listInstances(name);
        if (left.length) await target.provider.terminateInstances(left.map((i) => i.id));
        await until("the case's VMs gone", 30_000, async () =>
          (await target.provider.listInstances(name)).length === 0 ? true : undefined,
        );
        await target.provider.deleteNetwork(name);
      }
    }
    const requestIn = (name: string, net: NetworkRef, nodes: LaunchRequest['nodes'], pool = target.pool) => ({
      ...request(nodes, randomUUID()),
      cluster: name,
      pool,
      network: net,
      tags: { cluster: name, pool: pool.name, role: pool.role, specHash: 'abc123def456' },
    });
    const withSim = (it: jest.It) => (options.features?.faults ? it : it.skip);

    withSim(it)(
      "maps the cloud's refusals to the same typed errors as every adapter, creating nothing",
      async () => {
        const sim = target.sim!;
        await inCluster('-e', async (name, net) => {
          const cases: Array<[string, Parameters<CloudSim['addFault']>[0], () => Promise<unknown>]> = [
            [
              'capacity',
              { cloud: sim.cloud, kind: 'capacity' },
              () => target.provider.runInstances(requestIn(name, net, [{ name: `${name}-w-1` }])),
            ],
            [
              'quota',
              { cloud: sim.cloud, kind: 'quota' },
              () => target.provider.runInstances(requestIn(name, net, [{ name: `${name}-w-2` }])),
            ],
            ['throttle', { cloud: sim.cloud, kind: 'throttle' }, () => target.provider.listInstances(name)],
            ['5xx', { cloud: sim.cloud, kind: 'server-error' }, () => target.provider.listInstances(name)],
          ];
          const seen: Record<string, string> = {};
          for (const [what, fault, call] of cases) {
            sim.instance.clearFaults();
            sim.instance.addFault(fault);
            seen[what] = await outcome(call());
          }
          sim.instance.clearFaults();
          expect(seen).toEqual({
            capacity: 'CAPACITY_UNAVAILABLE retryable=false',
            quota: 'QUOTA_EXCEEDED retryable=false',
            throttle: 'THROTTLED retryable=true',
            '5xx': 'CLOUD_API_ERROR retryable=true',
          });
          await until('no VM of a refused launch', 30_000, async () =>
            (await target.liveVms(name)) === 0 ? true : undefined,
          );
        });
      },
      120_000,
    );

    it('ends a call whose signal is aborted as CANCELLED, launching nothing', async () => {
      await inCluster('-a', async (name, net) => {
        const aborted = AbortSignal.abort(new Error('operator pressed ctrl-c'));
        const launch = outcome(
          target.provider.runInstances({ ...requestIn(name, net, [{ name: `${name}-w-1` }]), signal: aborted }),
        );
        const list = outcome(target.provider.listInstances(name, { signal: aborted }));
        const wait = outcome(
          target.provider.waitUntilRunning([], { deadline: Date.now() + 30_000, signal: aborted }).then(() => {
            // An empty wait may answer at once; an aborted one must not start anything either.
          }),
        );
        expect({ launch: await launch, list: await list }).toEqual({
          launch: 'CANCELLED retryable=false',
          list: 'CANCELLED retryable=false',
        });
        expect(['resolved', 'CANCELLED retryable=false']).toContain(await wait);
        expect(await target.liveVms(name)).toBe(0);
      });
    }, 60_000);

    it("keeps a wait's deadline: TIMEOUT naming the VMs not running by then, or all of them running", async () => {
      await inCluster('-d', async (name, net) => {
        const launched = await target.provider.runInstances(requestIn(name, net, [{ name: `${name}-w-1` }]));
        const started = Date.now();
        const result = await target.provider
          .waitUntilRunning(
            launched.map((i) => i.id),
            { deadline: started + 1 },
          )
          .then(
            (running: Instance[]) => (running.every((i) => i.state === 'running') ? 'running' : 'not running'),
            (error: unknown) => (SkypoolError.isInstance(error) ? error.code : String(error)),
          );
        // A cloud that launches synchronously (Azure) has them running already; the others time out at once.
        expect(['running', 'TIMEOUT']).toContain(result);
        expect(Date.now() - started).toBeLessThan(15_000);
        const running = await target.provider.waitUntilRunning(
          launched.map((i) => i.id),
          { deadline: Date.now() + 30_000 },
        );
        expect(running.map((i) => i.state)).toEqual(['running']);
      });
    }, 60_000);

    (options.features?.faults && options.features.zones ? it : it.skip)(
      "moves a launch to the pool's next zone when the first has no capacity (the cloud's own failure mode)",
      async () => {
        const sim = target.sim!;
        const [first, second] = options.features!.zones!;
        await inCluster('-z', async (name, net) => {
          const pool: NodePoolSpec = { ...target.pool, zones: [first, second] };
          sim.instance.addFault({ cloud: sim.cloud, kind: 'capacity', zone: first });
          const events: QueueEvent[] = [];
          const queue = new ProvisioningQueue({ minRetryDelayMs: 10, onEvent: (e) => events.push(e) });
          const launched = await queue.launch(
            target.provider,
            requestIn(name, net, [{ name: `${name}-w-1` }, { name: `${name}-w-2` }], pool),
          );
          sim.instance.clearFaults();
          expect(launched.map((i) => i.zone)).toEqual([second, second]);
          expect(events.filter((e) => e.type === 'failover').map((e) => e.type === 'failover' && e.toZone)).toEqual([
            second,
          ]);
          await target.provider.waitUntilRunning(
            launched.map((i) => i.id),
            { deadline: Date.now() + 30_000 },
          );
          // Exactly the launch's two VMs: nothing of the failed zone stays.
          await until("only the second zone's VMs", 30_000, async () =>
            (await target.liveVms(name)) === 2 ? true : undefined,
          );
        });
      },
      90_000,
    );

    (options.features?.otherRegion ? it : it.skip)(
      'keeps a network and VMs per region, listed and cleaned up by region',
      async () => {
        const region = options.features!.otherRegion!;
        const name = `${cluster}-r`;
        const net = await target.provider.ensureNetwork(name, { region });
        try {
          expect(net.region ?? region).toBe(region);
          const pool: NodePoolSpec = { ...target.pool, region };
          const [vm] = await target.provider.runInstances(requestIn(name, net, [{ name: `${name}-w-1` }], pool));
          expect(vm!.region).toBe(region);
          const [running] = await target.provider.waitUntilRunning([vm!.id], {
            deadline: Date.now() + 30_000,
            region,
          } as Parameters<Provider['waitUntilRunning']>[1]);
          expect(running!.region).toBe(region);
          const listed = await target.provider.listInstances(name, { regions: [region] });
          expect(listed.map((i) => [i.id, i.region])).toEqual([[vm!.id, region]]);
          await target.provider.terminateInstances([vm!.id], { region });
          await until('no VM in the other region', 30_000, async () =>
            (await target.provider.listInstances(name, { regions: [region] })).length === 0 ? true : undefined,
          );
        } finally {
          await target.provider.deleteNetwork(name, { region });
        }
        if (target.leftovers) expect(await target.leftovers(name)).toEqual([]);
      },
      90_000,
    );

    (options.features?.pageSpan ? it : it.skip)(
      'lists every VM when they span more than one page of the listing',
      async () => {
        const span = options.features!.pageSpan!;
        await inCluster('-p', async (name, net) => {
          const nodes = Array.from({ length: span }, (_, i) => ({ name: `${name}-w-${i + 1}` }));
          const launched = await target.provider.runInstances(requestIn(name, net, nodes));
          const listed = await target.provider.listInstances(name);
          expect(listed.map((i) => i.id).sort()).toEqual(launched.map((i) => i.id).sort());
          const running = await target.provider.waitUntilRunning(
            launched.map((i) => i.id),
            { deadline: Date.now() + 60_000 },
          );
          expect(running).toHaveLength(span);
        });
      },
      120_000,
    );

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
      // Network cleanup: nothing of the cluster is left in the backing, of any type (network, subnets, firewalls,
      // gateways, NSGs, resource group, disks, addresses).
      if (target.leftovers)
        await until('no resource of the cluster left', 30_000, async () =>
          (await target.leftovers!(cluster)).length === 0 ? true : undefined,
        ).catch(async () => expect(await target.leftovers!(cluster)).toEqual([]));
    });
  });
}
