import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { FirewallsClient, InstancesClient } from '@google-cloud/compute';
import { OAuth2Client } from 'google-auth-library';
import { createProvider as createAws, vpcCidr } from '../providers/aws/index.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { backingVmName } from '../src/cloudsim/local-backing.js';
import type { Instance, NetworkRef, Provider } from '../src/providers/types.js';
import { takeRealisticNetworkTurn } from './support/realistic-network-lock.js';

/**
 * cloudsim's realistic network: EC2 and Compute Engine VMs (launched by skypool's adapters through the official
 * SDKs) on two clouds whose private ranges are the same /16, reached from the host only at their public
 * 198.18.0.0/15 addresses through 1:1 NAT, with the clouds' firewall rules enforced on the path.
 * Needs root on Linux with busybox-static; run under `flock /tmp/skypool-ns.lock`.
 */
const canRun =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  existsSync('/bin/busybox') &&
  existsSync('/usr/bin/wireguard-go') &&
  spawnSync('wg', ['--version']).status === 0 &&
  spawnSync('iptables-restore', ['--version']).status === 0;
const reason =
  'needs root on Linux with busybox-static, iptables, wireguard-go and wireguard-tools (run `npm run prelude -- --local` as root)';
if (!canRun && process.env.CI === 'true') throw new Error(`cloudsim-realistic-network.integration: ${reason}`);
const suite = canRun ? describe : describe.skip;
if (!canRun) process.stderr.write(`cloudsim-realistic-network.integration: skipped: ${reason}\n`);

const cluster = `rn${process.pid % 10000}${Math.random().toString(36).slice(2, 6)}`;
/** The same range on both clouds: EC2's VPC (derived from the cluster name by the adapter) is GCE's subnet too. */
const SHARED_RANGE = vpcCidr(cluster);
// The adapters admit the engine API port from the sources they are given: here anywhere, so both the host and
// the other cloud's VMs may try it and only the sim's network decides.
const OPEN_PORT = 2376;
const ANYWHERE = ['0.0.0.0/0'];
const CLOSED_PORT = 8080; // no adapter opens it
const REGION = { aws: 'us-east-1', gcp: 'us-central1', azure: 'eastus' } as const;

const WG_PORT = 51820;
/** Every cloud gets a VM; the two-VM checks (isolation, firewall change, WireGuard) use EC2 and Compute Engine. */
const CLOUDS = ['aws', 'gcp', 'azure'] as const;
type Cloud = (typeof CLOUDS)[number];
/** Overlay addresses (the fabric's range will be inside 100.64.0.0/10) and WireGuard keys, made on the host. */
const overlay = { aws: '100.64.0.1', gcp: '100.64.0.2', azure: '100.64.0.3' } as const;
const keys = Object.fromEntries(
  CLOUDS.map((cloud) => {
    if (!canRun) return [cloud, { private: '', public: '' }];
    const priv = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
    const pub = execFileSync('wg', ['pubkey'], { input: `${priv}\n`, encoding: 'utf8' }).trim();
    return [cloud, { private: priv, public: pub }];
  }),
) as Record<Cloud, { private: string; public: string }>;

/**
 * Boot script: two web servers, and userspace WireGuard as a fabric node would run it (wireguard-go in the
 * foreground under the VM; its UAPI socket lives in the VM's private /run). Peers are configured later, once
 * the clouds have said the public addresses.
 */
const userData = (cloud: Cloud) =>
  [
    '#!/bin/sh',
    'mkdir -p /tmp/www',
    `echo "hello from ${cloud}" > /tmp/www/index.html`,
    `busybox httpd -p ${OPEN_PORT} -h /tmp/www`,
    `busybox httpd -p ${CLOSED_PORT} -h /tmp/www`,
    'umask 077',
    `echo '${keys[cloud].private}' > /tmp/wg.key`,
    'wireguard-go -f wg0 </dev/null >/tmp/wg.log 2>&1 &',
    'i=0; while [ ! -S /run/wireguard/wg0.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
    `wg set wg0 listen-port ${WG_PORT} private-key /tmp/wg.key`,
    `ip addr add ${overlay[cloud]}/24 dev wg0`,
    'ip link set dev wg0 up',
    '',
  ].join('\n');

/** GET http://ip:port/ with a short timeout; the body, or undefined when nothing answered. */
function get(ip: string, port: number, timeoutMs = 800): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/**
 * What of the host's network the sim may touch, as text to compare before and after: only lines naming the sim's
 * own objects (its namespaces and host veth carry "cloudsim"/"spi", its routes and addresses the 198.18.0.0/15
 * range), since other test files create and remove their own namespaces and links at the same time.
 */
