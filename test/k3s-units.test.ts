import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { renderTemplate, USER_DATA_MAX_BYTES } from '../src/bootstrap/user-data.js';
import { createEngine } from '../src/engines/k3s/index.js';
import { parseServerCa, secureToken } from '../src/engines/k3s/server-ca.js';
import { PrerequisiteError } from '../src/errors.js';
import { Cluster } from '../src/index.js';
import { describeIf, missing } from './support/requirements.js';

/**
 * k3s cannot be downloaded on this machine, so what is tested is what this release has: the boot scripts of
 * both roles, rendered for every cloud and checked (sh -n, bash -n, shellcheck, EC2's 16 KB, no join token), the
 * token's delivery through the join volume run against a stub engine API, the server CA line and the secure
 * token form, and the refusal to apply. Nothing here has run k3s.
 */
const secret = Buffer.alloc(32, 9).toString('hex');
const engine = createEngine({
  tls: { caPem: 'CA', client: { certPem: 'C', keyPem: 'K' } },
  providers: ['aws'],
  clusterSecret: (_l, bytes) => Buffer.alloc(bytes, 9),
});
const PROVIDERS = ['aws', 'azure', 'gcp'] as const;
const FABRIC = { aws: '100.64.0.0/16', azure: '100.65.0.0/16', gcp: '100.66.0.0/16' } as const;

let caPem: string;
let server: { certPem: string; keyPem: string };
const scripts = new Map<string, string>();

beforeAll(async () => {
  const ca = await createCertificateAuthority('k3s-test');
  caPem = ca.certPem;
  server = await issueCertificate(ca, { commonName: 'k-m-1', usage: 'server', dnsNames: ['k-m-1'] });
  for (const provider of PROVIDERS) {
    const labels = { provider, pool: provider === 'aws' ? 'm' : 'workers', tier: 'web' };
    const common = { server, caPem, labels, fabricPrefix: FABRIC[provider] };
    scripts.set(
      `${provider} server`,
      engine.renderUserData({ ...common, role: 'manager', first: true, nodeName: 'k-m-1', nodeIp: '10.0.0.2' }),
    );
    scripts.set(
      `${provider} agent`,
      engine.renderUserData({ ...common, role: 'worker', first: false, nodeName: 'k-w-1', nodeIp: '10.1.3.7' }),
    );
  }
});

