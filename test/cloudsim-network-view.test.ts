import { createProvider as createAws } from '../providers/aws/index.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import type { IngressRule, SimCloud, VmBacking, VmNetworkView } from '../src/cloudsim/core/types.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import type { Instance, Provider } from '../src/providers/types.js';
import { takeRealisticNetworkTurn } from './support/realistic-network-lock.js';

/**
 * What the realistic network enforces, read from the clouds' own state: skypool's adapters set up their
 * networks and firewall rules through the official SDKs against the sim, and each cloud's networkView() must turn
 * them into the addresses and ingress rules the edge filters apply. A stand-in backing (no root needed) records
 * the view the sim hands it.
 */
class RecordingBacking implements VmBacking {
  view: () => readonly VmNetworkView[] = () => [];
  readonly networks = new Map<string, string | undefined>();
  async start(vm: Parameters<VmBacking['start']>[0]) {
    this.networks.set(`${vm.cloud} ${vm.id}`, vm.network);
    return { privateIp: vm.privateIp ?? '' };
  }
  async stop() {}
  observe(view: () => readonly VmNetworkView[]) {
    this.view = view;
  }
}

const allows = (rules: readonly IngressRule[], protocol: string, port: number, source: string) =>
  rules.find(
    (r) =>
      r.protocol === protocol &&
      (r.ports === undefined || r.ports.some(([lo, hi]) => lo <= port && port <= hi)) &&
      r.sources.includes(source),
  )?.action === 'allow';

describe('cloudsim network view: adapters’ firewall rules become per-VM ingress rules', () => {
  let sim: CloudSim;
  const backing = new RecordingBacking();
  const launched: Partial<Record<SimCloud, Instance[]>> = {};
  const cluster = 'viewtest';
  let releaseTurn: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    releaseTurn = await takeRealisticNetworkTurn();
    sim = await startCloudSim({ backing: 'local', network: 'realistic', vmBacking: backing, bootTimeMs: 20 });
    const credential = {
      getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const providers: Record<SimCloud, Provider> = {
      aws: createAws({
        region: 'us-east-1',
        endpoint: sim.httpUrl,
        credentials: sim.credentials.aws,
        pollIntervalMs: 20,
      }),
      gcp: createGcp({
        project: 'view',
        region: 'us-central1',
        apiEndpoint: sim.host,
        port: sim.httpPort,
        protocol: 'http',
        accessToken: sim.credentials.gcp.accessToken,
        pollIntervalMs: 20,
      }),
      azure: createAzure({
        subscriptionId: '00000000-0000-4000-8000-0000000000ab',
        region: 'eastus',
        endpoint: sim.httpsUrl,
        caCertPem: sim.caCertPem,
        credential,
        pollIntervalMs: 10,
      }),
    };
    for (const cloud of ['aws', 'gcp', 'azure'] as const) {
      const provider = providers[cloud];
      const network = await provider.ensureNetwork(cluster);
      const started = await provider.runInstances({
        cluster,
        pool: { name: cloud, provider: cloud, count: 2, role: 'worker', size: { cpus: 2, memoryGiB: 4 } },
        tags: { cluster, pool: cloud, role: 'worker', specHash: 'view' },
        network,
        nodes: [{ name: `${cluster}-${cloud}-a` }, { name: `${cluster}-${cloud}-b` }],
        userData: '#!/bin/sh\n',
        idempotencyToken: `${cluster}-${cloud}`,
      });
      launched[cloud] = await provider.waitUntilRunning(
        started.map((i) => i.id),
        { deadline: Date.now() + 20_000 },
      );
    }
  }, 300_000);

  afterAll(async () => {
    try {
      await sim?.stop();
    } finally {
      await releaseTurn?.();
    }
  });

  const viewsOf = (cloud: SimCloud) => backing.view().filter((v) => v.cloud === cloud);

  it('reports each VM on its cloud network with a public address apart from its private one', () => {
    for (const cloud of ['aws', 'gcp', 'azure'] as const) {
      const views = viewsOf(cloud);
      expect(views).toHaveLength(2);
      expect(new Set(views.map((v) => v.network)).size).toBe(1);
      for (const view of views) {
        expect(view.publicIp).toMatch(/^198\.1[89]\./);
        expect(view.privateIp).not.toBe(view.publicIp);
      }
      // The API reports what the network routes.
      const reported = new Set(launched[cloud]!.map((i) => i.publicIp));
      expect(new Set(views.map((v) => v.publicIp))).toEqual(reported);
      // Backing VMs were started on the network the view names.
      expect([...backing.networks].filter(([k]) => k.startsWith(cloud)).map(([, n]) => n)).toEqual([
        views[0]!.network,
        views[0]!.network,
      ]);
    }
  });

  it('EC2: the self-referencing group admits the swarm ports from the group members only', () => {
    const [a, b] = viewsOf('aws');
    const rules = a!.ingress[0]!;
    expect(a!.ingress).toHaveLength(1);
    expect(allows(rules, 'tcp', 2377, `${b!.privateIp}/32`)).toBe(true);
    expect(allows(rules, 'udp', 4789, `${a!.privateIp}/32`)).toBe(true);
    expect(allows(rules, 'tcp', 2377, '0.0.0.0/0')).toBe(false);
    // The engine API is open to the operator only (the host, on loopback for a sim), never to the world.
    expect(allows(rules, 'tcp', 2376, '127.0.0.1/32')).toBe(true);
    expect(allows(rules, 'tcp', 2376, '0.0.0.0/0')).toBe(false);
  });

  it('GCE: sourceTags resolve to the tagged VMs, targetTags pick the VMs, and nothing else is open', () => {
    const [a, b] = viewsOf('gcp');
    const rules = a!.ingress[0]!;
    expect(allows(rules, 'tcp', 2377, `${b!.privateIp}/32`)).toBe(true);
    expect(allows(rules, 'udp', 4789, `${b!.privateIp}/32`)).toBe(true);
    expect(allows(rules, '50', 0, `${b!.privateIp}/32`) || allows(rules, 'esp', 0, `${b!.privateIp}/32`)).toBe(true);
    expect(allows(rules, 'tcp', 2377, '0.0.0.0/0')).toBe(false);
    expect(rules.some((r) => r.ports?.some(([lo]) => lo === 22))).toBe(false);
  });

  it('Azure: the NSG admits VirtualNetwork (the VNet’s space) and ends in the default deny at 65500', () => {
    const [a] = viewsOf('azure');
    expect(a!.ingress.length).toBeGreaterThanOrEqual(1);
    const rules = a!.ingress[0]!;
    const swarm = rules.find((r) => r.ports?.some(([lo]) => lo === 2377));
    expect(swarm?.action).toBe('allow');
    expect(swarm?.sources.length).toBeGreaterThan(0);
    expect(swarm?.sources.every((s) => s.startsWith('10.'))).toBe(true);
    expect(rules.at(-1)).toEqual({ action: 'deny', protocol: 'all', ports: undefined, sources: ['0.0.0.0/0'] });
  });
});
