import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster, poolSpecHash } from '../src/index.js';
import { loadProvider } from '../src/providers/registry.js';
import type { Provider } from '../src/providers/types.js';
import { pollUntil } from '../src/util/poll.js';

// `Cluster.plan()` must say what `apply` would do, from the same function: VMs the engine does not count
// (strays) and a second VM under one name (duplicates) are deletions, and their names are created again.
describe('Cluster.plan() on cloudsim (aws) computes what apply does', () => {
  let sim: CloudSim;
  let provider: Provider;
  let stateDir: string;
  const name = 'plan-obs';
  const settings = () => ({
    region: 'us-east-1',
    endpoint: sim.httpUrl,
    credentials: sim.credentials.aws,
    pollIntervalMs: 20,
    deleteTimeoutMs: 10_000,
    maxAttempts: 1,
  });
  const spec = {
    name,
    engine: 'swarm' as const,
    pools: [
      {
        name: 'm',
        provider: 'aws' as const,
        role: 'manager' as const,
        count: 1,
        region: 'us-east-1',
        instanceType: 't3.micro',
      },
      {
        name: 'w',
        provider: 'aws' as const,
        role: 'worker' as const,
        count: 2,
        region: 'us-east-1',
        instanceType: 't3.micro',
      },
    ],
  };

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 20, seed: 5 });
    provider = await loadProvider('aws', settings());
    stateDir = await mkdtemp(join(tmpdir(), 'skypool-plan-'));
  });

  afterAll(async () => {
    try {
      const left = await provider.listInstances(name);
      if (left.length) await provider.terminateInstances(left.map((i) => i.id));
      await provider.deleteNetwork(name);
    } finally {
      await provider.close?.();
      await sim.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('reports strays and a duplicate as deletions and recreates their names', async () => {
    const cluster = Cluster.fromSpec(spec, { stateDir, providers: { aws: settings() } });
    try {
      const pool = cluster.spec.pools.find((p) => p.name === 'w')!;
      const network = await provider.ensureNetwork(name);
      // A pinned address keeps the planned name as the Name tag (EC2 names unpinned batches after their ids).
      const [a, b] = network.cidr.split('.');
      let host = 20;
      const launch = (node: string, token: string) =>
        provider.runInstances({
          cluster: name,
          pool,
          tags: { cluster: name, pool: 'w', role: 'worker', specHash: poolSpecHash(cluster.spec, pool) },
          network,
          nodes: [{ name: node, privateIp: `${a}.${b}.0.${host++}` }],
          userData: '#!/bin/sh\ntrue\n',
          idempotencyToken: token,
        });
      // Two workers that never joined any pool, and a second VM under the first one's name.
      await launch(`${name}-w-1`, 'plan-a');
      await launch(`${name}-w-2`, 'plan-b');
      await launch(`${name}-w-1`, 'plan-c');

      const plan = await cluster.plan();
      expect(plan.hasChanges).toBe(true);
      const reasons = plan.deletes.map((d) => [d.instance.name, d.reason]).sort();
      expect(reasons).toEqual([
        [`${name}-w-1`, 'duplicate'],
        [`${name}-w-1`, 'stray'],
        [`${name}-w-2`, 'stray'],
      ]);
      expect(plan.unchanged).toEqual([]);
      expect(plan.creates.map((c) => [c.pool.name, c.names])).toEqual([
        ['m', [`${name}-m-1`]],
        ['w', [`${name}-w-1`, `${name}-w-2`]],
      ]);
      // Read-only: nothing was terminated.
      expect(await provider.listInstances(name)).toHaveLength(3);
    } finally {
      await cluster.close();
    }
  });

  it('keeps a stopped VM as a member: not a stray, not replaced, its name not taken again', async () => {
    const stopName = 'plan-stop';
    const stopSpec = { ...spec, name: stopName };
    const cluster = Cluster.fromSpec(stopSpec, { stateDir, providers: { aws: settings() } });
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
    try {
      const pool = cluster.spec.pools.find((p) => p.name === 'w')!;
      const network = await provider.ensureNetwork(stopName);
      const [a, b] = network.cidr.split('.');
      const [worker] = await provider.runInstances({
        cluster: stopName,
        pool,
        tags: { cluster: stopName, pool: 'w', role: 'worker', specHash: poolSpecHash(cluster.spec, pool) },
        network,
        nodes: [{ name: `${stopName}-w-1`, privateIp: `${a}.${b}.0.30` }],
        userData: '#!/bin/sh\ntrue\n',
        idempotencyToken: 'plan-stop-w1',
      });
      await provider.waitUntilRunning([worker!.id], { deadline: Date.now() + 10_000 });
      await ec2.send(new StopInstancesCommand({ InstanceIds: [worker!.id] }));
      const listed = await pollUntil(
        async () => {
          const [i] = await provider.listInstances(stopName);
          return i?.state === 'stopped' ? i : undefined;
        },
        { deadline: Date.now() + 10_000, intervalMs: 20, what: 'the worker listed as stopped' },
      );
      expect(listed.name).toBe(`${stopName}-w-1`);

      const plan = await cluster.plan();
      expect(plan.deletes).toEqual([]);
      expect(plan.unchanged.map((i) => [i.name, i.state])).toEqual([[`${stopName}-w-1`, 'stopped']]);
      expect(plan.creates.map((c) => [c.pool.name, c.names])).toEqual([
        ['m', [`${stopName}-m-1`]],
        ['w', [`${stopName}-w-2`]],
      ]);
    } finally {
      ec2.destroy();
      await cluster.close();
      const left = await provider.listInstances(stopName);
      if (left.length) await provider.terminateInstances(left.map((i) => i.id));
      await provider.deleteNetwork(stopName);
    }
  });
});
