import { X509Certificate } from 'node:crypto';
import { type ClusterPki, ensureClusterPki } from '../bootstrap/cluster-pki.js';
import { type CertificateBundle, caPathLength, issueServerOnlyIntermediate } from '../bootstrap/pki.js';
import { PrerequisiteError } from '../errors.js';

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

/**
 * The cluster's PKI (the SDK's layout, see cluster-pki.ts) with a CA able to sign the node issuer. Creates it when
 * the cluster has none yet, so the SDK and `skypool status` use the same CA and client certificate afterwards.
 */
export async function ensureCdkClusterPki(stateDir: string, cluster: string): Promise<ClusterPki> {
  // Every cluster CA made since path length 1 became the default can sign the node issuer; older ones are
  // refused with a clear error by createCdkTlsSecret.
  return ensureClusterPki(stateDir, cluster);
}

/**
 * Makes the TLS secret value for a cluster from its CA (`ensureClusterPki(...).ca`), so the SDK's existing
 * `ca.pem` and client certificate work unchanged with nodes launched by CloudFormation. Store the JSON with
 * `aws secretsmanager put-secret-value --secret-id skypool/<cluster>/tls --secret-string file:///dev/stdin`.
 */
export async function createCdkTlsSecret(
  ca: CertificateBundle,
  options: { validDays?: number } = {},
): Promise<CdkTlsSecret> {
  const caCert = new X509Certificate(ca.certPem);
  if ((await caPathLength(ca.certPem)) === 0) {
    throw new PrerequisiteError(
      `the CA "${caCert.subject.replace(/\n/g, ', ')}" may not sign intermediates (path length 0), so CDK nodes cannot get a server-only issuer from it; ` +
        'use a cluster created with ensureCdkClusterPki, or create the cluster PKI for the CDK stack before the SDK does',
    );
  }
  const cn = /CN=([^,\n]+)/.exec(caCert.subject)?.[1] ?? 'cluster';
  const issuer = await issueServerOnlyIntermediate(ca, `skypool node issuer (${cn})`, options.validDays);
  return { caPem: ca.certPem.trim(), issuerCertPem: issuer.certPem, issuerKeyPem: issuer.keyPem };
}
