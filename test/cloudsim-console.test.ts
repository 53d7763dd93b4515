import { randomBytes } from 'node:crypto';
import { createProvider as createAws } from '../providers/aws/index.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import { parseIdentity } from '../src/bootstrap/node-identity.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { bootLogTail } from '../src/cluster/boot-log.js';
import type { Instance, NetworkRef, Provider } from '../src/providers/types.js';
import type { ClusterSpec, NodePoolSpec } from '../src/spec/schema.js';
import { flatSimRanges } from './support/flat-ranges.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * readConsole through each cloud adapter against cloudsim with the `local` backing: the VM's user-data makes a
 * self-signed cert for its own hostname and prints the identity line, which comes back over the cloud's console
 * API (EC2 GetConsoleOutput, GCE getSerialPortOutput, ARM boot diagnostics + SAS blob) and parses.
 */
const cannot = requireRoot({ files: ['/usr/bin/openssl', '/usr/bin/base64'] });
const suite = describeIf(cannot);

const RANGES = flatSimRanges('console');
const GCE_SUBNET = RANGES.gceSubnet;
const AZURE_SPACE = RANGES.azureSpace;
const cluster = RANGES.clusterName('cn');
const WG_KEY = randomBytes(32).toString('base64');

const USER_DATA = `#!/bin/sh
set -e
echo "console test: booting"
n=$(hostname)
d=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/key" -out "$d/cert" \\
  -subj "/CN=$n" -addext "subjectAltName=DNS:$n" -days 1 2>/dev/null
echo "SKYPOOL-IDENTITY v1 name=$n fabric=100.64.0.9 wg=${WG_KEY} cert=$(openssl x509 -in "$d/cert" -outform DER | base64 -w0)"
exec sleep 3600
`;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((error: unknown) => {
      last = error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

suite('readConsole and guest hostnames on cloudsim (local backing): the identity line over each cloud console API', () => {
  let sim: CloudSim;
  const providers: Record<string, Provider> = {};
  const launched: Record<string, Instance[]> = {};

  beforeAll(async () => {
    sim = await startCloudSim({ backing: 'local', bootTimeMs: 50 });
    const s = sim;
    providers.aws = createAws({
      region: 'us-east-1',
      endpoint: s.httpUrl,
      credentials: s.credentials.aws,
      pollIntervalMs: 50,
      deleteTimeoutMs: 20_000,
    });
    providers.gcp = createGcp({
      project: 'skypool-sim',
      region: 'us-central1',
      apiEndpoint: s.host,
      port: s.httpPort,
      protocol: 'http',
      accessToken: s.credentials.gcp.accessToken,
      pollIntervalMs: 50,
      subnetCidr: GCE_SUBNET,
    });
    providers.azure = createAzure({
      subscriptionId: '00000000-0000-4000-8000-0000000000cc',
      region: 'eastus',
      endpoint: s.httpsUrl,
      caCertPem: s.caCertPem,
      credential: {
        getToken: async () => ({ token: s.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      pollIntervalMs: 50,
      addressSpace: AZURE_SPACE,
    });
  }, 30_000);

  afterAll(async () => {
    try {
      for (const [name, provider] of Object.entries(providers)) {
        const left = await provider.listInstances(cluster).catch(() => []);
        await provider.terminateInstances(left.map((i) => i.id)).catch(() => undefined);
        await provider.deleteNetwork(cluster).catch((e: Error) => console.warn(`${name} deleteNetwork: ${e.message}`));
        await provider.close?.();
      }
    } finally {
      await sim?.stop();
    }
  }, 90_000);

  for (const cloud of ['aws', 'gcp', 'azure'] as const) {
    it(`${cloud}: the line the VM printed comes back through readConsole and parses`, async () => {
      const provider = providers[cloud]!;
      const region = { aws: 'us-east-1', gcp: 'us-central1', azure: 'eastus' }[cloud];
      const pool: NodePoolSpec = { name: 'con', provider: cloud, region, role: 'worker', count: 1 };
      const network: NetworkRef = await provider.ensureNetwork(cluster);
      const name = `${cluster}-con-${cloud}`;
      const out = await provider.runInstances({
        cluster,
        pool,
        tags: { cluster, pool: 'con', role: 'worker', specHash: 'console1' },
        network,
        nodes: [{ name }],
        userData: USER_DATA,
        idempotencyToken: `console-${cloud}-${cluster}`,
      });
      const [instance] = await provider.waitUntilRunning(
        out.map((i) => i.id),
        { deadline: Date.now() + 30_000 },
      );
      launched[cloud] = [instance!];
      // The hostname the cloud gives the guest: EC2 the instance id (HostnameType=resource-name), from which the
      // adapter derives the node name; GCE the instance name (the planned name); Azure the computerName its scale set
      // gave the VM (prefix + 6 characters), which is the node name.
      const hostname = cloud === 'aws' ? instance!.id : cloud === 'azure' ? instance!.name : name;
      if (cloud === 'aws') expect(instance!.name).toBe(`${cluster}-con-${instance!.id.slice(2)}`);
      else if (cloud === 'azure')
        expect(instance!.name).toMatch(new RegExp(`^${cluster}-con-v[0-9a-f]{4}[a-z0-9]{6}$`));
      else expect(instance!.name).toBe(name);
      const identity = await until(`${cloud} console identity`, 30_000, async () =>
        parseIdentity(await provider.readConsole!(instance!), hostname),
      );
      expect(identity.name).toBe(hostname);
      expect(identity.wireguardKey).toBe(WG_KEY);
      expect(identity.fabricIp).toBe('100.64.0.9');
      const text = await provider.readConsole!(instance!);
      expect(text).toContain('console test: booting');
      // What an error about a node that never joined carries (no user-data log to read on a cloud: its console).
      const tail = await bootLogTail(
        { spec: { name: cluster } as ClusterSpec, provider: async () => provider },
        instance!,
      );
      expect(tail).toMatch(/^last lines of its console:\n/);
      expect(tail).toContain('console test: booting');
    }, 90_000);
  }
});
