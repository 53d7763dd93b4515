/**
 * Prints the TLS secret value of a CDK cluster (JSON, see CdkTlsSecret), creating the cluster PKI in the SDK's
 * state directory when missing. The output holds a private key: pipe it, never log it.
 *
 *   node dist/src/cdk/tls-secret.js demo | aws secretsmanager put-secret-value \
 *     --secret-id skypool/demo/tls --secret-string file:///dev/stdin
 */
import { pathToFileURL } from 'node:url';
import { defaultStateDir } from '../bootstrap/cluster-pki.js';
import { SkypoolError } from '../errors.js';
import { createCdkTlsSecret, ensureCdkClusterPki } from './tls.js';

export async function tlsSecretValue(cluster: string, stateDir = defaultStateDir()): Promise<string> {
  const pki = await ensureCdkClusterPki(stateDir, cluster);
  return JSON.stringify(await createCdkTlsSecret(pki.ca));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cluster = process.argv[2];
  if (!cluster || !/^[a-z]([a-z0-9-]*[a-z0-9])?$/.test(cluster)) {
    process.stderr.write('usage: node dist/src/cdk/tls-secret.js <cluster-name>\n');
    process.exit(2);
  }
  try {
    process.stdout.write(`${await tlsSecretValue(cluster)}\n`);
  } catch (error) {
    process.stderr.write(`${SkypoolError.isInstance(error) ? error.message : String(error)}\n`);
    process.exit(SkypoolError.isInstance(error) ? error.exitCode : 1);
  }
}
