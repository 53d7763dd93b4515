import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { PrerequisiteError } from '../errors.js';
import { issueCertificate, type CertificateBundle } from '../bootstrap/pki.js';
import { clusterPkiDir, ensureClusterPki, type ClusterPki } from '../bootstrap/cluster-pki.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What the nodes of a CDK stack read from the TLS secret at boot (JSON). No private key of the cluster CA is in
 * it: nodes get an intermediate "issuer" limited to server certificates (EKU serverAuth, path length 0), so a
 * node can make its own server certificate but not a client certificate the engines would accept.
 */
export interface CdkTlsSecret {
  /** The cluster CA certificate: the engines verify the SDK's client certificate against it. */
  readonly caPem: string;
  readonly issuerCertPem: string;
  /** Secret: only in Secrets Manager and, during boot, on the node (deleted once the node cert is made). */
  readonly issuerKeyPem: string;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function selfSignedCa(commonName: string, validDays: number): Promise<CertificateBundle> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY_MS),
    keys: keys as unknown as CryptoKeyPair,
    signingAlgorithm: ALG,
    extensions: [
      // Path length 1 (not 0): room for the node issuer below it.
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as CryptoKey),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}

/**
 * The cluster's PKI (the SDK's layout, see cluster-pki.ts) with a CA able to sign the node issuer. Creates it when
 * the cluster has none yet, so the SDK and `skypool status` use the same CA and client certificate afterwards.
 */
export async function ensureCdkClusterPki(stateDir: string, cluster: string): Promise<ClusterPki> {
  const dir = clusterPkiDir(stateDir, cluster);
  if (!existsSync(join(dir, 'ca.pem'))) {
    const ca = await selfSignedCa(`skypool ${cluster} CA`, 3650);
    const client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [file, text, mode] of [['ca-key.pem', ca.keyPem, 0o600], ['ca.pem', ca.certPem, 0o644], ['key.pem', client.keyPem, 0o600], ['cert.pem', client.certPem, 0o644]] as const) {
      await writeFile(join(dir, file), text, { mode });
      await chmod(join(dir, file), mode);
    }
  }
  return ensureClusterPki(stateDir, cluster);
}

/**
 * Makes the TLS secret value for a cluster from its CA (`ensureClusterPki(...).ca`), so the SDK's existing
 * `ca.pem` and client certificate work unchanged with nodes launched by CloudFormation. Store the JSON with
 * `aws secretsmanager put-secret-value --secret-id skypool/<cluster>/tls --secret-string file:///dev/stdin`.
 */
export async function createCdkTlsSecret(ca: CertificateBundle, options: { validDays?: number } = {}): Promise<CdkTlsSecret> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const limits = caCert.getExtension(x509.BasicConstraintsExtension);
  if (limits?.pathLength === 0) {
    throw new PrerequisiteError(
      `the CA "${caCert.subject}" may not sign intermediates (path length 0), so CDK nodes cannot get a server-only issuer from it; ` +
        'use a cluster created with ensureCdkClusterPki, or create the cluster PKI for the CDK stack before the SDK does',
    );
  }
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(ca.keyPem)[0]!, ALG, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=skypool node issuer (${caCert.subjectName.getField('CN')[0] ?? 'cluster'})`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 825) * DAY_MS),
    signingKey: caKey as unknown as CryptoKey,
    publicKey: keys.publicKey as unknown as CryptoKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      // TLS stacks (OpenSSL, Go) apply an intermediate's EKU to the whole chain below it.
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as CryptoKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { caPem: ca.certPem.trim(), issuerCertPem: cert.toString('pem'), issuerKeyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}
