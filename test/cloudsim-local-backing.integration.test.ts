import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vpcCidr } from '../providers/aws/index.js';
import { bridgeName } from '../providers/local/index.js';
import { hostVethName } from '../providers/local/paths.js';
import { type CloudSim, createLocalVmBacking, startCloudSim } from '../src/cloudsim/index.js';
import { Cluster } from '../src/cluster/index.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { httpGet } from '../src/demo/load.js';
import { flatSimRanges } from './support/flat-ranges.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * cloudsim with the `local` backing: a cluster provisioned through the simulated EC2, Compute Engine and ARM
 * (official SDKs, real wire protocols) gets namespace VMs that run its user-data and form one swarm across the
 * three "clouds". Needs root on Linux with docker.io and busybox-static.
 */
const cannot = requireRoot({ files: ['/usr/sbin/dockerd', '/bin/busybox'] });
const suite = describeIf(cannot);

const RANGES = flatSimRanges('local-backing');
const GCE_SUBNET = RANGES.gceSubnet;
const AZURE_SPACE = RANGES.azureSpace;
const name = RANGES.clusterName('xc');

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Everything of the backing VMs on the host: found while they run, checked for absence after the sim stopped. */
interface Footprint {
  readonly netns: string[];
  readonly links: string[];
  readonly enginePids: number[];
  readonly cgroupPrefixes: string[];
  readonly subnets: string[];
}

const isLive = (pid: number): boolean => {
  try {
    // `pid (comm) state ...`: an exited engine waiting for init to reap it (Z) is gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Only this test's backing (the one behind `bridge`): another sim may run beside it on the machine. */
function footprint(hostnames: readonly string[], subnets: readonly string[], bridge: string): Footprint {
  const netns = readdirSync('/run/netns').filter((n) => {
    const [, backing] = /^skypool-(cloudsim-[0-9a-f]{8})-/.exec(n) ?? [];
    return backing !== undefined && bridgeName(backing) === bridge;
  });
  const links = netns.flatMap((n) => {
    const [, backing = '', node = ''] = /^skypool-(cloudsim-[0-9a-f]{8})-(.+)$/.exec(n) ?? [];
    return [bridgeName(backing), hostVethName(backing, node)];
  });
  const enginePids = netns.flatMap((n) =>
    execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return /^(dockerd|containerd)/.test(readFileSync(`/proc/${pid}/comm`, 'utf8'));
        } catch {
          return false;
        }
      }),
  );
  return {
    netns,
    links: [...new Set(links)],
    enginePids,
    cgroupPrefixes: hostnames.map((h) => `skypool-${h}`),
    subnets: [...subnets],
  };
}

