import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bridgeName,
  checkLocalPrerequisites,
  cleanupLocalCluster,
  cleanupTracked,
  createProvider,
  installCleanupOnSignals,
  type LocalProvider,
  netnsName,
  readUserDataResult,
} from '../providers/local/index.js';
import { readMountInfo } from '../providers/local/mounts.js';
import { claimAddress } from '../providers/local/network.js';
import { hostVethName } from '../providers/local/paths.js';
import { pidsInCgroups, pidsInNetns, vmCgroupDirs } from '../providers/local/processes.js';
import { netnsLink, writeRecord } from '../providers/local/state.js';
import { createNetns, startAnchor } from '../providers/local/vm.js';
import type { Instance, LaunchRequest, NetworkRef, OwnershipTags } from '../src/providers/types.js';
import { describeProviderConformance } from './support/provider-conformance.js';
import { describeIf, requireRoot } from './support/requirements.js';

const cannot = requireRoot();
const suite = describeIf(cannot);

const HTTPD_USER_DATA = `#!/bin/sh
set -e
mkdir -p /var/lib/skypool/www
hostname > /var/lib/skypool/hostname.txt
ip -4 addr > /var/lib/skypool/addr.txt
ip route > /var/lib/skypool/route.txt
echo marker > /var/lib/skypool/marker
echo private > "/tmp/skypool-$(hostname)" && echo private > "/run/skypool-$(hostname)" && echo private > "/dev/shm/skypool-$(hostname)"
echo "hello from $(hostname)" > /var/lib/skypool/www/index.html
busybox httpd -f -p 8080 -h /var/lib/skypool/www &
echo started
`;

const DOCKERD_USER_DATA = `#!/bin/sh
set -e
start=$(date +%s%N)
dockerd --cgroup-parent "skypool-$(hostname)" --iptables=false >/var/log/skypool/dockerd.log 2>&1 &
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 600 ] || { echo "dockerd not ready"; tail -20 /var/log/skypool/dockerd.log; exit 1; }
  sleep 0.05
done
echo "dockerd-ready-ms $(( ($(date +%s%N) - start) / 1000000 ))"
`;

interface HostSnapshot {
  netns: string[];
  links: string[];
  mounts: string[];
  cgroups: string[];
  state: string[];
}

async function snapshot(stateRoot: string): Promise<HostSnapshot> {
  const netns = (await readdir('/run/netns').catch(() => [] as string[])).sort();
  const links = (await readdir('/sys/class/net')).sort();
  // ip creates the /run/netns mount once per boot and never removes it; it is shared by everyone.
  const mounts = (await readMountInfo())
    .map((m) => m.mountPoint)
    .filter((m) => m !== '/run/netns')
    .sort();
  const cgroups: string[] = [];
  for (const h of await readdir('/sys/fs/cgroup')) {
    for (const e of await readdir(join('/sys/fs/cgroup', h)).catch(() => [] as string[]))
      if (e.startsWith('skypool-')) cgroups.push(`${h}/${e}`);
  }
  const state = (await readdir(stateRoot).catch(() => [] as string[])).sort();
  return { netns, links, mounts, cgroups: cgroups.sort(), state };
}

const HOST_PATHS = [
  '/etc/docker',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/etc/skypool',
  '/var/lib/skypool',
  '/var/log/skypool',
  '/etc/hostname',
  '/etc/hosts',
  '/tmp',
  '/run',
  '/sys/fs/cgroup',
];

