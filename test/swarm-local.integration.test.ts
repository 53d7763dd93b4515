import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeName, createProvider, DEFAULT_STATE_ROOT, netnsName } from '../providers/local/index.js';
import { vmDir } from '../providers/local/paths.js';
import { ensureClusterPki } from '../src/bootstrap/cluster-pki.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import type { ClusterContext } from '../src/cluster/context.js';
import { pinPath } from '../src/cluster/identity.js';
import { Cluster, type ProgressEvent } from '../src/cluster/index.js';
import { findManager } from '../src/cluster/nodes.js';
import { unlockKeyPath } from '../src/cluster/unlock-key.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { httpGet } from '../src/demo/load.js';
import { TOKENS_ROTATED_LABEL } from '../src/engines/swarm/index.js';
import type { EngineEndpoint } from '../src/engines/types.js';
import { poolSpecHash } from '../src/spec/hash.js';
import { pollUntil } from '../src/util/poll.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * A real 3-node Docker Swarm on the local provider: namespace VMs, dockerd per VM, mTLS engine APIs. Needs root
 * on Linux with docker.io and busybox-static (scripts/prelude.sh --local installs them).
 */
const cannot = requireRoot({ files: ['/usr/sbin/dockerd', '/bin/busybox'] });
const suite = describeIf(cannot);

const name = `it${process.pid % 100000}${Math.random().toString(36).slice(2, 6)}`;
const nodeNames = ['managers-1', 'workers-1', 'workers-2'].map((n) => `${name}-${n}`);

/** A process's name; '' for one that exited since it was listed (the VMs' loops run short-lived commands). */
const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8');
  } catch {
    return '';
  }
};