/** This sim's id (its namespaces are `cloudsim-<id>-inet|edgeN` and `skypool-cloudsim-<id>-<cloud>-…`), once started. */
let simId: string | undefined;

function hostNetwork(): Record<string, string> {
  // Flat sims of other test files come and go meanwhile: of the namespaces, only the realistic network's own
  // (one at a time on a host) and this sim's VMs count.
  const ours = (text: string) =>
    text
      .split('\n')
      .filter(
        (l) =>
          /\bcloudsim-[0-9a-f]{8}-(inet|edge\d+)\b/.test(l) ||
          (simId !== undefined && l.includes(`cloudsim-${simId}-`)),
      )
      .join('\n');
  const mine = (text: string) =>
    text
      .split('\n')
      .filter((l) => /cloudsim|\bspi[0-9a-f]{12}\b|198\.1[89]\./.test(l))
      .join('\n');
  const iptables = (cmd: string) =>
    sh(cmd, [])
      .split('\n')
      .filter((l) => !l.startsWith('#') && !/^:\S+ \S+ \[\d+:\d+\]$/.test(l))
      .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
      .join('\n');
  return {
    netns: ours(sh('ip', ['netns', 'list'])),
    links: mine(
      sh('ip', ['-o', 'link', 'show'])
        .split('\n')
        .map((l) => l.replace(/^\d+: /, '').split(' ')[0])
        .sort()
        .join('\n'),
    ),
    addresses: mine(sh('ip', ['-o', '-4', 'addr', 'show'])),
    routes: mine(sh('ip', ['-4', 'route', 'show', 'table', 'all'])),
    iptables: mine(iptables('iptables-save')),
  };
}

