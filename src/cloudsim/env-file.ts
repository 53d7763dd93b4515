import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { shellQuote } from '../bootstrap/user-data.js';
import { writePrivateFile } from '../util/private-file.js';
import type { SimCredentials } from './core/credentials.js';
import type { CloudSim } from './server.js';

/** `export K='V'` lines a POSIX shell can `.` (source); values single-quoted, so any byte is safe. */
export function renderEnvFile(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('');
}

/** Reads back what renderEnvFile wrote (also plain `K=V` lines); other lines are ignored. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const raw = m[2]!.trim();
    out[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return out;
}

/**
 * Writes the sim's environment to `path` (0600: it holds the credentials) and its CA to `caPath` (default
 * `<path>.ca.pem`), with NODE_EXTRA_CA_CERTS naming that CA so Node clients trust the ARM endpoint.
 */
export async function writeSimEnvFile(
  sim: Pick<CloudSim, 'env' | 'caCertPem'>,
  path: string,
  caPath = `${path}.ca.pem`,
): Promise<{ envFile: string; caFile: string }> {
  const caFile = resolve(caPath);
  await writePrivateFile(caFile, sim.caCertPem);
  const envFile = resolve(path);
  await writePrivateFile(envFile, renderEnvFile({ ...sim.env, NODE_EXTRA_CA_CERTS: caFile }));
  return { envFile, caFile };
}

/** The credentials (and admin token) in an env file written by writeSimEnvFile, to start a sim that accepts them again. */
export async function readSimCredentials(
  path: string,
): Promise<{ credentials: Partial<SimCredentials>; adminToken?: string }> {
  const env = parseEnvFile(await readFile(path, 'utf8'));
  const credentials: { -readonly [K in keyof SimCredentials]?: SimCredentials[K] } = {};
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
    credentials.aws = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  if (env.CLOUDSDK_AUTH_ACCESS_TOKEN) credentials.gcp = { accessToken: env.CLOUDSDK_AUTH_ACCESS_TOKEN };
  if (env.AZURE_ACCESS_TOKEN) credentials.azure = { accessToken: env.AZURE_ACCESS_TOKEN };
  return { credentials, ...(env.SKYPOOL_SIM_ADMIN_TOKEN ? { adminToken: env.SKYPOOL_SIM_ADMIN_TOKEN } : {}) };
}
