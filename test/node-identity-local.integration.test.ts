import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createProvider } from '../providers/local/index.js';
import { formatIdentity } from '../src/bootstrap/node-identity.js';
import { createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { ClusterContext } from '../src/cluster/context.js';
import { awaitIdentity, pinPath } from '../src/cluster/identity.js';
import type { Instance } from '../src/providers/types.js';
import { parseSpec } from '../src/spec/load.js';
import { describeIf, requireRoot } from './support/requirements.js';

/**
 * The SDK reads a new node's identity from its console (the local VM's boot log) with a deadline: pinned once
 * printed, and a boot script that fails first ends the wait at once with an error naming the node. Run under
 * `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({ files: ['/bin/busybox'] });
const suite = describeIf(cannot);

const cluster = `nid${process.pid % 10000}${Math.random().toString(36).slice(2, 5)}`;
const spec = parseSpec({
  name: cluster,
  engine: 'swarm',
  pools: [
    { name: 'm', provider: 'local', role: 'manager', count: 1 },
    { name: 'w', provider: 'local', role: 'worker', count: 2 },
  ],
});

suite('node identity from the console (local provider)', () => {
  const provider = createProvider({ stopGraceMs: 1_000 });
  let work: string;
  let ctx: ClusterContext;

  const launch = async (name: string, userData: string): Promise<Instance> => {
    const [instance] = await provider.runInstances({
      cluster,
      pool: spec.pools[1]!,
      tags: { cluster, pool: 'w', role: 'worker', specHash: 'h' },
      network: await provider.ensureNetwork(cluster),
      nodes: [{ name }],
      userData,
      idempotencyToken: `${cluster}-${name}`,
    });
    return instance!;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-nid-'));
    ctx = new ClusterContext(spec, { stateDir: work, readyTimeoutMs: 20_000 }, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await ctx?.close();
    await provider.cleanupCluster(cluster);
    await rm(work, { recursive: true, force: true });
  });

  it('pins the certificate the node printed, under its instance id (0644)', async () => {
    const name = `${cluster}-w-1`;
    const ca = await createCertificateAuthority('nid');
    const cert = await issueCertificate(ca, { commonName: name, usage: 'server', dnsNames: [name] });
    const line = formatIdentity({
      name,
      fabricIp: '100.64.0.9',
      wireguardKey: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      certPem: cert.certPem,
    });
    const instance = await launch(name, `#!/bin/sh\necho booting\nsleep 0.3\necho '${line}'\nsleep 30\n`);
    const identity = await awaitIdentity(ctx, instance);
    expect(identity).toMatchObject({ name, fabricIp: '100.64.0.9' });
    const pin = pinPath(work, cluster, instance.id);
    expect(await readFile(pin, 'utf8')).toBe(identity.certPem);
    expect(statSync(pin).mode & 0o777).toBe(0o644);
    expect(ctx.endpoint(instance).serverCertPem).toBe(identity.certPem);
  });

  it('fails fast, naming the node, when the boot script fails before printing its identity', async () => {
    const name = `${cluster}-w-2`;
    const instance = await launch(name, '#!/bin/sh\necho "skypool: cannot make keys"\nexit 3\n');
    const started = Date.now();
    await expect(awaitIdentity(ctx, instance)).rejects.toThrow(
      new RegExp(`boot script of ${name} failed before it printed its identity[\\s\\S]*cannot make keys`),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
