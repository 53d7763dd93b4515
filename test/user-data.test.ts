import { execFileSync } from 'node:child_process';
import { type CertificateBundle, createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import {
  renderTemplate,
  renderUserData,
  shellQuote,
  USER_DATA_MAX_BYTES,
  type UserDataInput,
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
  let server: CertificateBundle;
  beforeAll(async () => {
    ca = await createCertificateAuthority('test-ca');
    server = await issueCertificate(ca, {
      commonName: 'demo-workers-1',
      usage: 'server',
      ipAddresses: ['10.213.0.12'],
    });
  });
  const base = (): UserDataInput => ({
    engine: 'swarm',
    role: 'worker',
    nodeName: 'demo-workers-1',
    nodeIp: '10.213.0.12',
    tls: { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem },
    join: { token: "SWMTKN-1-abc'def", managers: ['10.213.0.10', '10.213.0.11'] },
  });

  it.each(['manager-init', 'manager-join', 'worker'] as const)(
    'renders %s as a POSIX sh script under the 16 KB limit',
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
    },
  );

  it('puts the values into shell variables that evaluate back to the input', () => {
    const script = renderUserData(base());
    // Keep only the assignment block (everything before the first partial), then print the variables.
    const assignments = script.slice(0, script.indexOf('# --- common/lib.sh'));
    expect(assignments).toContain('JOIN_TOKEN=');
    const out = sh(
      `${assignments}\nprintf '%s|%s|%s|%s|' "$NODE_NAME" "$NODE_IP" "$JOIN_TOKEN" "$JOIN_ADDRS"; printf '%s' "$TLS_KEY" | head -c 27`,
    );
    expect(out).toBe("demo-workers-1|10.213.0.12|SWMTKN-1-abc'def|10.213.0.10 10.213.0.11|-----BEGIN PRIVATE KEY-----");
  });

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

  it('accepts a token command instead of a token', () => {
    const script = renderUserData({
      ...base(),
      join: { tokenCommand: 'aws secretsmanager get-secret-value --secret-id x', managers: ['10.0.0.1'] },
    });
    expect(script).toContain("JOIN_TOKEN=''");
    expect(script).toContain("JOIN_TOKEN_COMMAND='aws secretsmanager get-secret-value --secret-id x'");
  });

  it('rejects a joining role without a token or managers, and bad names', () => {
    expect(() => renderUserData({ ...base(), join: undefined })).toThrow(/needs join.token/);
    expect(() => renderUserData({ ...base(), join: { token: 't', managers: [] } })).toThrow(/at least one manager/);
    expect(() => renderUserData({ ...base(), join: { token: 't', managers: ['1.2.3.4; reboot'] } })).toThrow(
      /not an IP address/,
    );
    expect(() => renderUserData({ ...base(), nodeName: 'Bad_Name' })).toThrow(/not a valid hostname/);
  });

  it('refuses a script over the user-data limit', () => {
    const huge = 'x'.repeat(USER_DATA_MAX_BYTES);
    expect(() => renderUserData({ ...base(), tls: { ...base().tls, certPem: huge } })).toThrow(
      /over the 16384-byte user-data limit/,
    );
  });
});
