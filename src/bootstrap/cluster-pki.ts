import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  CA_VALID_DAYS,
  type CertificateBundle,
  createCertificateAuthority,
  crossSignCertificateAuthority,
  issueCertificate,
} from './pki.js';

/**
 * Local state of a cluster's PKI, laid out like DOCKER_CERT_PATH so the docker CLI can use it directly:
 *
 *   <stateDir>/clusters/<name>/          0700
 *   <stateDir>/clusters/<name>/pki/      0700
 *     ca.pem        CA certificate (0644)      ca-key.pem  CA private key (0600)
 *     cert.pem      client certificate (0644)  key.pem     client private key (0600)
 *
 * e.g. `DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=~/.skypool/clusters/demo/pki docker -H tcp://10.213.0.2:2376 node ls`
 *
 * A rotation of the CA (`skypool rotate-ca`) adds, while it runs:
 *     rotation.json  {"phase": "switching" | "promoting", "started": ISO 8601}   (0600)
 *     next/          the new CA, the new client certificate and key, and cross.pem: the new CA cross-signed by
 *                    the old one, sent after the client certificate so that nodes still trusting only the old
 *                    CA accept the new client
 * and leaves retired-ca.pem (the old CA certificate, to verify servers of older releases that it signed).
 */
export interface ClusterPki {
  readonly dir: string;
  /** The CA engines trust clients from (what new nodes' user-data carries). */
  readonly ca: CertificateBundle;
  /** The SDK's client identity for every engine API of the cluster (its certificate PEM may hold a chain). */
  readonly client: CertificateBundle;
  /** CA certificates that may have signed a node's server certificate (nodes of older releases, not pinned). */
  readonly serverCaPem: string;
  /** True when this call made a new CA (no PKI existed for the cluster). */
  readonly created: boolean;
  /** A CA rotation in progress: the identity being retired (probes check that nodes refuse it). */
  readonly rotating?: { readonly previous: CertificateBundle; readonly previousCaPem: string };
}

/** Where an interrupted `rotate-ca` stands. */
export type CaRotationPhase = 'switching' | 'promoting';

export interface CaRotationState {
  readonly phase: CaRotationPhase;
  readonly started: string;
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
const CROSS = 'cross.pem';
const NEXT = 'next';
const ROTATION = 'rotation.json';
const RETIRED = 'retired-ca.pem';

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

/** Replaces a file whole (a crash leaves the old or the new content, never a mix). */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeSecret(tmp, text, mode);
  await rename(tmp, path);
}

