import { execFileSync } from 'node:child_process';
import { createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { USER_DATA_MAX_BYTES } from '../src/bootstrap/user-data.js';
import { createEngine } from '../src/engines/k3s/index.js';
import { PrerequisiteError } from '../src/errors.js';
import { Cluster } from '../src/index.js';

/**
 * k3s cannot be downloaded on this machine, so what is tested is what this release has: the boot scripts of
 * both roles, rendered for every cloud, and the refusal to apply. Nothing here has run k3s.
 */
const token = Buffer.alloc(32, 9).toString('hex');
const engine = createEngine({
  tls: { caPem: 'CA', client: { certPem: 'C', keyPem: 'K' } },
  providers: ['aws'],
  clusterSecret: (_l, bytes) => Buffer.alloc(bytes, 9),
});

describe('k3s user-data', () => {
  let caPem: string;
  let server: { certPem: string; keyPem: string };

  beforeAll(async () => {
    const ca = await createCertificateAuthority('k3s-test');
    caPem = ca.certPem;
    server = await issueCertificate(ca, {
      commonName: 'k-m-1',
      usage: 'server',
      dnsNames: ['k-m-1'],
      ipAddresses: ['10.0.0.2'],
    });
  });

  for (const provider of ['aws', 'azure', 'gcp'] as const) {
    it(`renders server and agent scripts for ${provider}: sh -n, bash -n, under 16 KB, labels per provider`, () => {
      const labels = { provider, pool: 'workers', tier: 'web' };
      const scripts = [
        engine.renderUserData({
          role: 'manager',
          first: true,
          nodeName: 'k-m-1',
          nodeIp: '10.0.0.2',
          server,
          caPem,
          labels,
        }),
        engine.renderUserData({
          role: 'worker',
          first: false,
          nodeName: 'k-w-1',
          nodeIp: '10.0.0.3',
          server,
          caPem,
          managers: ['10.0.0.2'],
          labels,
        }),
      ];
      for (const script of scripts) {
        expect(Buffer.byteLength(script)).toBeLessThan(USER_DATA_MAX_BYTES);
        execFileSync('sh', ['-n'], { input: script });
        execFileSync('bash', ['-n'], { input: script });
        expect(script).toContain(`skypool.io/provider=${provider}`);
        // The token appears once (its assignment), lands 0600 and is unset; so is the TLS key.
        expect(script.split(token)).toHaveLength(2);
        expect(script).toContain('chmod 0600 "$K3S_DIR/token"');
        expect(script).toContain('unset K3S_JOIN_TOKEN');
        expect(script).toContain('unset TLS_KEY');
      }
      expect(scripts[0]).toContain('K3S_ROLE=server');
      expect(scripts[0]).toContain('client-ca-file=$CLIENT_BUNDLE');
      expect(scripts[1]).toContain('--server https://$SERVER_ADDR:6443');
    });
  }

  it('refuses a bad label and an agent without a server', () => {
    const base = { first: false, nodeIp: '10.0.0.3', server: { certPem: 'C', keyPem: 'K' }, caPem: 'CA' };
    expect(() =>
      engine.renderUserData({
        ...base,
        role: 'worker',
        nodeName: 'k-w-1',
        managers: ['10.0.0.2'],
        labels: { 'a b': 'x' },
      }),
    ).toThrow(/not a valid Kubernetes label/);
    expect(() => engine.renderUserData({ ...base, role: 'worker', nodeName: 'k-w-1' })).toThrow(/server's address/);
  });
});

describe('k3s apply', () => {
  it('is refused on the local provider with a PREREQUISITE error, before any state exists', async () => {
    const cluster = Cluster.fromSpec(
      { name: 'k3s-local', engine: 'k3s', pools: [{ name: 'm', provider: 'local', role: 'manager', count: 1 }] },
      { stateDir: '/nonexistent/skypool-k3s-test' },
    );
    try {
      const error = await cluster.apply().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as Error).message).toMatch(/engine k3s cannot run on the local provider/);
    } finally {
      await cluster.close();
    }
  });
});