/** The engine processes of a VM (dockerd, containerd and shims), found through its netns. */
const enginesOf = (node: string): number[] =>
  execFileSync('ip', ['netns', 'pids', netnsName(name, node)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => /^(dockerd|containerd)/.test(commOf(pid)));

const processAlive = (pid: number): boolean =>
  existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

suite('swarm on the local provider', () => {
  let work: string;
  let cluster: Cluster;
  const events: ProgressEvent[] = [];
  const enginePids: number[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-it-'));
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: [
          { name: 'managers', provider: 'local', role: 'manager', count: 1 },
          { name: 'workers', provider: 'local', role: 'worker', count: 2, labels: { tier: 'web' } },
        ],
        images: [image],
      },
      { stateDir: join(work, 'state'), readyTimeoutMs: 60_000, drainTimeoutMs: 30_000 },
    );
    cluster.onProgress((e) => events.push(e));
  });

  afterAll(async () => {
    try {
      await cluster?.destroy();
    } finally {
      await cluster?.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('applies 1 manager + 2 workers: 3 Ready nodes with labels, replacing a VM that never joined', async () => {
    // What a crash between launch and join leaves: the cluster PKI (made first) and a tagged VM of the
    // cluster whose engine is not in the pool.
    await ensureClusterPki(join(work, 'state'), name);
    const provider = createProvider();
    const network = await provider.ensureNetwork(name);
    const workers = cluster.spec.pools.find((p) => p.name === 'workers')!;
    const [stray] = await provider.runInstances({
      cluster: name,
      pool: workers,
      tags: { cluster: name, pool: 'workers', role: 'worker', specHash: poolSpecHash(cluster.spec, workers) },
      network,
      nodes: [{ name: `${name}-workers-1`, privateIp: pickAddresses(network, [], 1)[0]! }],
      userData: '#!/bin/sh\necho "crashed before joining"\n',
      idempotencyToken: `stray-${name}`,
    });
    await provider.waitUntilRunning([stray!.id], { deadline: Date.now() + 10_000 });
    // The plan says what apply does: the VM that never joined is replaced under its own name.
    const planned = await cluster.plan();
    expect(planned.deletes.map((d) => [d.instance.name, d.reason])).toEqual([[`${name}-workers-1`, 'stray']]);
    expect(planned.unchanged).toEqual([]);

    const result = await cluster.apply();
    expect(result.recreated).toEqual([`${name}-workers-1`]);
    expect(result.created.sort()).toEqual(nodeNames);
    const status = await cluster.status();
    expect(status.nodes.map((n) => n.name)).toEqual(nodeNames);
    for (const node of status.nodes) {
      expect(node.engine?.state).toBe('ready');
      expect(node.engine?.availability).toBe('active');
      expect(node.engine?.labels).toMatchObject({ provider: 'local', pool: node.pool });
    }
    expect(status.nodes.find((n) => n.name.endsWith('managers-1'))?.engine).toMatchObject({
      role: 'manager',
      leader: true,
    });
    expect(status.nodes.filter((n) => n.pool === 'workers').every((n) => n.engine?.labels.tier === 'web')).toBe(true);
    // Tokens are rotated after the joins and never show up in results.
    expect(JSON.stringify([result, status, events])).not.toMatch(/SWMTKN|PRIVATE KEY/);
    expect(events.some((e) => e.type === 'phase-end' && e.phase === 'rotate-tokens' && e.ok)).toBe(true);
  }, 90_000);

  it('a second apply with the same spec changes nothing', async () => {
    expect((await cluster.plan()).hasChanges).toBe(false);
    const again = await cluster.apply();
    expect(again).toMatchObject({ changed: false, created: [], deleted: [], recreated: [] });
    expect(again.unchanged.slice().sort()).toEqual(nodeNames);
  }, 60_000);

  it('an apply that finds the last rotation older than the last launch rotates the join tokens; then no more', async () => {
    const ctx = (cluster as unknown as { ctx: ClusterContext }).ctx;
    const driver = await ctx.driver();
    const manager = (await findManager(ctx, await ctx.inventory()))!;
    const workerToken = async () => (await driver.joinTokens!(manager.endpoint)).worker;
    // What an `up` killed after the engines answered (before it rotated) leaves: an old rotation record.
    type Swarm = { Version: { Index: number }; Spec: { Labels?: Record<string, string> } };
    const docker = (driver as unknown as { docker(e: EngineEndpoint): import('dockerode') }).docker(manager.endpoint);
    const swarm = (await docker.swarmInspect()) as Swarm;
    await docker.swarmUpdate({
      _query: { version: swarm.Version.Index },
      _body: { ...swarm.Spec, Labels: { ...swarm.Spec.Labels, [TOKENS_ROTATED_LABEL]: new Date(0).toISOString() } },
    });
    const leaked = await workerToken();
    const rerun = await cluster.apply();
    expect(rerun.changed).toBe(false);
    expect(await workerToken()).not.toBe(leaked);
    const rotatedAt = (await driver.lastTokenRotation!(manager.endpoint))!.getTime();
    expect(rotatedAt).toBeGreaterThan(Date.now() - 60_000);
    // Up to date now: another apply leaves the tokens alone.
    const current = await workerToken();
    await cluster.apply();
    expect(await workerToken()).toBe(current);
    expect(JSON.stringify(events)).not.toMatch(/SWMTKN/);
  }, 60_000);

  it('autolock: the unlock key is kept 0600 in the state dir, never shown, and unlocks a restarted manager', async () => {
    const keyFile = unlockKeyPath(join(work, 'state'), name);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(key).toMatch(/^SWMKEY-1-/);
    expect(JSON.stringify(events)).not.toContain(key.slice(9, 30));
    // Restart the manager's dockerd with the same command line: it comes back locked.
    const manager = `${name}-managers-1`;
    const dockerd = enginesOf(manager).find((pid) => commOf(pid).trim() === 'dockerd')!;
    const argv = readFileSync(`/proc/${dockerd}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const provider = createProvider();
    process.kill(dockerd, 'SIGTERM');
    await pollUntil(async () => (processAlive(dockerd) ? undefined : true), {
      deadline: Date.now() + 30_000,
      what: 'the manager dockerd to stop',
    });
    const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    await provider.execInVm(name, manager, [
      'sh',
      '-c',
      `setsid ${quoted} >>/var/log/skypool/dockerd.log 2>&1 </dev/null &`,
    ]);
    const locked = await pollUntil(
      async () => {
        const r = await provider.execInVm(name, manager, ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'], {
          allowFailure: true,
        });
        return r.stdout.trim() === 'locked' ? true : undefined;
      },
      { deadline: Date.now() + 30_000, what: 'the restarted manager to report locked' },
    );
    expect(locked).toBe(true);
    // The next apply finds the manager locked and unlocks it with the stored key.
    const again = await cluster.apply();
    expect(again.changed).toBe(false);
    const status = await cluster.status();
    expect(status.nodes.find((n) => n.name === manager)?.engine).toMatchObject({ state: 'ready', role: 'manager' });
    expect(JSON.stringify([again, status, events])).not.toContain(key.slice(9, 30));
  }, 90_000);

  it('rotate-ca: a new engine API client CA and a new swarm CA valid under ten years, every node re-certified in place', async () => {
    const ctx = (cluster as unknown as { ctx: ClusterContext }).ctx;
    const driver = await ctx.driver();
    const manager = (await findManager(ctx, await ctx.inventory()))!;
    const docker = (driver as unknown as { docker(e: EngineEndpoint): import('dockerode') }).docker(manager.endpoint);
    const trustRoot = async () =>
      ((await docker.swarmInspect()) as { TLSInfo: { TrustRoot: string } }).TLSInfo.TrustRoot;
    const before = await trustRoot();
    // Swarm's own root CA (20 years) was already replaced at the first apply by one valid under ten.
    expect((Date.parse(new X509Certificate(before).validTo) - Date.now()) / (365.25 * 86_400_000)).toBeLessThan(9);
    const result = await cluster.rotateCa();
    expect(result.nodes).toBe(3);
    expect(result.engineApi).toMatchObject({ nodes: 3, restarted: 3, resumed: false });
    // The engine API CA moved too: the client the driver had before is refused now; ask through the new one.
    await expect(trustRoot()).rejects.toThrow(/bad certificate|certificate required|unknown ca/i);
    const fresh = (await ctx.driver()) as unknown as { docker(e: EngineEndpoint): import('dockerode') };
    const now = (await findManager(ctx, await ctx.inventory()))!;
    const after = new X509Certificate(
      ((await fresh.docker(now.endpoint).swarmInspect()) as { TLSInfo: { TrustRoot: string } }).TLSInfo.TrustRoot,
    );
    expect(after.toString()).not.toBe(new X509Certificate(before).toString());
    expect((Date.parse(after.validTo) - Date.now()) / (365.25 * 86_400_000)).toBeLessThan(9);
    const status = await cluster.status();
    expect(status.nodes.map((n) => n.engine?.state)).toEqual(['ready', 'ready', 'ready']);
    expect(JSON.stringify([result, events])).not.toMatch(/PRIVATE KEY/);
  }, 90_000);

  it('refuses to touch the VMs from a state directory without the cluster PKI', async () => {
    const stranger = Cluster.fromSpec(cluster.spec, { stateDir: join(work, 'other-state') });
    try {
      expect((await stranger.status()).notes.join(' ')).toMatch(/no PKI for this cluster/);
      await expect(stranger.apply()).rejects.toMatchObject({
        code: 'ENGINE_ERROR',
        message: expect.stringMatching(/has 3 VM\(s\) but no PKI/),
      });
      // A failed apply from another state directory writes no CA of its own, and does not suggest destroy.
      expect(existsSync(join(work, 'other-state', 'clusters', cluster.spec.name, 'pki'))).toBe(false);
      await expect(stranger.apply()).rejects.toThrow(/^(?![\s\S]*destroy)/);
      expect((await stranger.status()).notes.join(' ')).toMatch(/no PKI for this cluster/);
      expect((await cluster.plan()).hasChanges).toBe(false);
    } finally {
      await stranger.close();
    }
  }, 30_000);

  it('runs a 6-replica service whose every replica answers', async () => {
    const web = await cluster.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 6, port: 8080 });
    expect(web).toMatchObject({ runningReplicas: 6, desiredReplicas: 6, endpointMode: 'dnsrr', publishMode: 'host' });
    const running = web.tasks.filter((t) => t.state === 'running');
    expect(running).toHaveLength(6);
    const pages = await Promise.all(
      running.map((t) =>
        pollUntil(() => httpGet({ host: t.address!, port: t.hostPort! }), {
          deadline: Date.now() + 10_000,
          what: `replica ${t.address}:${t.hostPort}`,
        }),
      ),
    );
    expect(new Set(pages.map((p) => p.trim())).size).toBe(6);
    expect((await cluster.status()).notes.join(' ')).toMatch(/no IPVS/);
  }, 60_000);

  it('scales the workers down by one: drained first, replicas elsewhere, VM gone', async () => {
    const leaving = `${name}-workers-2`;
    const leavingPids = enginesOf(leaving);
    for (const n of nodeNames) enginePids.push(...enginesOf(n));
    expect(enginePids.filter((pid) => commOf(pid).startsWith('dockerd'))).toHaveLength(3);
    const from = events.length;
    const result = await cluster.scale('workers', 1);
    expect(result.deleted).toEqual([leaving]);
    expect(result.drains).toHaveLength(1);
    expect(result.drains[0]!.movedTasks).toBeGreaterThan(0);
    const states = events.slice(from).flatMap((e) => (e.type === 'node' && e.node === leaving ? [e.state] : []));
    expect(states).toEqual(['draining', 'drained', 'terminating', 'terminated', 'removed']);

    const web = await cluster.workload('web');
    expect(web?.runningReplicas).toBe(6);
    expect(web?.tasks.filter((t) => t.state === 'running').every((t) => t.node !== leaving)).toBe(true);
    const status = await cluster.status();
    expect(status.nodes.map((n) => n.name)).toEqual(nodeNames.filter((n) => n !== leaving));
    expect(readdirSync('/run/netns')).not.toContain(netnsName(name, leaving));
    expect(leavingPids.filter(processAlive)).toEqual([]);
  }, 60_000);

  it('scales back up: the new node joins with the current (rotated) join token', async () => {
    const result = await cluster.scale('workers', 2);
    expect(result.created).toEqual([`${name}-workers-2`]);
    const status = await cluster.status();
    expect(status.nodes.map((n) => [n.name, n.engine?.state])).toEqual(nodeNames.map((n) => [n, 'ready']));
    enginePids.push(...enginesOf(`${name}-workers-2`));
    // Identity after launch: one user-data per pool, with no join token and no private key in it; the token
    // travelled in the join volume, which the node removed once it joined.
    const userData = (node: string): string =>
      readFileSync(join(vmDir(DEFAULT_STATE_ROOT, name, node), 'user-data'), 'utf8');
    // rotate-ca ran between the two launches: the pool's user-data differs only by the CA it carries, the new one.
    const withoutCa = (script: string) => script.replace(/TLS_CA='[^']*'/, "TLS_CA=''");
    expect(withoutCa(userData(`${name}-workers-2`))).toBe(withoutCa(userData(`${name}-workers-1`)));
    const caNow = readFileSync(join(work, 'state', 'clusters', name, 'pki', 'ca.pem'), 'utf8').trim();
    expect(userData(`${name}-workers-2`)).toContain(`TLS_CA='${caNow}'`);
    expect(userData(`${name}-workers-2`)).not.toMatch(/SWMTKN|PRIVATE KEY/);
    const volumes = await createProvider().execInVm(name, `${name}-workers-2`, ['docker', 'volume', 'ls', '-q']);
    expect(volumes.stdout).not.toContain('skypool-join');
    // The swarm runs on the fabric: every node advertises its WireGuard address.
    const ctx = (cluster as unknown as { ctx: ClusterContext }).ctx;
    const manager = (await findManager(ctx, await ctx.inventory()))!;
    const engineNodes = await (await ctx.driver()).listNodes(manager.endpoint);
    expect(engineNodes.map((n) => n.address)).toEqual(engineNodes.map(() => expect.stringMatching(/^100\.64\./)));
    // The SDK pinned each node's own certificate, named after the node.
    for (const instance of await ctx.inventory()) {
      const pem = readFileSync(pinPath(join(work, 'state'), name, instance.id), 'utf8');
      expect(new X509Certificate(pem).subject).toBe(`CN=${instance.name}`);
    }
  }, 60_000);

  it('an apply stopped right after the joins still rotates the token the new node was given', async () => {
    const ctx = (cluster as unknown as { ctx: ClusterContext }).ctx;
    const tokenNow = async () => {
      const manager = (await findManager(ctx, await ctx.inventory()))!;
      return (await (await ctx.driver()).joinTokens!(manager.endpoint)).worker;
    };
    const given = await tokenNow(); // what the join volume hands the new node
    const stop = new AbortController();
    const off = cluster.onProgress((e) => {
      if (e.type === 'phase-end' && e.phase === 'wait-engines') stop.abort();
    });
    try {
      await expect(cluster.scale('workers', 3, { signal: stop.signal })).rejects.toBeDefined();
    } finally {
      off();
    }
    expect(await tokenNow()).not.toBe(given);
    await cluster.scale('workers', 2);
  }, 120_000);

  it('destroy leaves nothing behind', async () => {
    const result = await cluster.destroy();
    expect(result.terminated.slice().sort()).toEqual(nodeNames);
    expect(readdirSync('/run/netns').filter((n) => n.includes(name))).toEqual([]);
    expect(existsSync(`/sys/class/net/${bridgeName(name)}`)).toBe(false);
    expect(enginePids.filter(processAlive)).toEqual([]);
    expect(
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(name)),
    ).toEqual([]);
    const cgroups = readdirSync('/sys/fs/cgroup').flatMap((c) => {
      try {
        return readdirSync(join('/sys/fs/cgroup', c))
          .filter((d) => d.startsWith(`skypool-${name}`))
          .map((d) => `${c}/${d}`);
      } catch {
        return [];
      }
    });
    expect(cgroups).toEqual([]);
    expect(existsSync(join(work, 'state', 'clusters', name))).toBe(false);
    expect(existsSync(join('/run/skypool/local', name))).toBe(false);
  }, 60_000);
});
