import { randomBytes, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type X509Module = typeof X509;
let loaded: Promise<X509Module> | undefined;

/** @peculiar/x509 is loaded on first use so importing the SDK stays fast. */
function x509Module(): Promise<X509Module> {
  loaded ??= import('@peculiar/x509').then((m) => {
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  });
  return loaded;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A PEM certificate with its PKCS#8 PEM private key. The key is a secret: never log it. */
export interface CertificateBundle {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueOptions {
  readonly commonName: string;
  readonly usage: 'server' | 'client' | 'both';
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly validDays?: number;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const x509 = await x509Module();
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const x509 = await x509Module();
  const der = x509.PemConverter.decode(pem)[0];
  return (await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign'])) as unknown as CryptoKey;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
}

/**
 * Lifetime of a cluster CA: five years, well under ten, and longer than the 825 days of the certificates it
 * signs. A CA nearing its end is replaced with `skypool rotate-ca` (see README).
 */
export const CA_VALID_DAYS = 1826;

/**
 * A self-signed certificate authority (ECDSA P-256) for one cluster or one simulator. Path length 1 leaves room
 * for exactly one intermediate: the server-only issuer that CDK-launched nodes sign their own certificates with.
 */
export async function createCertificateAuthority(
  commonName: string,
  validDays = CA_VALID_DAYS,
  pathLength = 1,
): Promise<CertificateBundle> {
  const x509 = await x509Module();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Issues a leaf certificate signed by `ca` (server, client or both usages, with SANs). */
export async function issueCertificate(ca: CertificateBundle, options: IssueOptions): Promise<CertificateBundle> {
  const x509 = await x509Module();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const ekus: string[] = [];
  if (options.usage !== 'client') ekus.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.usage !== 'server') ekus.push(x509.ExtendedKeyUsage.clientAuth);
  const sans: X509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension(ekus, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 825) * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** How many intermediates the CA may sign below it (undefined: no limit). */
export async function caPathLength(caCertPem: string): Promise<number | undefined> {
  const x509 = await x509Module();
  return new x509.X509Certificate(caCertPem).getExtension(x509.BasicConstraintsExtension)?.pathLength;
}

/**
 * An intermediate CA under `ca` that may sign only leaf server certificates (path length 0, EKU serverAuth: TLS
 * stacks apply an intermediate's EKU to the whole chain below it), so whoever holds it cannot mint client
 * certificates the engines would accept.
 */
export async function issueServerOnlyIntermediate(
  ca: CertificateBundle,
  commonName: string,
  validDays = 825,
): Promise<CertificateBundle> {
  const x509 = await x509Module();
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY_MS),
    signingKey: await importKeyPem(ca.keyPem),
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * `ca`'s certificate again, with the same subject and key, signed by `issuer` (a cross-signed CA): a client
 * certificate from `ca` presented with it chains to `issuer` too, so engines that trust only `issuer` accept it
 * while they are moved to `ca` one by one. Valid as long as `issuer` is; path length 0 (leaves only).
 */
export async function crossSignCertificateAuthority(caCertPem: string, issuer: CertificateBundle): Promise<string> {
  const x509 = await x509Module();
  const ca = new x509.X509Certificate(caCertPem);
  const issuerCert = new x509.X509Certificate(issuer.certPem);
  const publicKey = await ca.publicKey.export(ALG, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: ca.subject,
    issuer: issuerCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: issuerCert.notAfter,
    signingKey: await importKeyPem(issuer.keyPem),
    publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuerCert, false),
    ],
  });
  return cert.toString('pem');
}