/** Runs a command in a VM (its network, UTS and mount namespaces, entered through the VM's anchor process). */
function inVm(cloud: 'aws' | 'gcp', id: string, args: readonly string[]): { ok: boolean; out: string } {
  const node = backingVmName(cloud, id);
  const ns = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .find((n) => n.endsWith(`-${node}`));
  if (!ns) throw new Error(`no namespace of ${cloud} VM ${id}`);
  const anchor = sh('ip', ['netns', 'pids', ns])
    .split('\n')
    .filter(Boolean)
    .find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\0infinity\0';
      } catch {
        return false;
      }
    });
  if (!anchor) throw new Error(`no anchor process in ${ns}`);
  const r = spawnSync('nsenter', ['-t', anchor, '-m', '-u', '-n', '--', ...args], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

suite('cloudsim realistic network: separate clouds, public addresses by 1:1 NAT, firewalls enforced', () => {
  let before: Record<string, string>;
  let sim: CloudSim | undefined;
  let startMs = 0;
  const providers: Partial<Record<Cloud, Provider>> = {};
  const networks: Partial<Record<Cloud, NetworkRef>> = {};
  const vms: Partial<Record<Cloud, Instance>> = {};
  let gceFirewalls: FirewallsClient | undefined;
  let gceInstances: InstancesClient | undefined;
  /** The sim's own id of each VM (the GCE adapter names instances by zone/name; the backing by numeric id). */
  const simIds: Partial<Record<'aws' | 'gcp', string>> = {};
  let ec2: EC2Client | undefined;
  let releaseTurn: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    releaseTurn = await takeRealisticNetworkTurn();
    before = hostNetwork();
    const t0 = performance.now();
    sim = await startCloudSim({ backing: 'local', network: 'realistic', bootTimeMs: 50 });
    startMs = performance.now() - t0;
    simId = /\bcloudsim-([0-9a-f]{8})-inet\b/.exec(sh('ip', ['netns', 'list']))?.[1];
    expect(simId).toBeDefined();
    const s = sim;
    const credentials = sim.credentials.aws;
    providers.aws = createAws({
      region: REGION.aws,
      endpoint: s.httpUrl,
      credentials,
      pollIntervalMs: 50,
      engineApiSources: ANYWHERE,
    });
    providers.gcp = createGcp({
      project: 'skypool-sim',
      region: REGION.gcp,
      apiEndpoint: s.host,
      port: s.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
      pollIntervalMs: 50,
      subnetCidr: SHARED_RANGE,
      engineApiSources: ANYWHERE,
    });
    providers.azure = createAzure({
      subscriptionId: '00000000-0000-4000-8000-0000000000ac',
      region: REGION.azure,
      endpoint: s.httpsUrl,
      caCertPem: s.caCertPem,
      credential: {
        getToken: async () => ({
          token: sim.credentials.azure.accessToken,
          expiresOnTimestamp: Date.now() + 3_600_000,
        }),
      },
      pollIntervalMs: 20,
      addressSpace: SHARED_RANGE,
      engineApiSources: ANYWHERE,
    });
    ec2 = new EC2Client({ region: REGION.aws, endpoint: s.httpUrl, credentials });
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: sim.credentials.gcp.accessToken, expiry_date: Date.now() + 3_600_000 });
    const gceOptions = {
      fallback: true,
      apiEndpoint: s.host,
      port: s.httpPort,
      protocol: 'http',
      authClient: auth as never,
    };
    gceFirewalls = new FirewallsClient(gceOptions);
    gceInstances = new InstancesClient(gceOptions);
    await Promise.all(
      CLOUDS.map(async (cloud) => {
        const provider = providers[cloud]!;
        const network = await provider.ensureNetwork(cluster);
        networks[cloud] = network;
        const [launched] = await provider.runInstances({
          cluster,
          pool: { name: cloud, provider: cloud, count: 1, role: 'worker', size: { cpus: 2, memoryGiB: 4 } },
          tags: { cluster, pool: cloud, role: 'worker', specHash: 'realistic' },
          network,
          nodes: [{ name: `${cluster}-${cloud}` }],
          userData: userData(cloud),
          idempotencyToken: `${cluster}-${cloud}`,
        });
        const [running] = await provider.waitUntilRunning([launched!.id], { deadline: Date.now() + 20_000 });
        vms[cloud] = running;
      }),
    );
    simIds.aws = vms.aws!.id;
    const [zone = '', name = ''] = vms.gcp!.id.split('/');
    const [gceVm] = await gceInstances.get({ project: 'skypool-sim', zone, instance: name });
    simIds.gcp = String(gceVm.id);
  }, 280_000);

  afterAll(async () => {
    try {
      for (const cloud of CLOUDS) {
        const provider = providers[cloud];
        const vm = vms[cloud];
        if (provider && vm) await provider.terminateInstances([vm.id]).catch(() => undefined);
      }
      for (const cloud of CLOUDS)
        if (networks[cloud]) await providers[cloud]?.deleteNetwork(cluster).catch(() => undefined);
    } finally {
      ec2?.destroy();
      await gceFirewalls?.close();
      await gceInstances?.close();
      await sim?.stop();
      await releaseTurn?.();
      process.stderr.write(`cloudsim realistic network: startCloudSim ${startMs.toFixed(0)} ms\n`);
    }
  }, 30_000);

  it('gives the three clouds the same private range and each VM a distinct public address in 198.18.0.0/15', () => {
    for (const cloud of CLOUDS) {
      expect(networks[cloud]!.cidr.split('.').slice(0, 2)).toEqual(SHARED_RANGE.split('.').slice(0, 2));
      const vm = vms[cloud]!;
      expect(vm.privateIp).toMatch(new RegExp(`^${SHARED_RANGE.split('.').slice(0, 2).join('\\.')}\\.`));
      expect(vm.publicIp).toMatch(/^198\.1[89]\./);
      expect(vm.publicIp).not.toBe(vm.privateIp);
    }
    expect(new Set(CLOUDS.map((c) => vms[c]!.publicIp)).size).toBe(CLOUDS.length);
  });

  it('lets the host reach each VM at its public address on an allowed port, never at its private one', async () => {
    for (const cloud of CLOUDS) {
      const vm = vms[cloud]!;
      const body = await until(`${cloud} VM at ${vm.publicIp}:${OPEN_PORT}`, 10_000, () =>
        get(vm.publicIp!, OPEN_PORT),
      );
      expect(body.trim()).toBe(`hello from ${cloud}`);
      // The host has no path into a cloud's segment: its route to a private address is not the sim's.
      expect(sh('ip', ['-4', 'route', 'get', vm.privateIp!])).not.toMatch(/198\.19\.255\./);
    }
    // A public address nobody holds goes to the sim's internet router, which has only an unreachable route for
    // it; the host keeps an unreachable fallback for the whole range. Nothing follows the default route.
    expect(sh('ip', ['-4', 'route', 'get', '198.19.200.1'])).toMatch(/via 198\.19\.255\.254/);
    expect(sh('ip', ['-4', 'route', 'show', 'table', 'all'])).toMatch(/^unreachable 198\.18\.0\.0\/15 .*metric/m);
    const router = sh('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .find((n) => /^cloudsim-[0-9a-f]{8}-inet$/.test(n));
    const lookup = spawnSync('ip', ['-n', router!, '-4', 'route', 'get', '198.19.200.1'], { encoding: 'utf8' });
    expect(lookup.status).not.toBe(0);
    expect(lookup.stderr).toMatch(/No route to host|unreachable/i);
  });

  it('keeps each cloud private: a VM cannot reach the other cloud at its private address, only at its public one', () => {
    const a = vms.aws!;
    const b = vms.gcp!;
    const nc = (ip: string) => ['busybox', 'nc', '-w', '1', ip, String(OPEN_PORT)];
    expect(inVm('aws', simIds.aws!, [...nc(b.publicIp!), '-e', 'true']).ok).toBe(true);
    expect(inVm('aws', simIds.aws!, [...nc(b.privateIp!), '-e', 'true']).ok).toBe(false);
    expect(inVm('gcp', simIds.gcp!, [...nc(a.privateIp!), '-e', 'true']).ok).toBe(false);
    expect(inVm('gcp', simIds.gcp!, [...nc(a.publicIp!), '-e', 'true']).ok).toBe(true);
  });

  it('drops what no firewall rule allows, and opens it once a rule is added through the SDK', async () => {
    for (const cloud of ['aws', 'gcp'] as const)
      expect(await get(vms[cloud]!.publicIp!, CLOSED_PORT, 1_000)).toBeUndefined();

    // The adapters open the fabric's port themselves (ensureNetwork): the SG rule and the GCE firewall are there.
    const described = await ec2!.send(new DescribeInstancesCommand({ InstanceIds: [vms.aws!.id] }));
    const groupId = described.Reservations?.[0]?.Instances?.[0]?.SecurityGroups?.[0]?.GroupId;
    const groups = await ec2!.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId!] }));
    expect(
      groups.SecurityGroups?.[0]?.IpPermissions?.some(
        (p) => p.IpProtocol === 'udp' && p.FromPort === WG_PORT && p.IpRanges?.some((r) => r.CidrIp === '0.0.0.0/0'),
      ),
    ).toBe(true);
    const [firewalls] = await gceFirewalls!.list({ project: 'skypool-sim' });
    expect(
      firewalls.find((f) => f.allowed?.some((a) => a.IPProtocol === 'udp' && a.ports?.includes(String(WG_PORT))))
        ?.sourceRanges,
    ).toEqual(['0.0.0.0/0']);
    const t0 = performance.now();
    for (const [self, peer] of [
      ['aws', 'gcp'],
      ['gcp', 'aws'],
    ] as const) {
      await until(`wireguard-go up in the ${self} VM`, 10_000, async () =>
        inVm(self, simIds[self]!, ['wg', 'show', 'wg0', 'listen-port']).out.trim() === String(WG_PORT)
          ? true
          : undefined,
      );
      const set = inVm(self, simIds[self]!, [
        'wg',
        'set',
        'wg0',
        'peer',
        keys[peer].public,
        'endpoint',
        `${vms[peer]!.publicIp}:${WG_PORT}`,
        'allowed-ips',
        `${overlay[peer]}/32`,
        'persistent-keepalive',
        '25',
      ]);
      expect(set).toEqual({ ok: true, out: '' });
    }
    // Traffic into the tunnel starts the handshake; the answer proves the path both ways through both NATs.
    const ping = await until('a ping over WireGuard from the aws VM to the gcp VM', 10_000, async () => {
      const r = inVm('aws', simIds.aws!, ['busybox', 'ping', '-c', '1', '-W', '1', overlay.gcp]);
      return r.ok ? r.out : undefined;
    });
    const handshakeMs = performance.now() - t0;
    expect(ping).toMatch(/1 packets received/);
    for (const cloud of ['aws', 'gcp'] as const) {
      const latest = inVm(cloud, simIds[cloud]!, ['wg', 'show', 'wg0', 'latest-handshakes']).out.trim().split(/\s+/);
      expect(Number(latest[1])).toBeGreaterThan(0);
      // The peer is seen at its public address: the NAT, not a private path, carried it.
      const endpoint = inVm(cloud, simIds[cloud]!, ['wg', 'show', 'wg0', 'endpoints']).out;
      expect(endpoint).toContain(`${vms[cloud === 'aws' ? 'gcp' : 'aws']!.publicIp}:`);
    }
    process.stderr.write(`cloudsim realistic network: WireGuard handshake + ping ${handshakeMs.toFixed(0)} ms\n`);
  });

  it('leaves the host network as it found it once stopped', async () => {
    for (const cloud of CLOUDS) {
      await providers[cloud]!.terminateInstances([vms[cloud]!.id]);
      await providers[cloud]!.deleteNetwork(cluster).catch(() => undefined);
      delete vms[cloud];
    }
    const t0 = performance.now();
    await sim!.stop();
    process.stderr.write(`cloudsim realistic network: stop ${(performance.now() - t0).toFixed(0)} ms\n`);
    sim = undefined;
    // Known gap: under load a VM namespace can outlive stop() by a moment; wait for it with a bound, then compare.
    const settled = Date.now() + 15_000;
    while (JSON.stringify(hostNetwork()) !== JSON.stringify(before) && Date.now() < settled)
      await new Promise((r) => setTimeout(r, 200));
    expect(hostNetwork()).toEqual(before);
  }, 30_000);
});
