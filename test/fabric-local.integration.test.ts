import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { createProvider } from '../providers/local/index.js';
import { packageRoot } from '../src/bootstrap/package-root.js';
import { createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import {
  type FabricMember,
  fabricIpOf,
  fabricMember,
  fabricPrefixFor,
  fabricPrefixOctets,
  JOIN_LABELS,
  JOIN_VOLUME,
  peersFor,
  peerVolumeName,
  pushJoin,
  syncPeerVolumes,
} from '../src/fabric/index.js';
import type { Instance } from '../src/providers/types.js';
import { pollUntil, within } from '../src/util/poll.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * Two namespace VMs boot the fabric partial after dockerd as the swarm templates do (identical user-data, keys
 * made on the node), the test pushes each one its peer volumes through the mTLS engine API, and the VMs ping
 * each other over wg0. Run under `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({
  files: ['/usr/sbin/dockerd', '/bin/busybox', '/usr/bin/wireguard-go', '/usr/bin/wg'],
});
const suite = describeIf(cannot);

const cluster = `fab${process.pid % 10000}${Math.random().toString(36).slice(2, 5)}`;
const nodes = [`${cluster}-a`, `${cluster}-b`];
const prefix = fabricPrefixFor(['100.64.0.0/16']);
const partial = (name: string) => readFileSync(join(packageRoot(), 'templates', name), 'utf8');
const q = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

suite('the WireGuard fabric between local VMs', () => {
  const provider = createProvider({ stopGraceMs: 1_000 });
  let work: string;
  let instances: Instance[] = [];
  const clients = new Map<string, Docker>();
  const fabricIps = new Map<string, string>();
  const keys = new Map<string, string>();

  const inVm = async (node: string, argv: string[]) =>
    provider.execInVm(cluster, node, argv, { allowFailure: true, timeoutMs: 5_000 });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-fabric-'));
    const network = await provider.ensureNetwork(cluster);
    const ips = pickAddresses(network, [], nodes.length);
    const ca = await createCertificateAuthority(`${cluster}-ca`);
    const server = await issueCertificate(ca, { commonName: cluster, usage: 'server', ipAddresses: ips });
    const client = await issueCertificate(ca, { commonName: 'sdk', usage: 'client' });
    // One script for both nodes, as a batched launch sends: the node learns its name and address at boot.
    const userData = [
      '#!/bin/sh',
      'set -u',
      'SKYPOOL_ROLE=worker',
      'NODE_NAME=$(hostname)',
      'NODE_IP=',
      'DEADLINE_SECONDS=60',
      `FABRIC_PREFIX=${q(fabricPrefixOctets(prefix))}`,
      `TLS_CA=${q(ca.certPem.trim())}`,
      `TLS_CERT=${q(server.certPem.trim())}`,
      `TLS_KEY=${q(server.keyPem.trim())}`,
      partial('common/lib.sh'),
      partial('common/tls.sh'),
      partial('common/fabric.sh'),
      partial('common/docker.sh'),
      'fabric_sync_start',
      partial('common/done.sh'),
    ].join('\n');
    instances = await provider.runInstances({
      cluster,
      pool: { name: 'p', provider: 'local', count: nodes.length, role: 'worker' },
      tags: { cluster, pool: 'p', role: 'worker', specHash: 'fabric0test0' },
      network,
      nodes: nodes.map((name, i) => ({ name, privateIp: ips[i]! })),
      userData,
      idempotencyToken: `fabric-${cluster}`,
    });
    const requireLazily = createRequire(import.meta.url);
    const Dockerode = requireLazily('dockerode') as typeof Docker;
    for (const instance of instances) {
      const result = await pollUntil(
        async () => {
          const r = await provider.readUserDataResult(cluster, instance.name);
          return r.done ? r : undefined;
        },
        { ...within(60_000), what: `the boot script of ${instance.name}`, intervalMs: 100 },
      );
      expect({ node: instance.name, exit: result.exitCode, log: result.exitCode === 0 ? '' : result.log }).toEqual({
        node: instance.name,
        exit: 0,
        log: '',
      });
      const pub = provider.hostPathOf(cluster, instance.name, '/etc/skypool/fabric/wg.pub');
      keys.set(instance.name, readFileSync(pub, 'utf8').trim());
      fabricIps.set(instance.name, fabricIpOf(prefix, instance.privateIp!));
      clients.set(
        instance.name,
        new Dockerode({
          host: instance.privateIp!,
          port: 2376,
          protocol: 'https',
          ca: ca.certPem,
          cert: client.certPem,
          key: client.keyPem,
          timeout: 10_000,
        }),
      );
    }
  }, 90_000);

  afterAll(async () => {
    if (process.env.FABRIC_TEST_SHOW_LOGS)
      for (const node of nodes)
        process.stderr.write(
          `${readFileSync(join(provider.stateRoot, cluster, node, 'user-data.log'), 'utf8')}${readFileSync(provider.hostPathOf(cluster, node, '/var/log/skypool/fabric.log'), 'utf8')}`,
        );
    await provider.cleanupCluster(cluster);
    await rm(work, { recursive: true, force: true });
  }, 60_000);

  const members = (): FabricMember[] =>
    instances.map((i) => fabricMember(i, { fabricIp: fabricIps.get(i.name)!, wireguardKey: keys.get(i.name)! }));

  it('each node made its own key (0600, never printed) and brought wg0 up on its fabric address', async () => {
    for (const node of nodes) {
      const keyFile = provider.hostPathOf(cluster, node, '/etc/skypool/fabric/wg.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const secret = readFileSync(keyFile, 'utf8').trim();
      expect(keys.get(node)).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const log = readFileSync(join(provider.stateRoot, cluster, node, 'user-data.log'), 'utf8');
      const fabricLog = readFileSync(provider.hostPathOf(cluster, node, '/var/log/skypool/fabric.log'), 'utf8');
      expect(`${log}${fabricLog}`).not.toContain(secret);
      const addr = await inVm(node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'wg0']);
      expect(addr.stdout).toContain(`inet ${fabricIps.get(node)}/10`);
      expect((await inVm(node, ['wg', 'show', 'wg0', 'listen-port'])).stdout.trim()).toBe('51820');
    }
    expect(new Set(keys.values()).size).toBe(2);
  });

  it('peer volumes pushed through the engine API make the nodes handshake and ping over wg0', async () => {
    const [a, b] = nodes as [string, string];
    const started = Date.now();
    const pushed = await Promise.all(
      instances.map((i) =>
        syncPeerVolumes(clients.get(i.name)!, peersFor(members().find((m) => m.node === i.name)!, members())),
      ),
    );
    expect(pushed.map((p) => p.created.length)).toEqual([1, 1]);
    const handshakeMs = await pollUntil(
      async () => {
        const r = await inVm(a, ['wg', 'show', 'wg0', 'latest-handshakes']);
        const at = Number(r.stdout.trim().split(/\s+/)[1] ?? 0);
        return at > 0 ? Date.now() - started : undefined;
      },
      { ...within(10_000), what: 'the first handshake over wg0', intervalMs: 25 },
    );
    process.stderr.write(`fabric: peer volumes pushed -> first handshake in ${handshakeMs} ms\n`);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const ping = await inVm(from, ['busybox', 'ping', '-c', '1', '-W', '2', fabricIps.get(to)!]);
      expect({ from, to, code: ping.code }).toEqual({ from, to, code: 0 });
    }
    const endpoints = await inVm(a, ['wg', 'show', 'wg0', 'endpoints']);
    expect(endpoints.stdout).toContain(`${instances[1]!.privateIp}:51820`);
    // Same peers again: nothing to do.
    const again = await syncPeerVolumes(clients.get(a)!, peersFor(members()[0]!, members()));
    expect(again).toMatchObject({ created: [], replaced: [], removed: [] });
    expect(again.unchanged).toHaveLength(1);
  }, 30_000);

  it('a new endpoint replaces the volume and moves the peer; a malformed volume is ignored', async () => {
    const [a] = nodes as [string, string];
    const docker = clients.get(a)!;
    // A peer that never answers, so wg0 cannot learn another endpoint from its packets.
    const silent = {
      node: 'silent',
      key: execFileSync('wg', ['pubkey'], { input: execFileSync('wg', ['genkey']) })
        .toString()
        .trim(),
      ip: '100.65.9.9',
    };
    const wanted = [...peersFor(members()[0]!, members()), { ...silent, endpoint: '10.213.9.9:51820' }];
    expect((await syncPeerVolumes(docker, wanted)).created).toHaveLength(1);
    await docker.createVolume({
      Name: 'skypool-fabric-peer-bad',
      Labels: { 'skypool.fabric.key': 'x;reboot', 'skypool.fabric.ip': '1.2.3.4' },
    });
    const endpointOf = async (key: string) =>
      (await inVm(a, ['wg', 'show', 'wg0', 'endpoints'])).stdout
        .split('\n')
        .find((l) => l.startsWith(key))
        ?.split(/\s+/)[1];
    await pollUntil(async () => ((await endpointOf(silent.key)) === '10.213.9.9:51820' ? true : undefined), {
      ...within(5_000),
      what: 'the silent peer on wg0',
      intervalMs: 25,
    });
    const moved = await syncPeerVolumes(docker, [wanted[0]!, { ...silent, endpoint: '10.213.9.8:51820' }]);
    // The malformed volume carries the peer label, so the sync removes it as a peer nobody wants.
    expect(moved).toMatchObject({ created: [], replaced: [expect.any(String)], removed: ['skypool-fabric-peer-bad'] });
    await pollUntil(async () => ((await endpointOf(silent.key)) === '10.213.9.8:51820' ? true : undefined), {
      ...within(5_000),
      what: 'the silent peer at its new endpoint',
      intervalMs: 25,
    });
    expect((await inVm(a, ['wg', 'show', 'wg0', 'peers'])).stdout.trim().split('\n')).toHaveLength(2);
  }, 20_000);

  it('removing a peer volume removes that peer from wg0, and only it', async () => {
    const [a, b] = nodes as [string, string];
    const docker = clients.get(a)!;
    const listed = await docker.listVolumes({ filters: { label: ['skypool.fabric.node=silent'] } });
    const silentKey = listed.Volumes[0]!.Labels['skypool.fabric.key']!;
    const started = Date.now();
    await docker.getVolume(peerVolumeName(keys.get(b)!)).remove();
    const peersOf = async () => (await inVm(a, ['wg', 'show', 'wg0', 'peers'])).stdout.trim().split('\n');
    await pollUntil(async () => ((await peersOf()).includes(keys.get(b)!) ? undefined : true), {
      ...within(5_000),
      what: 'the peer to leave wg0',
      intervalMs: 25,
    });
    process.stderr.write(`fabric: peer volume removed -> peer gone in ${Date.now() - started} ms\n`);
    expect(await peersOf()).toEqual([silentKey]);
    expect((await syncPeerVolumes(docker, [])).removed).toHaveLength(1);
    await pollUntil(async () => ((await peersOf()).join('') === '' ? true : undefined), {
      ...within(5_000),
      what: 'wg0 without peers',
      intervalMs: 25,
    });
  }, 15_000);

  it('a hundred peers arrive in one pass and leave in one', async () => {
    const [a, b] = nodes as [string, string];
    const docker = clients.get(a)!;
    const real = peersFor(members()[0]!, members());
    const many = Array.from({ length: 100 }, (_, n) => ({
      node: `many-${n}`,
      key: randomBytes(32).toString('base64'),
      ip: `100.70.${Math.floor(n / 250)}.${(n % 250) + 2}`,
      endpoint: `10.213.250.${(n % 250) + 2}:51820`,
    }));
    const count = async () => (await inVm(a, ['wg', 'show', 'wg0', 'peers'])).stdout.trim().split('\n').length;
    let started = Date.now();
    await syncPeerVolumes(docker, [...real, ...many]);
    const pushedMs = Date.now() - started;
    await pollUntil(async () => ((await count()) === 101 ? true : undefined), {
      ...within(10_000),
      what: '101 peers on wg0',
      intervalMs: 25,
    });
    process.stderr.write(
      `fabric: 100 peer volumes pushed in ${pushedMs} ms, on wg0 after ${Date.now() - started} ms\n`,
    );
    started = Date.now();
    await syncPeerVolumes(docker, real);
    await pollUntil(async () => ((await count()) === 1 ? true : undefined), {
      ...within(10_000),
      what: 'the 100 peers to leave wg0',
      intervalMs: 25,
    });
    process.stderr.write(`fabric: 100 peers removed in ${Date.now() - started} ms\n`);
    const ping = await inVm(a, ['busybox', 'ping', '-c', '1', '-W', '2', fabricIps.get(b)!]);
    expect(ping.code).toBe(0);
  }, 30_000);

  it('pushJoin hands the node its join token and managers in one volume, replaced when it changes', async () => {
    const docker = clients.get(nodes[1]!)!;
    const joinLabels = async () =>
      (await docker.listVolumes({ filters: { name: [JOIN_VOLUME] } })).Volumes.filter(
        (v) => v.Name === JOIN_VOLUME,
      ).map((v) => v.Labels);
    await pushJoin(docker, { token: 'SWMTKN-1-test-one', addrs: ['100.65.0.4', '100.66.0.4'] });
    await pushJoin(docker, { token: 'SWMTKN-1-test-one', addrs: ['100.65.0.4', '100.66.0.4'] });
    expect(await joinLabels()).toEqual([
      { [JOIN_LABELS.token]: 'SWMTKN-1-test-one', [JOIN_LABELS.addrs]: '100.65.0.4 100.66.0.4' },
    ]);
    await pushJoin(docker, { token: 'SWMTKN-1-test-two', addrs: ['100.65.0.4'] });
    expect(await joinLabels()).toEqual([
      { [JOIN_LABELS.token]: 'SWMTKN-1-test-two', [JOIN_LABELS.addrs]: '100.65.0.4' },
    ]);
  });
});
