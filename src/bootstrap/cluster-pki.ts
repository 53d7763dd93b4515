import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type CertificateBundle, createCertificateAuthority, issueCertificate } from './pki.js';

/**
 * Local state of a cluster's PKI, laid out like DOCKER_CERT_PATH so the docker CLI can use it directly:
 *
 *   <stateDir>/clusters/<name>/          0700
 *   <stateDir>/clusters/<name>/pki/      0700
 *     ca.pem        CA certificate (0644)      ca-key.pem  CA private key (0600)
 *     cert.pem      client certificate (0644)  key.pem     client private key (0600)
 *
 * e.g. `DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=~/.skypool/clusters/demo/pki docker -H tcp://10.213.0.2:2376 node ls`
 */
export interface ClusterPki {
  readonly dir: string;
  readonly ca: CertificateBundle;
  /** The SDK's client identity for every engine API of the cluster. */
  readonly client: CertificateBundle;
  /** True when this call made a new CA (no PKI existed for the cluster). */
  readonly created: boolean;
}

export function defaultStateDir(): string {
  return process.env.SKYPOOL_STATE_DIR ?? join(homedir(), '.skypool');
}

export function clusterStateDir(stateDir: string, cluster: string): string {
  return join(stateDir, 'clusters', cluster);
}

export function clusterPkiDir(stateDir: string, cluster: string): string {
  return join(clusterStateDir(stateDir, cluster), 'pki');
}

const FILES = { caCert: 'ca.pem', caKey: 'ca-key.pem', cert: 'cert.pem', key: 'key.pem' } as const;

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeSecret(path: string, text: string, mode: number): Promise<void> {
  await writeFile(path, text, { mode });
  await chmod(path, mode); // the mode option is ignored when the file already exists
}

/** Loads the cluster's CA and client certificate, creating them on first use. */
export async function ensureClusterPki(stateDir: string, cluster: string): Promise<ClusterPki> {
  const dir = clusterPkiDir(stateDir, cluster);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(clusterStateDir(stateDir, cluster), 0o700);
  await chmod(dir, 0o700);
  const [caCert, caKey, cert, key] = await Promise.all(Object.values(FILES).map((f) => readIfExists(join(dir, f))));
  if (caCert && caKey && cert && key)
    return { dir, ca: { certPem: caCert, keyPem: caKey }, client: { certPem: cert, keyPem: key }, created: false };

  const ca =
    caCert && caKey ? { certPem: caCert, keyPem: caKey } : await createCertificateAuthority(`skypool ${cluster} CA`);
  const client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
  await writeSecret(join(dir, FILES.caKey), ca.keyPem, 0o600);
  await writeSecret(join(dir, FILES.caCert), ca.certPem, 0o644);
  await writeSecret(join(dir, FILES.key), client.keyPem, 0o600);
  await writeSecret(join(dir, FILES.cert), client.certPem, 0o644);
  return { dir, ca, client, created: !(caCert && caKey) };
}

/** Whether the cluster has a CA in the state dir (without creating anything). */
export function hasClusterPki(stateDir: string, cluster: string): boolean {
  const dir = clusterPkiDir(stateDir, cluster);
  return Object.values(FILES).every((f) => existsSync(join(dir, f)));
}

/** A server certificate for one node's engine API, valid for its name and IP. */
export function issueNodeCertificate(pki: ClusterPki, name: string, ip: string): Promise<CertificateBundle> {
  return issueCertificate(pki.ca, {
    commonName: name,
    usage: 'server',
    dnsNames: [name],
    ipAddresses: [ip, '127.0.0.1'],
  });
}

/** Removes everything skypool keeps locally for the cluster. */
export async function removeClusterState(stateDir: string, cluster: string): Promise<void> {
  await rm(clusterStateDir(stateDir, cluster), { recursive: true, force: true });
}
