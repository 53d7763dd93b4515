import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureClusterPki } from '../src/bootstrap/cluster-pki.js';
import { createCertificateAuthority, issueCertificate } from '../src/bootstrap/pki.js';

describe('pki', () => {
  it('makes a cluster CA valid for less than ten years, and longer than the node certificates it signs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-pki-'));
    try {
      const pki = await ensureClusterPki(dir, 'ca-life');
      const ca = new X509Certificate(pki.ca.certPem);
      const years = (Date.parse(ca.validTo) - Date.now()) / (365.25 * 86_400_000);
      expect(years).toBeLessThan(9);
      const node = new X509Certificate((await issueCertificate(pki.ca, { commonName: 'n', usage: 'server' })).certPem);
      expect(Date.parse(ca.validTo)).toBeGreaterThan(Date.parse(node.validTo));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('issues a server cert with IP SAN that verifies against its CA and enforces client certs', async () => {
    const ca = await createCertificateAuthority('test-ca');
    const server = await issueCertificate(ca, {
      commonName: 'node-1',
      usage: 'server',
      ipAddresses: ['127.0.0.1'],
      dnsNames: ['node-1'],
    });
    const client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
    const parsed = new X509Certificate(server.certPem);
    expect(parsed.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(parsed.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(server.keyPem).toContain('BEGIN PRIVATE KEY');

    const srv = createServer(
      { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('ok'),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const get = (withCert: boolean) =>
      new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/',
            ca: ca.certPem,
            ...(withCert ? { cert: client.certPem, key: client.keyPem } : {}),
          },
          (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      await expect(get(true)).resolves.toBe('ok');
      await expect(get(false)).rejects.toThrow();
    } finally {
      srv.close();
    }
  });
});