/** Only the parts of the host that belong to this test's cluster (other people may create VMs meanwhile). */
function ours(s: HostSnapshot, cluster: string, nodes: readonly string[], stateRoot: string): HostSnapshot {
  const veths = new Set(nodes.map((n) => hostVethName(cluster, n)));
  return {
    netns: s.netns.filter((n) => n.startsWith(`skypool-${cluster}-`)),
    links: s.links.filter((l) => l === bridgeName(cluster) || veths.has(l)),
    // A VM mount leaking into the host would sit on one of the paths it makes private, or under its VM dir.
    mounts: s.mounts.filter(
      (m) =>
        m.includes(cluster) ||
        m.startsWith(stateRoot) ||
        HOST_PATHS.some((p) => m === p || (p !== '/run' && p !== '/tmp' && m.startsWith(`${p}/`))),
    ),
    cgroups: s.cgroups.filter((c) => c.includes(`skypool-${cluster}-`)),
    state: s.state,
  };
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function poll<T>(what: string, deadlineMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready within ${deadlineMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitUserData(cluster: string, node: string, stateRoot: string, deadlineMs: number): Promise<string> {
  const result = await poll(`user-data of ${node}`, deadlineMs, async () => {
    const r = await readUserDataResult(cluster, node, stateRoot);
    return r.done ? r : undefined;
  });
  if (result.exitCode !== 0)
    throw new Error(`user-data of ${node} exited ${result.exitCode}:\n${result.log.slice(-2000)}`);
  return result.log;
}

/** RSS in MB of every process of a VM (its netns and its container cgroups). */
async function vmRssMb(id: string, node: string): Promise<number> {
  const link = await netnsLink(id);
  const pids = [
    ...new Set([...(link ? await pidsInNetns(link) : []), ...(await pidsInCgroups(await vmCgroupDirs(node)))]),
  ];
  let kb = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return Math.round(kb / 1024);
}

async function vmPids(id: string, node: string): Promise<number[]> {
  const link = await netnsLink(id);
  return [...(link ? await pidsInNetns(link) : []), ...(await pidsInCgroups(await vmCgroupDirs(node)))];
}

/** Pids still running; zombies are dead, they only wait for init to reap them. */
async function alivePids(pids: readonly number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    if (status && !/^State:\s+Z/m.test(status)) alive.push(pid);
  }
  return alive;
}

suite('local provider', () => {
  const cluster = `lt-${randomBytes(3).toString('hex')}`;
  const bridge = bridgeName(cluster);
  let stateRoot = '';
  let provider: LocalProvider;
  let before: HostSnapshot;
  let network: NetworkRef;
  const tags: OwnershipTags = { cluster, pool: 'web', role: 'worker', specHash: 'abc123def456' };
  const request = (
    nodes: Array<string | { name: string; privateIp: string }>,
    userData: string,
    token: string,
  ): LaunchRequest => ({
    cluster,
    pool: { name: 'web', provider: 'local', count: nodes.length, role: 'worker' },
    tags,
    network,
    nodes: nodes.map((n) => (typeof n === 'string' ? { name: n } : n)),
    userData,
    idempotencyToken: token,
  });
  const seenPids = new Set<number>();
  // Cgroup parents are named after the hostname only, so test VMs carry the cluster name like real ones do.
  const A = `${cluster}-a`;
  const B = `${cluster}-b`;
  const D = `${cluster}-d`;
  const E = `${cluster}-e`;
  const HALF = `${cluster}-half`;
  const NODES = [A, B, D, E, HALF, `${cluster}-orphan`];

  beforeAll(async () => {
    stateRoot = await mkdtemp(join(tmpdir(), 'skypool-local-'));
    provider = createProvider({ stateRoot, stopGraceMs: 2_000 });
    before = ours(await snapshot(stateRoot), cluster, NODES, stateRoot);
  });

  afterAll(async () => {
    await cleanupLocalCluster(cluster, stateRoot).catch((err) => console.error('cleanup failed', err));
    await rm(stateRoot, { recursive: true, force: true });
  }, 60_000);

  it('passes its prerequisites and names what is missing otherwise', async () => {
    await expect(provider.checkPrerequisites()).resolves.toBeUndefined();
    expect(() => checkLocalPrerequisites(['skypool-no-such-tool'])).toThrow(
      /install them with "apt-get install -y skypool-no-such-tool"/,
    );
  });

  it('ensureNetwork is idempotent', async () => {
    network = await provider.ensureNetwork(cluster);
    const again = await provider.ensureNetwork(cluster);
    expect(again).toEqual(network);
    expect(network.id).toBe(bridge);
    expect(network.cidr).toMatch(/^10\.213\.\d+\.0\/24$/);
    expect(network.reservedAddresses).toHaveLength(3);
  });

  it('runs two VMs that boot their user-data, talk over the bridge and stay off the host paths', async () => {
    const t0 = Date.now();
    const wantedB = network.cidr.replace(/0\/24$/, '50');
    const vms = await provider.runInstances(request([A, { name: B, privateIp: wantedB }], HTTPD_USER_DATA, 'tok-1'));
    const createMs = Date.now() - t0;
    expect(vms.map((v) => v.name)).toEqual([A, B]);
    for (const vm of vms) {
      expect(vm.state).toBe('running');
      expect(vm.tags).toEqual(tags);
      expect(vm.privateIp).toBe(vm.publicIp);
    }
    const [a, b] = vms as [Instance, Instance];
    expect(a.privateIp).toBe(network.cidr.replace(/0\/24$/, '2'));
    expect(b.privateIp).toBe(wantedB);
    await provider.waitUntilRunning([a.id, b.id], { deadline: Date.now() + 10_000 });
    for (const vm of vms) await waitUserData(cluster, vm.name, stateRoot, 20_000);

    for (const vm of vms) {
      const body = await poll(`http on ${vm.name}`, 15_000, () => httpGet(`http://${vm.privateIp}:8080/`));
      expect(body).toBe(`hello from ${vm.name}\n`);
      const dir = join(stateRoot, cluster, vm.name, 'fs/var/lib/skypool');
      expect((await readFile(join(dir, 'hostname.txt'), 'utf8')).trim()).toBe(vm.name);
      expect(await readFile(join(dir, 'addr.txt'), 'utf8')).toContain(`inet ${vm.privateIp}/24`);
      const routes = await readFile(join(dir, 'route.txt'), 'utf8');
      expect(routes).not.toMatch(/default/);
      expect(await readFile(join(dir, 'marker'), 'utf8')).toBe('marker\n');
      expect(provider.hostPathOf(cluster, vm.name, '/var/lib/skypool/marker')).toBe(join(dir, 'marker'));
    }
    expect(existsSync('/var/lib/skypool/marker')).toBe(false);
    for (const path of ['/tmp', '/run', '/dev/shm']) {
      expect(existsSync(`${path}/skypool-${A}`)).toBe(false);
      expect((await provider.execInVm(cluster, A, ['cat', `${path}/skypool-${A}`])).stdout).toBe('private\n');
    }

    // VM to VM over the bridge (busybox 1.35 wget segfaults, nc does not).
    const fromA = await provider.execInVm(cluster, A, [
      'sh',
      '-c',
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc ${b.privateIp} 8080`,
    ]);
    expect(fromA.stdout).toContain(`hello from ${B}`);
    const unreachable = await provider.execInVm(cluster, A, ['ip', 'route', 'get', '1.1.1.1'], { allowFailure: true });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(/unreachable/i);

    // Same request again: the same VMs, no duplicate.
    const again = await provider.runInstances(request([A, { name: B, privateIp: wantedB }], HTTPD_USER_DATA, 'tok-1'));
    expect(again.map((v) => [v.id, v.privateIp])).toEqual(vms.map((v) => [v.id, v.privateIp]));
    // Another token with the same bytes is the same request; other user-data under the same name is refused.
    expect((await provider.runInstances(request([A], HTTPD_USER_DATA, 'tok-retry')))[0]!.id).toBe(a.id);
    await expect(provider.runInstances(request([A], `${HTTPD_USER_DATA}# v2\n`, 'tok-other'))).rejects.toThrow(
      /already runs with other user-data/,
    );
    const listed = await provider.listInstances(cluster);
    expect(listed.map((v) => v.id)).toEqual([a.id, b.id]);
    expect(listed.every((v) => v.state === 'running')).toBe(true);

    const rss = await Promise.all(vms.map((v) => vmRssMb(v.id, v.name)));
    console.log(`local provider: 2 VMs created in ${createMs} ms; RSS per VM (anchor + httpd) ${rss.join(', ')} MB`);
    for (const vm of vms) for (const pid of await vmPids(vm.id, vm.name)) seenPids.add(pid);
    expect(seenPids.size).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('hosts a real dockerd with its own containerd and container cgroups', async () => {
    const t0 = Date.now();
    const [vm] = await provider.runInstances(request([D], DOCKERD_USER_DATA, 'tok-2'));
    const log = await waitUserData(cluster, D, stateRoot, 60_000);
    const readyMs = Number(/dockerd-ready-ms (\d+)/.exec(log)?.[1]);
    expect(readyMs).toBeGreaterThan(0);
    const info = await provider.execInVm(cluster, D, [
      'docker',
      'info',
      '--format',
      '{{.Name}} {{.DockerRootDir}} {{.CgroupDriver}}',
    ]);
    expect(info.stdout.trim()).toBe(`${D} /var/lib/docker cgroupfs`);
    // Its containerd is its own (private /run), not one found on the host.
    const ctrd = await provider.execInVm(cluster, D, [
      'sh',
      '-c',
      'ls /run/docker/containerd/containerd.sock || ls /run/containerd/containerd.sock',
    ]);
    expect(ctrd.code).toBe(0);

    // A container from an offline image lands in the VM's cgroup parent on the host.
    const script = `set -e; d=$(mktemp -d); mkdir -p $d/bin; cp /bin/busybox $d/bin/busybox; ln -s busybox $d/bin/sh; tar -C $d -cf - . | docker import - skypool/bb:1 >/dev/null; docker run -d --network none skypool/bb:1 /bin/busybox sleep 600`;
    const run = await provider.execInVm(cluster, D, ['sh', '-c', script], { timeoutMs: 60_000 });
    const cid = run.stdout.trim();
    expect(cid).toMatch(/^[0-9a-f]{64}$/);
    const cgroups = await vmCgroupDirs(D);
    expect(
      cgroups.some(
        (dir) =>
          dir.endsWith(`/memory/skypool-${D}/${cid}`) ||
          (dir.includes(`/memory/`) && dir.endsWith(`/skypool-${D}/${cid}`)),
      ),
    ).toBe(true);
    expect(cgroups.some((dir) => dir.endsWith(`/devices/skypool-${D}/${cid}`))).toBe(true);

    const rss = await vmRssMb(vm!.id, D);
    console.log(
      `local provider: dockerd VM ready (docker info) ${readyMs} ms after dockerd start, ${Date.now() - t0} ms after runInstances; RSS ${rss} MB with 1 container`,
    );
    for (const pid of await vmPids(vm!.id, D)) seenPids.add(pid);
  }, 120_000);

  it('stops a VM keeping its disk and address, and starts it again running its per-boot scripts, not its user-data', async () => {
    const b = (await provider.listInstances(cluster)).find((v) => v.name === B)!;
    const perBoot = provider.hostPathOf(cluster, B, '/var/lib/cloud/scripts/per-boot');
    await mkdir(perBoot, { recursive: true });
    await writeFile(
      join(perBoot, '50-httpd'),
      '#!/bin/sh\necho boot >> /var/lib/skypool/boots\nbusybox httpd -f -p 8080 -h /var/lib/skypool/www &\n',
      { mode: 0o755 },
    );
    const t0 = Date.now();
    await provider.stopInstances([b.id]);
    const stopMs = Date.now() - t0;
    await provider.stopInstances([b.id]); // idempotent
    const stopped = (await provider.listInstances(cluster)).find((v) => v.name === B);
    expect(stopped).toMatchObject({ id: b.id, state: 'stopped', privateIp: b.privateIp });
    expect(await netnsLink(b.id)).toBeUndefined();
    await expect(httpGet(`http://${b.privateIp}:8080/`)).rejects.toThrow();
    expect(await readFile(provider.hostPathOf(cluster, B, '/var/lib/skypool/marker'), 'utf8')).toBe('marker\n');

    const t1 = Date.now();
    const [started] = await provider.startInstances([b.id], { onLinkRoutes: [] });
    expect(started).toMatchObject({ id: b.id, state: 'running', privateIp: b.privateIp });
    const body = await poll(`http on ${B} after start`, 15_000, () => httpGet(`http://${b.privateIp}:8080/`));
    const startMs = Date.now() - t1;
    expect(body).toBe(`hello from ${B}\n`);
    expect(await readFile(provider.hostPathOf(cluster, B, '/var/lib/skypool/boots'), 'utf8')).toBe('boot\n');
    // The console holds both boots; the user-data ran once.
    const console1 = await provider.readConsole({ id: b.id });
    expect(console1.match(/^started$/gm)).toHaveLength(1);
    expect(console1).toContain('/var/lib/cloud/scripts/per-boot');
    expect((await provider.listInstances(cluster)).find((v) => v.name === B)?.state).toBe('running');
    for (const pid of await vmPids(b.id, B)) seenPids.add(pid);
    console.log(`local provider: VM stopped in ${stopMs} ms, started and serving again in ${startMs} ms`);
  }, 60_000);

  it('terminates everything and leaves the host as it found it', async () => {
    const ids = (await provider.listInstances(cluster)).map((v) => v.id);
    expect(ids).toHaveLength(3);
    const t0 = Date.now();
    await provider.terminateInstances(ids);
    const terminateMs = Date.now() - t0;
    await provider.terminateInstances(ids); // idempotent
    expect(await provider.listInstances(cluster)).toEqual([]);
    await provider.deleteNetwork(cluster);
    await provider.deleteNetwork(cluster);
    console.log(`local provider: 3 VMs terminated in ${terminateMs} ms`);

    expect(await alivePids([...seenPids])).toEqual([]);
    const after = ours(await snapshot(stateRoot), cluster, NODES, stateRoot);
    expect(after).toEqual(before);
    for (const n of [A, B, D]) expect(await vmCgroupDirs(n)).toEqual([]);
    const mounts = (await readMountInfo()).filter(
      (m) => m.mountPoint.includes(stateRoot) || m.mountPoint.includes(`skypool-${cluster}-`),
    );
    expect(mounts).toEqual([]);
  }, 60_000);

  it('removes what this process created when asked to (the Ctrl-C / SIGTERM path)', async () => {
    const uninstall = installCleanupOnSignals();
    expect(installCleanupOnSignals()).toBe(uninstall);
    expect(process.listeners('SIGTERM').length).toBeGreaterThan(0);
    try {
      network = await provider.ensureNetwork(cluster);
      const [vm] = await provider.runInstances(request([E], HTTPD_USER_DATA, 'tok-3'));
      await waitUserData(cluster, E, stateRoot, 20_000);
      await cleanupTracked();
      expect(await netnsLink(vm!.id)).toBeUndefined();
      expect(existsSync(join(stateRoot, cluster))).toBe(false);
      expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    } finally {
      uninstall();
    }
  }, 60_000);

  it('tears down a half-created VM (crash after the anchor started, before it was recorded)', async () => {
    network = await provider.ensureNetwork(cluster);
    const node = HALF;
    const id = netnsName(cluster, node);
    const dir = join(stateRoot, cluster, node);
    await mkdir(dir, { recursive: true });
    const ip = await claimAddress(stateRoot, cluster, network, node);
    await writeRecord(dir, {
      id,
      name: node,
      cluster,
      tags: {},
      ip,
      cidr: network.cidr,
      bridge,
      idempotencyToken: 'x',
      userDataSha256: '0'.repeat(64),
      createdAt: new Date(0).toISOString(),
    });
    const t0 = performance.now();
    await createNetns({ cluster, node, ip, prefixLength: 24, bridge });
    const anchor = await startAnchor(id);
    console.log(`local provider: netns + veth + anchor in ${Math.round(performance.now() - t0)} ms`);
    await writeFile(join(dir, 'junk'), 'x');
    expect(await readlink(`/proc/${anchor}/ns/net`)).toBe(await netnsLink(id));

    // listInstances reports nothing for it and cleans it: it has no recorded anchor and is old.
    expect(await provider.listInstances(cluster)).toEqual([]);
    expect(await alivePids([anchor])).toEqual([]);
    expect(await netnsLink(id)).toBeUndefined();
    expect(existsSync(dir)).toBe(false);

    // A namespace whose VM dir is gone (removed by hand): cluster cleanup still finds it by its veth.
    const orphan = `${cluster}-orphan`;
    const orphanIp = await claimAddress(stateRoot, cluster, network, orphan);
    await createNetns({ cluster, node: orphan, ip: orphanIp, prefixLength: 24, bridge });
    const orphanAnchor = await startAnchor(netnsName(cluster, orphan));
    await cleanupLocalCluster(cluster, stateRoot);
    expect(await alivePids([orphanAnchor])).toEqual([]);
    expect(await netnsLink(netnsName(cluster, orphan))).toBeUndefined();
    await cleanupLocalCluster(cluster, stateRoot);
    expect(ours(await snapshot(stateRoot), cluster, NODES, stateRoot)).toEqual(before);
  }, 60_000);

  it('refuses bad launches and leaves nothing of them', async () => {
    network = await provider.ensureNetwork(cluster);
    const G = `${cluster}-g`;
    await expect(provider.runInstances(request([G], '#cloud-config\nruncmd: [true]\n', 'tok-5'))).rejects.toThrow(
      /starting with "#!"/,
    );
    expect(await provider.listInstances(cluster)).toEqual([]);
    expect(existsSync(join(stateRoot, cluster, G))).toBe(false);
    // A launch failing half-way (address outside the subnet) removes what it had made.
    await expect(
      provider.runInstances(request([{ name: G, privateIp: '192.168.77.5' }], HTTPD_USER_DATA, 'tok-6')),
    ).rejects.toThrow(/outside/);
    expect(existsSync(join(stateRoot, cluster, G))).toBe(false);
    expect(await provider.listInstances(cluster)).toEqual([]);
    await provider.deleteNetwork(cluster);
    expect(ours(await snapshot(stateRoot), cluster, [...NODES, G], stateRoot)).toEqual(before);
  }, 60_000);

  it('launches a VM once when the same request arrives twice at the same time', async () => {
    network = await provider.ensureNetwork(cluster);
    const F = `${cluster}-f`;
    const [first, second] = await Promise.all([
      provider.runInstances(request([F], HTTPD_USER_DATA, 'tok-4')),
      provider.runInstances(request([F], HTTPD_USER_DATA, 'tok-4')),
    ]);
    expect(second[0]!.id).toBe(first[0]!.id);
    expect(second[0]!.privateIp).toBe(first[0]!.privateIp);
    expect((await readdir('/run/netns')).filter((n) => n === first[0]!.id)).toHaveLength(1);
    expect(await provider.listInstances(cluster)).toHaveLength(1);
    await waitUserData(cluster, F, stateRoot, 20_000);
    const pids = await vmPids(first[0]!.id, F);

    // A VM whose anchor died (killed, host trouble) is terminated: listing reports nothing and cleans it all.
    const record = JSON.parse(await readFile(join(stateRoot, cluster, F, 'vm.json'), 'utf8')) as { anchorPid: number };
    process.kill(record.anchorPid, 'SIGKILL');
    await poll('anchor gone', 5_000, async () =>
      (await alivePids([record.anchorPid])).length === 0 ? true : undefined,
    );
    expect(await provider.listInstances(cluster)).toEqual([]);
    expect(await alivePids(pids)).toEqual([]);
    await provider.terminateInstances([first[0]!.id]);
    await provider.deleteNetwork(cluster);
    expect(ours(await snapshot(stateRoot), cluster, [...NODES, F], stateRoot)).toEqual(before);
  }, 60_000);

  it('terminate returns only when every process of the VM is gone, also one that left its network namespace', async () => {
    network = await provider.ensureNetwork(cluster);
    const G = `${cluster}-g`;
    // A process started in the VM that moved to a network namespace of its own still belongs to the VM.
    const userData =
      '#!/bin/sh\nunshare -n sleep 300 </dev/null >/dev/null 2>&1 &\necho $! > /var/lib/skypool/escaped.pid\n';
    const [vm] = await provider.runInstances(request([G], userData, 'tok-esc'));
    await waitUserData(cluster, G, stateRoot, 20_000);
    const pidFile = provider.hostPathOf(cluster, G, '/var/lib/skypool/escaped.pid');
    const escaped = Number((await readFile(pidFile, 'utf8')).trim());
    expect(await alivePids([escaped])).toEqual([escaped]);
    try {
      await provider.terminateInstances([vm!.id]);
      expect(await alivePids([escaped])).toEqual([]);
    } finally {
      try {
        process.kill(escaped, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
      await provider.deleteNetwork(cluster);
    }
  }, 60_000);
});

if (!cannot) {
  let conformanceRoot = '';
  describeProviderConformance('local', async () => {
    conformanceRoot = await mkdtemp(join(tmpdir(), 'skypool-local-cf-'));
    return {
      provider: createProvider({ stateRoot: conformanceRoot, stopGraceMs: 2_000 }),
      pool: { name: 'w', provider: 'local', count: 3, role: 'worker' },
      // The host's view: named namespaces of the cluster that still hold processes.
      liveVms: async (cluster) => {
        const names = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) =>
          n.startsWith(`skypool-${cluster}-`),
        );
        let live = 0;
        for (const name of names) {
          const link = await netnsLink(name);
          if (link && (await pidsInNetns(link)).length > 0) live++;
        }
        return live;
      },
      teardown: async () => {
        await rm(conformanceRoot, { recursive: true, force: true });
      },
    };
  });
}