async function readBundle(dir: string, cert: string, key: string): Promise<CertificateBundle | undefined> {
  const [certPem, keyPem] = await Promise.all([readIfExists(join(dir, cert)), readIfExists(join(dir, key))]);
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

/** The rotation of the cluster's CA in progress, if one is. */
export async function readCaRotation(stateDir: string, cluster: string): Promise<CaRotationState | undefined> {
  const text = await readIfExists(join(clusterPkiDir(stateDir, cluster), ROTATION));
  if (!text) return undefined;
  const state = JSON.parse(text) as Partial<CaRotationState>;
  if (state.phase !== 'switching' && state.phase !== 'promoting')
    throw new Error(`${join(clusterPkiDir(stateDir, cluster), ROTATION)} names no known phase`);
  return { phase: state.phase, started: String(state.started ?? '') };
}

async function writeCaRotation(dir: string, phase: CaRotationPhase, started: string): Promise<void> {
  await replaceFile(join(dir, ROTATION), `${JSON.stringify({ phase, started })}\n`, 0o600);
}

/**
 * Starts a rotation of the cluster's CA, or returns the one in progress: a new CA, a client certificate from it
 * and the new CA cross-signed by the old one go to next/, then rotation.json says `switching`. From then on
 * ensureClusterPki hands out the new identity (user-data carries the new CA).
 */
export async function beginCaRotation(stateDir: string, cluster: string): Promise<CaRotationState> {
  const current = await readCaRotation(stateDir, cluster);
  if (current) return current;
  const pki = await ensureClusterPki(stateDir, cluster);
  const dir = join(pki.dir, NEXT);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const started = new Date().toISOString();
  const ca = await createCertificateAuthority(`skypool ${cluster} CA ${started.slice(0, 19)}Z`, CA_VALID_DAYS);
  const client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
  const cross = await crossSignCertificateAuthority(ca.certPem, pki.ca);
  await writeSecret(join(dir, FILES.caKey), ca.keyPem, 0o600);
  await writeSecret(join(dir, FILES.caCert), ca.certPem, 0o644);
  await writeSecret(join(dir, FILES.key), client.keyPem, 0o600);
  await writeSecret(join(dir, FILES.cert), client.certPem, 0o644);
  await writeSecret(join(dir, CROSS), cross, 0o644);
  await writeCaRotation(pki.dir, 'switching', started);
  return { phase: 'switching', started };
}

/**
 * Ends a rotation once every node trusts the new CA: the new CA and client replace the old ones (the old CA
 * key is gone; its certificate stays as retired-ca.pem), the client certificate keeps the cross-signed CA after
 * it (a node that was off during the rotation still accepts it, and the next rotate-ca moves it). Idempotent.
 */
export async function finishCaRotation(stateDir: string, cluster: string): Promise<void> {
  const state = await readCaRotation(stateDir, cluster);
  if (!state) return;
  const dir = clusterPkiDir(stateDir, cluster);
  const next = join(dir, NEXT);
  if (state.phase === 'switching') {
    const old = await readIfExists(join(dir, FILES.caCert));
    if (old) await replaceFile(join(dir, RETIRED), old, 0o644);
    await writeCaRotation(dir, 'promoting', state.started);
  }
  const [ca, client, cross] = await Promise.all([
    readBundle(next, FILES.caCert, FILES.caKey),
    readBundle(next, FILES.cert, FILES.key),
    readIfExists(join(next, CROSS)),
  ]);
  if (!ca || !client || !cross) throw new Error(`${next} is incomplete: cannot finish the CA rotation`);
  await replaceFile(join(dir, FILES.caKey), ca.keyPem, 0o600);
  await replaceFile(join(dir, FILES.caCert), ca.certPem, 0o644);
  await replaceFile(join(dir, FILES.key), client.keyPem, 0o600);
  await replaceFile(join(dir, FILES.cert), `${client.certPem.trim()}\n${cross.trim()}\n`, 0o644);
  await rm(next, { recursive: true, force: true });
  await rm(join(dir, ROTATION), { force: true });
}

/** Loads the cluster's CA and client certificate, creating them on first use. */
export async function ensureClusterPki(stateDir: string, cluster: string): Promise<ClusterPki> {
  const dir = clusterPkiDir(stateDir, cluster);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(clusterStateDir(stateDir, cluster), 0o700);
  await chmod(dir, 0o700);
  const rotation = await readCaRotation(stateDir, cluster);
  if (rotation?.phase === 'promoting') await finishCaRotation(stateDir, cluster);
  const [caCert, caKey, cert, key, retired] = await Promise.all(
    [...Object.values(FILES), RETIRED].map((f) => readIfExists(join(dir, f))),
  );
  const serverCaPem = [caCert, retired].filter(Boolean).join('\n');
  if (caCert && caKey && cert && key && rotation?.phase === 'switching') {
    const next = join(dir, NEXT);
    const [ca, client, cross] = await Promise.all([
      readBundle(next, FILES.caCert, FILES.caKey),
      readBundle(next, FILES.cert, FILES.key),
      readIfExists(join(next, CROSS)),
    ]);
    if (!ca || !client || !cross) throw new Error(`${next} is incomplete: the CA rotation cannot go on`);
    return {
      dir,
      ca,
      client: { certPem: `${client.certPem.trim()}\n${cross.trim()}\n`, keyPem: client.keyPem },
      serverCaPem: [ca.certPem, serverCaPem].join('\n'),
      created: false,
      rotating: { previous: { certPem: cert, keyPem: key }, previousCaPem: caCert },
    };
  }
  if (caCert && caKey && cert && key)
    return {
      dir,
      ca: { certPem: caCert, keyPem: caKey },
      client: { certPem: cert, keyPem: key },
      serverCaPem,
      created: false,
    };

  const ca =
    caCert && caKey ? { certPem: caCert, keyPem: caKey } : await createCertificateAuthority(`skypool ${cluster} CA`);
  const client = await issueCertificate(ca, { commonName: 'skypool-client', usage: 'client' });
  await writeSecret(join(dir, FILES.caKey), ca.keyPem, 0o600);
  await writeSecret(join(dir, FILES.caCert), ca.certPem, 0o644);
  await writeSecret(join(dir, FILES.key), client.keyPem, 0o600);
  await writeSecret(join(dir, FILES.cert), client.certPem, 0o644);
  return { dir, ca, client, serverCaPem: ca.certPem, created: !(caCert && caKey) };
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