/** What of a footprint is still on the host (empty when the run cleaned up). */
function leftovers(f: Footprint): string[] {
  const netns = readdirSync('/run/netns').filter((n) => f.netns.includes(n));
  const links = f.links.filter((l) => existsSync(`/sys/class/net/${l}`));
  const engines = f.enginePids.filter(isLive).map((pid) => `pid ${pid}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => f.netns.some((n) => m.includes(n)));
  const cgroups = readdirSync('/sys/fs/cgroup').flatMap((h) => {
    try {
      return readdirSync(join('/sys/fs/cgroup', h))
        .filter((d) => f.cgroupPrefixes.some((p) => d === p || d.startsWith(`${p}.`)))
        .map((d) => `${h}/${d}`);
    } catch {
      return [];
    }
  });
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' })
    .split('\n')
    .filter((r) => f.subnets.some((c) => r.startsWith(`${c} `)));
  return [...netns, ...links, ...engines, ...mounts, ...cgroups, ...routes];
}

suite('cloudsim local backing: one swarm across simulated EC2, Compute Engine and ARM', () => {
  let seen: Footprint | undefined;
  let work: string;
  let sim: CloudSim | undefined;
  let cluster: Cluster | undefined;
  let destroyed = false;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-simlocal-'));
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    sim = await startCloudSim({ backing: 'local', bootTimeMs: 50 });
    const s = sim;
    const size = { cpus: 2, memoryGiB: 4 };
    const credential = {
      getToken: async () => ({ token: s.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: [
          { name: 'managers', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: 'gcp-workers', provider: 'gcp', region: 'us-central1', size, role: 'worker', count: 1 },
          { name: 'azure-workers', provider: 'azure', region: 'eastus', size, role: 'worker', count: 1 },
        ],
        images: [image],
      },
      {
        stateDir: join(work, 'state'),
        readyTimeoutMs: 45_000,
        // Cloud providers imply an ingress mesh; this kernel has no IPVS, so publish on host ports.
        routingMesh: false,
        providers: {
          aws: {
            region: 'us-east-1',
            endpoint: s.httpUrl,
            credentials: s.credentials.aws,
            pollIntervalMs: 50,
            deleteTimeoutMs: 20_000,
          },
          gcp: {
            project: 'skypool-sim',
            region: 'us-central1',
            apiEndpoint: s.host,
            port: s.httpPort,
            protocol: 'http',
            accessToken: s.credentials.gcp.accessToken,
            pollIntervalMs: 50,
            subnetCidr: GCE_SUBNET,
          },
          azure: {
            subscriptionId: '00000000-0000-4000-8000-0000000000aa',
            region: 'eastus',
            endpoint: s.httpsUrl,
            caCertPem: s.caCertPem,
            credential,
            pollIntervalMs: 50,
            addressSpace: AZURE_SPACE,
          },
        },
      },
    );
  }, 30_000);

  afterAll(async () => {
    try {
      if (!destroyed) await cluster?.destroy();
    } finally {
      await cluster?.close();
      await sim?.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);

  it("applies: three Ready swarm nodes, one per simulated cloud, on their clouds' subnets", async () => {
    const t0 = Date.now();
    const result = await cluster!.apply();
    const applyMs = Date.now() - t0;
    expect(result.created).toHaveLength(3);
    const status = await cluster!.status();
    expect(status.nodes).toHaveLength(3);
    for (const node of status.nodes) expect(node.engine?.state).toBe('ready');
    expect(status.nodes.map((n) => n.engine?.labels.provider).sort()).toEqual(['aws', 'azure', 'gcp']);
    const ipOf = (provider: string) => status.nodes.find((n) => n.provider === provider)?.privateIp ?? '';
    const prefix = (cidr: string) => new RegExp(`^${cidr.split('.').slice(0, 2).join('\\.')}\\.`);
    expect(ipOf('aws')).toMatch(prefix(vpcCidr(name)));
    expect(ipOf('gcp')).toMatch(prefix(GCE_SUBNET));
    expect(ipOf('azure')).toMatch(prefix(AZURE_SPACE));
    expect(status.nodes.find((n) => n.provider === 'aws')?.engine).toMatchObject({ role: 'manager', leader: true });
    // One L2 segment: the three clouds' subnets are routes of the host on the same bridge.
    const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' }).split('\n');
    const devOf = (ip: string) =>
      routes.find((r) => r.startsWith(`${ip.split('.').slice(0, 2).join('.')}.`))?.match(/ dev (\S+)/)?.[1];
    expect(new Set(['aws', 'gcp', 'azure'].map((p) => devOf(ipOf(p)))).size).toBe(1);
    const bridge = devOf(ipOf('aws'))!;
    expect(bridge).toMatch(/^spbr-/);
    const subnets = routes.filter((r) => r.includes(` dev ${bridge} `)).map((r) => r.split(' ')[0]!);
    expect(subnets).toHaveLength(3);
    seen = footprint(
      status.nodes.map((n) => n.name),
      subnets,
      bridge,
    );
    expect(
      sim!
        .inventory()
        .filter((r) => ['instance', 'virtualMachines', 'Microsoft.Compute/virtualMachines'].includes(r.type)),
    ).toHaveLength(3);
    console.log(
      `cloudsim local backing: 3-cloud swarm applied in ${applyMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')})`,
    );
  }, 70_000);

  it('runs a 3-replica service whose every replica answers from the host', async () => {
    const web = await cluster!.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 3, port: 8080 });
    expect(web).toMatchObject({ runningReplicas: 3, desiredReplicas: 3, publishMode: 'host' });
    const running = web.tasks.filter((t) => t.state === 'running');
    expect(running).toHaveLength(3);
    expect(new Set(running.map((t) => t.node)).size).toBe(3);
    const pages = await Promise.all(
      running.map((t) =>
        until(`replica ${t.address}:${t.hostPort}`, 10_000, () => httpGet({ host: t.address!, port: t.hostPort! })),
      ),
    );
    expect(pages.every((p) => p.startsWith('hello from'))).toBe(true);
    expect(new Set(pages.map((p) => p.trim())).size).toBe(3);
  }, 40_000);

  it('destroys: the simulated clouds are empty, and stopping the sim leaves the host as it was', async () => {
    const result = await cluster!.destroy();
    destroyed = true;
    expect(result.terminated).toHaveLength(3);
    await until('an empty sim inventory', 20_000, async () => (sim!.inventory().length === 0 ? true : undefined)).catch(
      () => {
        throw new Error(`sim inventory not empty: ${JSON.stringify(sim!.inventory())}`);
      },
    );
    // Terminating in the clouds stops the backing VMs too, before the sim itself stops.
    await until('the backing VMs to be gone', 20_000, async () =>
      readdirSync('/run/netns').some((n) => seen?.netns.includes(n)) ? undefined : true,
    );
    await sim!.stop();
    sim = undefined;
    expect(seen?.netns).toHaveLength(3);
    expect(seen?.enginePids.length).toBeGreaterThanOrEqual(6); // a dockerd and a containerd per VM
    expect(leftovers(seen!)).toEqual([]);
  }, 60_000);

  it('refuses a subnet that overlaps a host route it does not own, and leaves nothing', async () => {
    const reported: string[] = [];
    const backing = await createLocalVmBacking({
      cleanupOnSignals: false,
      onStartError: (vm, error) => reported.push(`${vm.id}: ${error.message}`),
    });
    try {
      // Every Linux host routes 127.0.0.0/8 to lo.
      const vm = {
        cloud: 'aws' as const,
        id: 'i-0000000000000dead',
        name: 'clash',
        privateIp: '127.1.0.5',
        subnetCidr: '127.1.0.0/24',
        userData: '#!/bin/sh\n',
        tags: {},
      };
      await expect(backing.start(vm)).rejects.toThrow(/127\.1\.0\.0\/24 overlaps the host route 127\.0\.0\.0\/8 on lo/);
      await expect(backing.start({ ...vm, privateIp: '10.9.9.9', subnetCidr: '10.9.8.0/24' })).rejects.toThrow(
        /no address in a subnet/,
      );
      expect(existsSync(`/sys/class/net/${bridgeName(backing.name)}`)).toBe(false);
      expect(reported).toHaveLength(2);
      expect(reported[0]).toMatch(/^i-0000000000000dead: subnet 127\.1\.0\.0\/24 overlaps/);
    } finally {
      await backing.close();
    }
    expect(readdirSync('/run/netns').filter((n) => n.startsWith(`skypool-${backing.name}-`))).toEqual([]);
    expect(existsSync(`/sys/class/net/${bridgeName(backing.name)}`)).toBe(false);
  });
});
