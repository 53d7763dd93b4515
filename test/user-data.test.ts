import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIdentity } from '../src/bootstrap/node-identity.js';
import { type CertificateBundle, createCertificateAuthority } from '../src/bootstrap/pki.js';
import {
  renderTemplate,
  renderUserData,
  shellQuote,
  USER_DATA_MAX_BYTES,
  type UserDataInput,
  unpackScript,
  withinLimit,
} from '../src/bootstrap/user-data.js';

const sh = (script: string): string => execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });

describe('shell quoting', () => {
  const nasty = [
    "it's",
    '$(touch /tmp/pwned)',
    '`id`',
    'a"b',
    'line1\nline2',
    "''",
    '\\n',
    ' spaced  out ',
    '',
    '{{node_ip}}',
  ];
  it.each(nasty)('round-trips %j through sh unchanged', (value) => {
    const script = renderTemplate('t', { v: value }, () => 'X={{v}}\nprintf %s "$X"');
    expect(sh(script)).toBe(value);
  });

  it('quotes with single quotes only', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe('renderTemplate', () => {
  it('fails on an unknown placeholder instead of rendering an empty string', () => {
    expect(() => renderTemplate('t', { a: '1' }, () => 'A={{a}} B={{ b }}')).toThrow(/unknown placeholder\(s\): b/);
  });

  it('leaves Go templates of the docker CLI alone and expands partials', () => {
    const files: Record<string, string> = {
      main: '#!/bin/sh\n{{> part.sh}}\necho {{x}}\n',
      'part.sh': "docker info --format '{{.Swarm.LocalNodeState}}'\n",
    };
    expect(renderTemplate('main', { x: 'y' }, (n) => files[n]!)).toBe(
      "#!/bin/sh\ndocker info --format '{{.Swarm.LocalNodeState}}'\necho 'y'\n",
    );
  });
});

describe('renderUserData (swarm)', () => {
  let ca: CertificateBundle;
  beforeAll(async () => {
    ca = await createCertificateAuthority('test-ca');
  });
  const base = (): UserDataInput => ({
    engine: 'swarm',
    role: 'worker',
    cluster: 'demo',
    pool: 'workers',
    caPem: ca.certPem,
    fabricPrefix: '100.65.0.0/16',
  });

  it.each(['manager-init', 'manager-join', 'worker'] as const)(
    'renders %s as a POSIX sh script under the 16 KB limit, with nothing secret in it',
    (role) => {
      const script = renderUserData({ ...base(), role });
      expect(script.startsWith('#!/bin/sh\n')).toBe(true);
      expect(Buffer.byteLength(script)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
      execFileSync('/bin/sh', ['-n', '-c', script]); // syntax check by dash, the /bin/sh of Debian and Ubuntu
      expect(script).not.toMatch(/\{\{\s*[A-Za-z_]\w*\s*\}\}|\{\{>/);
      expect(script).toContain('-H tcp://0.0.0.0:2376');
      expect(script).toContain('--cgroup-parent skypool-$(hostname)');
      expect(script).toContain('DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1');
      expect(script).toContain('bootstrap.done');
      expect(script).toContain('SKYPOOL-IDENTITY v1');
      expect(script).toContain('--data-path-addr "$SWARM_ADDR"');
      expect(script).not.toMatch(/PRIVATE KEY|SWMTKN/);
      expect(script.split('\nprint_identity\n')).toHaveLength(3); // early, and again at the end
      if (role !== 'manager-init') expect(script).toContain('skypool-join');
    },
  );

  it('is the same for every node of a pool: only public values, which evaluate back to the input', () => {
    const script = renderUserData(base());
    const assignments = script.slice(0, script.indexOf('# --- common/node-name.sh'));
    const out = sh(
      `${assignments}\nprintf '%s|%s|%s|' "$SKYPOOL_CLUSTER" "$SKYPOOL_POOL" "$FABRIC_PREFIX"; printf '%s' "$TLS_CA"`,
    );
    expect(out).toBe(`demo|workers|100.65.0.0/16|${ca.certPem.trim()}`);
  });

  it.each([
    ['i-0abc12ef', 'demo-workers-0abc12ef'],
    ['demo-workers-7', 'demo-workers-7'],
    ['ip-10-0-1-5.ec2.internal', 'ip-10-0-1-5'],
  ])(
    'a node whose hostname is %s is named %s, makes its own key and prints an identity the SDK parses',
    (host, name) => {
      const work = mkdtempSync(join(tmpdir(), 'skypool-ud-'));
      try {
        const script = renderUserData(base());
        const part = (marker: string) => {
          const from = script.indexOf(`# --- ${marker}`);
          return script.slice(from, script.indexOf('\n# --- ', from + 1));
        };
        const run = [
          script.slice(0, script.indexOf('# --- common/node-name.sh')),
          `hostname() { echo ${host}; }`,
          part('common/node-name.sh'),
          `LOG_DIR=${work}; log() { :; }; fail() { echo "FAIL $*" >&2; exit 1; }`,
          part('common/node-keys.sh').replace('TLS_DIR=/etc/skypool/tls', `TLS_DIR=${work}/tls`),
          'FABRIC_IP=100.65.1.5 WG_PUBLIC_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
          part('common/identity-line.sh'),
          'print_identity',
        ].join('\n');
        const identity = parseIdentity(sh(run), name);
        expect(identity).toMatchObject({ name, fabricIp: '100.65.1.5' });
        expect(new X509Certificate(identity!.certPem).checkHost(name)).toBe(name);
        expect(statSync(join(work, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );

  it.each(['manager', 'worker'] as const)(
    'keeps the AWS pool script (%s) that reuses the shared partials valid sh',
    (role) => {
      const script = renderUserData({
        engine: 'swarm',
        role,
        cluster: 'demo',
        pool: 'p',
        source: { kind: 'aws-secrets-manager', joinSecretId: 'demo/join', tlsSecretId: 'demo/tls' },
      });
      execFileSync('/bin/sh', ['-n', '-c', script]);
      expect(Buffer.byteLength(script)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
    },
  );

  it('is a pure function of its input', () => {
    expect(renderUserData(base())).toBe(renderUserData(base()));
  });

  it('rejects bad names, a prefix outside the fabric range and anything secret as the CA', () => {
    expect(() => renderUserData({ ...base(), pool: 'Bad_Name' })).toThrow(/not a valid hostname/);
    expect(() => renderUserData({ ...base(), fabricPrefix: '10.0.0.0/16' })).toThrow(/fabric prefix/);
    expect(() => renderUserData({ ...base(), caPem: `${ca.certPem}${ca.keyPem}` })).toThrow(/nothing secret/);
  });

  it('refuses a script over the user-data limit even packed', () => {
    const huge = `-----BEGIN CERTIFICATE-----\n${randomBytes(USER_DATA_MAX_BYTES).toString('base64')}`;
    expect(() => renderUserData({ ...base(), caPem: huge })).toThrow(/over the 16384-byte user-data limit/);
  });

  it('packs a script over the limit into a plain shell script that unpacks and runs it, with the same bytes each time', () => {
    const lines = Array.from({ length: 800 }, (_, i) => `echo "line ${i} of a long boot script: $(( ${i} * 2 ))"`);
    const script = `#!/bin/sh\nset -eu\n${lines.join('\n')}\nread -r x || true\necho "stdin: \${x:-none}"\n`;
    expect(Buffer.byteLength(script)).toBeGreaterThan(USER_DATA_MAX_BYTES);
    const packed = withinLimit(script);
    expect(unpackScript(packed)).toBe(script);
    expect(packed).toBe(withinLimit(script));
    expect(packed.startsWith('#!/bin/sh\n')).toBe(true);
    expect(Buffer.byteLength(packed)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
    const dir = mkdtempSync(join(tmpdir(), 'skypool-packed-'));
    try {
      const file = join(dir, 'user-data');
      writeFileSync(file, packed);
      // The unpacked script reads the caller's standard input, not its own text.
      const out = execFileSync('/bin/sh', [file], { encoding: 'utf8', input: 'hello\n' }).trim().split('\n');
      expect(out).toHaveLength(801);
      expect(out[799]).toBe('line 799 of a long boot script: 1598');
      expect(out[800]).toBe('stdin: hello');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const small = '#!/bin/sh\necho hi\n';
    expect(withinLimit(small)).toBe(small);
    expect(unpackScript(small)).toBe(small);
  });
});
