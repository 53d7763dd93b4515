import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIdentity, IDENTITY_MARKER, parseIdentity } from '../src/bootstrap/node-identity.js';

/** A self-signed P-256 certificate made the way a node makes it at boot (openssl, CN and SAN = the node name). */
function selfSigned(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'skypool-identity-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name}`,
      ],
      { stdio: 'ignore' },
    );
    return readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WG = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';

describe('node identity line', () => {
  const certPem = selfSigned('demo-workers-1');
  const identity = { name: 'demo-workers-1', fabricIp: '100.65.0.7', wireguardKey: WG, certPem };

  it('round-trips through a console with other output around it', () => {
    const console = `cloud-init: starting\n${formatIdentity(identity)}\nswarm: joined\n`;
    const parsed = parseIdentity(console, 'demo-workers-1');
    expect(parsed).toEqual({ ...identity, certPem: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(Buffer.from(parsed!.certPem)).toEqual(Buffer.from(certPem.replace(/\r/g, '')));
  });

  it('takes the last line (a rebooted node prints a new one) and ignores other nodes', () => {
    const other = formatIdentity({ ...identity, fabricIp: '100.65.0.8' });
    expect(parseIdentity(`${formatIdentity(identity)}\n${other}\n`)?.fabricIp).toBe('100.65.0.8');
    expect(parseIdentity(formatIdentity(identity), 'demo-workers-2')).toBeUndefined();
  });

  it('refuses a certificate that does not name the node, a bad key or address', () => {
    const line = formatIdentity(identity);
    expect(parseIdentity(line.replace('name=demo-workers-1', 'name=demo-workers-9'))).toBeUndefined();
    expect(parseIdentity(line.replace(`wg=${WG}`, 'wg=short'))).toBeUndefined();
    expect(parseIdentity(line.replace('fabric=100.65.0.7', 'fabric=nowhere'))).toBeUndefined();
    expect(parseIdentity(`${IDENTITY_MARKER} v1 name=x fabric=100.64.0.1 wg=${WG} cert=AAAA`)).toBeUndefined();
  });
});
