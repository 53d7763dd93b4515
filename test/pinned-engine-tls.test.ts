import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CertificateBundle, createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';
import { DockerClients } from '../src/engines/swarm/api.js';

/**
 * The SDK trusts a node's engine API by the certificate the node made itself (pinned from its console), checked
 * against the node's name, whatever address it answers on; the client side of mTLS stays the cluster CA's.
 */
describe('engine API client with a pinned node certificate', () => {
  let work: string;
  let server: Server;
  let port: number;
  let nodeCert: string;
  let ca: CertificateBundle;
  let client: CertificateBundle;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-pin-'));
    // What templates/common/node-keys.sh makes on the node.
    execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(work, 'key.pem'),
      '-out',
      join(work, 'cert.pem'),
      '-subj',
      '/CN=pin-workers-1',
      '-addext',
      'subjectAltName=DNS:pin-workers-1',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ]);
    nodeCert = await readFile(join(work, 'cert.pem'), 'utf8');
    ca = await createCertificateAuthority('pin CA');
    client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
    server = createServer(
      {
        key: await readFile(join(work, 'key.pem')),
        cert: nodeCert,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('OK');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  const ping = (name: string, pin?: string) => {
    const docker = new DockerClients({ caPem: ca.certPem, client }).get({
      name,
      host: '127.0.0.1',
      ...(pin ? { serverCertPem: pin } : {}),
    });
    (docker.modem as unknown as { port: number }).port = port;
    return docker.ping();
  };

  it('answers when the pinned certificate names the node, at an address it does not carry', async () => {
    await expect(ping('pin-workers-1', nodeCert)).resolves.toBeDefined();
  });

  it('refuses the same certificate for another node name', async () => {
    await expect(ping('pin-workers-2', nodeCert)).rejects.toThrow(/pin-workers-2|altnames|does not match/i);
  });

  it('refuses a node whose certificate is not the pinned one (nor signed by the cluster CA)', async () => {
    await expect(ping('pin-workers-1')).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const other = await createCertificateAuthority('other');
    await expect(ping('pin-workers-1', other.certPem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });
});