describe('k3s user-data', () => {
  for (const provider of PROVIDERS) {
    it(`${provider}: server and agent parse (sh -n, bash -n), fit EC2's 16 KB, carry no join token, label per provider, run on the fabric`, () => {
      for (const role of ['server', 'agent']) {
        const script = scripts.get(`${provider} ${role}`)!;
        expect(Buffer.byteLength(script)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
        execFileSync('sh', ['-n'], { input: script });
        execFileSync('bash', ['-n'], { input: script });
        expect(script).toContain(`--node-label $label`);
        expect(script).toContain(`'skypool.io/provider=${provider} skypool.io/pool=`);
        expect(script).toContain(`FABRIC_PREFIX='${FABRIC[provider]}'`);
        expect(script).toContain('--node-ip $FABRIC_IP --flannel-iface wg0 --token-file $K3S_DIR/token');
        // The join token is not in user-data in any form: it comes through the join volume after launch.
        expect(script).not.toContain(secret);
        expect(script).not.toMatch(/K10[0-9a-f]{64}::/);
        expect(script).toContain('join_label token >"$K3S_DIR/token.new"');
        expect(script).toContain('$DOCKER volume rm skypool-join');
        // Left until the per-pool templates: the node's TLS key still travels in user-data (unset after use).
        expect(script.match(/PRIVATE KEY-----/g)).toHaveLength(2);
        expect(script).toContain('unset TLS_KEY');
        expect(script).toMatch(/^#!\/bin\/sh\n# skypool user-data: k3s/);
      }
      const serverScript = scripts.get(`${provider} server`)!;
      expect(serverScript).toContain('K3S_ROLE=server');
      expect(serverScript).toContain('--advertise-address $FABRIC_IP --tls-san $FABRIC_IP --tls-san $NODE_NAME');
      expect(serverScript).toContain('--kube-apiserver-arg=client-ca-file=$CLIENT_BUNDLE');
      expect(serverScript).toContain('--kube-apiserver-arg=anonymous-auth=false');
      expect(serverScript).toContain('SKYPOOL-K3S-CA v1 name=$NODE_NAME');
      const agent = scripts.get(`${provider} agent`)!;
      expect(agent).toContain('K3S_ROLE=agent');
      expect(agent).toContain('--server https://$SERVER_ADDR:6443');
      expect(agent).not.toContain('SKYPOOL-K3S-CA');
    });
  }

  describeIf(missing({ commands: ['shellcheck'] }))('shellcheck (Debian)', () => {
    it('finds nothing at warning level in any rendered script, and no note in the k3s partials', () => {
      const dir = mkdtempSync(join(tmpdir(), 'skypool-k3s-sc-'));
      try {
        const files = [...scripts].map(([name, script]) => {
          const file = join(dir, `${name.replace(' ', '-')}.sh`);
          writeFileSync(file, script);
          return file;
        });
        execFileSync('shellcheck', ['-s', 'sh', '-S', 'warning', ...files]);
        // Notes (SC2015 `a && b || fail`) remain in the shared partials only; the k3s ones have none.
        const notes = (() => {
          try {
            return execFileSync('shellcheck', ['-s', 'sh', '-f', 'gcc', files[0]!]).toString();
          } catch (e) {
            return String((e as { stdout?: Buffer }).stdout ?? '');
          }
        })();
        const script = scripts.get('aws server')!.split('\n');
        for (const line of notes.split('\n').filter(Boolean)) {
          const at = Number(line.split(':')[1]);
          expect(script[at - 1]).not.toMatch(/K3S|k3s/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('refuses a bad label, a missing fabric prefix, a second server and a key in caPem', () => {
    const base = { first: false, nodeIp: '10.0.0.3', server, caPem, fabricPrefix: '100.64.0.0/16' };
    const worker = { ...base, role: 'worker' as const, nodeName: 'k-w-1' };
    expect(() => engine.renderUserData({ ...worker, labels: { 'a b': 'x' } })).toThrow(/not a valid Kubernetes label/);
    expect(() => engine.renderUserData({ ...worker, fabricPrefix: '10.0.0.0/16' })).toThrow(/fabric prefix/);
    expect(() => engine.renderUserData({ ...worker, role: 'manager' })).toThrow(/one k3s server/);
    expect(() => engine.renderUserData({ ...worker, caPem: `${caPem}${server.keyPem}` })).toThrow(/nothing secret/);
  });
});

describe('k3s token delivery (join volume)', () => {
  it('writes the token from the volume label straight into a 0600 file; no shell variable ever holds it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skypool-k3s-join-'));
    try {
      const token = secureToken(caPem, secret);
      const docker = join(dir, 'docker');
      // A stub engine API: the volume appears on the third look, as when the SDK pushes it after launch.
      writeFileSync(
        docker,
        `#!/bin/sh\necho "$*" >>"${dir}/calls"\nn=$(wc -l <"${dir}/calls")\n[ "$n" -ge 3 ] || exit 1\ncase "$*" in *token*) echo '${token}' ;; *addrs*) echo '100.64.0.2' ;; esac\n`,
        { mode: 0o755 },
      );
      const partial = renderTemplate('k3s/join-volume.sh', {});
      const prelude = `set -u\nlog() { :; }\nfail() { echo "FAIL $*"; exit 1; }\nremaining() { echo 5; }\nDEADLINE_SECONDS=5\nK3S_DIR=${dir}/k3s\nmkdir -m 0700 "$K3S_DIR"\nDOCKER=${docker}\n`;
      const vars = execFileSync('sh', ['-c', `${prelude}${partial}\nset`]).toString();
      expect(vars).not.toContain(secret);
      expect(readFileSync(join(dir, 'k3s/token'), 'utf8')).toBe(`${token}\n`);
      expect(statSync(join(dir, 'k3s/token')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'k3s/server-addrs'), 'utf8')).toBe('100.64.0.2\n');
      expect(readFileSync(join(dir, 'calls'), 'utf8')).toMatch(/^volume inspect skypool-join --format/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands the server the bare secret and agents the secure form pinned to the server CA it printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skypool-k3s-ca-'));
    try {
      // The CA exactly as templates/k3s/server-ca.sh makes it, and the console line it prints.
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
          ...['-subj', '/CN=k3s-server-ca@k-m-1', '-addext', 'basicConstraints=critical,CA:TRUE'],
          ...['-keyout', join(dir, 'server-ca.key'), '-out', join(dir, 'server-ca.crt')],
        ],
        { stdio: 'ignore' },
      );
      const der = execFileSync('openssl', ['x509', '-in', join(dir, 'server-ca.crt'), '-outform', 'DER']);
      const console = `[   12.3] cloud-init: boot\nSKYPOOL-K3S-CA v1 name=k-m-1 cert=${der.toString('base64')}\nskypool: done\n`;
      const pinned = parseServerCa(console, 'k-m-1');
      expect(pinned).toBe(readFileSync(join(dir, 'server-ca.crt'), 'utf8'));
      expect(parseServerCa(console, 'k-m-2')).toBeUndefined();
      // A leaf (not a CA) on the line is not pinned.
      expect(
        parseServerCa(
          console.replace(
            der.toString('base64'),
            Buffer.from(new (await import('node:crypto')).X509Certificate(server.certPem).raw).toString('base64'),
          ),
          'k-m-1',
        ),
      ).toBeUndefined();
      const fileHash = execFileSync('sha256sum', [join(dir, 'server-ca.crt')])
        .toString()
        .split(' ')[0];
      const tokens = await engine.joinTokens({ name: 'k-m-1', host: '10.0.0.2', apiCaPem: pinned });
      expect(tokens.manager).toBe(secret);
      expect(tokens.worker).toBe(`K10${fileHash}::server:${secret}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
