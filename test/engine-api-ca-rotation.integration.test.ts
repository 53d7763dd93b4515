import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProvider, netnsName } from '../providers/local/index.js';
import { clusterPkiDir, readCaRotation } from '../src/bootstrap/cluster-pki.js';
import type { CertificateBundle } from '../src/bootstrap/pki.js';
import type { ClusterContext } from '../src/cluster/context.js';
import { probeEngineClient } from '../src/cluster/engine-api-ca.js';
import { Cluster, type ProgressEvent } from '../src/cluster/index.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { httpGet } from '../src/demo/load.js';
import { pollUntil } from '../src/util/poll.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * `skypool rotate-ca` on a real 3-node swarm (local provider): the engine API client CA moves node by node
 * (dockerd restarts once per node), an interrupted rotation resumes, the old client certificate is refused
 * everywhere, services keep their replicas, and a node launched afterwards boots with the new CA.
 */
const cannot = requireRoot({ files: ['/usr/sbin/dockerd', '/bin/busybox'] });
const suite = describeIf(cannot);

const name = `ca${process.pid % 100000}${Math.random().toString(36).slice(2, 6)}`;

suite('engine API client CA rotation on the local provider', () => {
  let work: string;
  let stateDir: string;
  let cluster: Cluster;
  let oldClient: CertificateBundle;
  let oldCaPem: string;
  const events: ProgressEvent[] = [];
  const ctx = () => (cluster as unknown as { ctx: ClusterContext }).ctx;
  const pkiFile = (file: string) => readFileSync(join(clusterPkiDir(stateDir, name), file), 'utf8');

  /** Every running node: what its engine API makes of the old and of the current client certificate. */
  const verdicts = async () => {
    const pki = await ctx().pki();
    const instances = (await ctx().inventory()).filter((i) => i.state === 'running');
    return Object.fromEntries(
      await Promise.all(
        instances.map(async (i) => {
          const endpoint = ctx().endpoint(i);
          const [old, current] = await Promise.all([
            probeEngineClient(endpoint, oldClient, pki.serverCaPem),
            probeEngineClient(endpoint, pki.client, pki.serverCaPem),
          ]);
          return [i.name, { old, current }] as const;
        }),
      ),
    );
  };

  const everyReplicaAnswers = async () => {
    const web = await cluster.workload('web');
    expect(web).toMatchObject({ desiredReplicas: 3, runningReplicas: 3 });
    const running = web!.tasks.filter((t) => t.state === 'running');
    await Promise.all(
      running.map((t) =>
        pollUntil(() => httpGet({ host: t.address!, port: t.hostPort! }), {
          deadline: Date.now() + 10_000,
          what: `replica ${t.address}:${t.hostPort}`,
        }),
      ),
    );
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-ca-'));
    stateDir = join(work, 'state');
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: [
          { name: 'managers', provider: 'local', role: 'manager', count: 1 },
          { name: 'workers', provider: 'local', role: 'worker', count: 2 },
        ],
        images: [image],
      },
      { stateDir, readyTimeoutMs: 90_000 },
    );
    cluster.onProgress((e) => events.push(e));
    await cluster.apply();
    await cluster.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 3, port: 8080 });
    oldClient = { certPem: pkiFile('cert.pem'), keyPem: pkiFile('key.pem') };
    oldCaPem = pkiFile('ca.pem');
  }, 180_000);

  afterAll(async () => {
    try {
      await cluster?.destroy();
    } finally {
      await cluster?.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 90_000);

  it('before: every node accepts the client certificate the cluster was made with', async () => {
    const before = await verdicts();
    expect(Object.values(before)).toEqual(Array(3).fill({ old: 'accepted', current: 'accepted' }));
  });

  it('an interrupted rotation says where it stood; the cluster stays reachable; the next rotate-ca resumes it', async () => {
    const abort = new AbortController();
    let moving = 0;
    const off = cluster.onProgress((e) => {
      if (e.type === 'message' && /moves to the new client CA/.test(e.message) && ++moving === 2) abort.abort();
    });
    const started = performance.now();
    await expect(cluster.rotateCa({ signal: abort.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    off();
    expect(await readCaRotation(stateDir, name)).toMatchObject({ phase: 'switching' });
    // Mid-rotation: one node trusts only the new CA, the others only the old; the SDK's identity works on both.
    const mid = Object.values(await verdicts());
    expect(mid.filter((v) => v.old === 'refused')).toHaveLength(1);
    expect(mid.every((v) => v.current === 'accepted')).toBe(true);
    expect((await cluster.status()).nodes.map((n) => n.engine?.state)).toEqual(['ready', 'ready', 'ready']);

    const result = await cluster.rotateCa();
    const ms = Math.round(performance.now() - started);
    expect(result.engineApi).toMatchObject({ nodes: 3, restarted: 2, resumed: true });
    expect(result.nodes).toBe(3);
    expect(await readCaRotation(stateDir, name)).toBeUndefined();
    console.log(`rotate-ca of 3 nodes (interrupted once, resumed): ${ms} ms`);
  }, 300_000);

  it('after: every node refuses the old client certificate and accepts the new one; services kept their replicas', async () => {
    const after = await verdicts();
    expect(Object.values(after)).toEqual(Array(3).fill({ old: 'refused', current: 'accepted' }));
    expect(pkiFile('ca.pem')).not.toBe(oldCaPem);
    expect(pkiFile('retired-ca.pem')).toBe(oldCaPem);
    expect(existsSync(join(clusterPkiDir(stateDir, name), 'next'))).toBe(false);
    await everyReplicaAnswers();
    expect(JSON.stringify(events)).not.toMatch(/PRIVATE KEY|SWMTKN|SWMKEY/);
  }, 60_000);

  it('a node launched before the rotation, its dockerd started again as at a reboot, still trusts only the new CA', async () => {
    const node = `${name}-workers-1`;
    const provider = createProvider();
    const dockerd = () =>
      execFileSync('ip', ['netns', 'pids', netnsName(name, node)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number)
        .find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd')!;
    const pid = dockerd();
    // What systemd's unit does at boot: the same command line, reading /etc/skypool/tls/ca.pem again.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv).toContain('/etc/skypool/tls/ca.pem');
    process.kill(pid, 'SIGTERM');
    await pollUntil(
      async () =>
        existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ') ? undefined : true,
      {
        deadline: Date.now() + 30_000,
        what: 'dockerd to stop',
      },
    );
    const quoted = argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    await provider.execInVm(name, node, [
      'sh',
      '-c',
      `setsid ${quoted} >>/var/log/skypool/dockerd.log 2>&1 </dev/null &`,
    ]);
    const verdict = await pollUntil(
      async () => {
        const v = (await verdicts())[node];
        return v?.current === 'accepted' ? v : undefined;
      },
      { deadline: Date.now() + 30_000, what: `${node}'s engine API to answer again` },
    );
    expect(verdict).toEqual({ old: 'refused', current: 'accepted' });
    await pollUntil(
      async () => ((await cluster.status()).nodes.every((n) => n.engine?.state === 'ready') ? true : undefined),
      {
        deadline: Date.now() + 60_000,
        what: 'every node Ready again',
      },
    );
    await pollUntil(async () => ((await cluster.workload('web'))?.runningReplicas === 3 ? true : undefined), {
      deadline: Date.now() + 60_000,
      what: 'the service to run its 3 replicas again',
    });
    // The node's fabric loop sees the CA it has: no second restart.
    const log = await provider.execInVm(name, node, ['cat', '/var/log/skypool/fabric.log'], { allowFailure: true });
    expect(log.stdout.match(/client CA applied/g)?.length ?? 0).toBeLessThanOrEqual(1);
    await provider.close?.();
  }, 120_000);

  it('a node launched after the rotation boots trusting only the new CA and joins', async () => {
    const scaled = await cluster.scale('workers', 3);
    expect(scaled.created).toHaveLength(1);
    const [fresh] = scaled.created;
    const provider = createProvider();
    const ca = await provider.execInVm(name, fresh!, ['cat', '/etc/skypool/tls/ca.pem']);
    expect(ca.stdout.trim()).toBe(pkiFile('ca.pem').trim());
    const after = await verdicts();
    expect(after[fresh!]).toEqual({ old: 'refused', current: 'accepted' });
    expect((await cluster.status()).nodes.map((n) => n.engine?.state)).toEqual(Array(4).fill('ready'));
    await provider.close?.();
  }, 180_000);

  it('a second rotate-ca starts afresh and leaves the previous client certificate refused too', async () => {
    const previous = { certPem: pkiFile('cert.pem'), keyPem: pkiFile('key.pem') };
    const result = await cluster.rotateCa();
    expect(result.engineApi).toMatchObject({ nodes: 4, restarted: 4, resumed: false });
    const pki = await ctx().pki();
    for (const i of (await ctx().inventory()).filter((x) => x.state === 'running')) {
      expect(await probeEngineClient(ctx().endpoint(i), previous, pki.serverCaPem)).toBe('refused');
      expect(await probeEngineClient(ctx().endpoint(i), pki.client, pki.serverCaPem)).toBe('accepted');
    }
    await everyReplicaAnswers();
  }, 300_000);
});
