/**
 * What the gcp adapter can check before @google-cloud/compute loads (seconds): project and credentials, from the
 * settings or the environment variables gcloud uses.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PrerequisiteError } from '../../src/errors.js';
import { type GcpProviderSettings, withEnvironment } from './settings.js';

/** The project: the setting, else GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT or CLOUDSDK_CORE_PROJECT. */
export function gcpProject(settings: GcpProviderSettings, env: NodeJS.ProcessEnv = process.env): string {
  const project = settings.project ?? env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT ?? env.CLOUDSDK_CORE_PROJECT;
  if (!project)
    throw new PrerequisiteError(
      'no Google Cloud project: pass `project` in the gcp provider settings or set GOOGLE_CLOUD_PROJECT',
      { env: 'GOOGLE_CLOUD_PROJECT' },
    );
  return project;
}

/** Throws unless an auth client, an access token or an Application Default Credentials file is there. */
export function checkGcpCredentials(settings: GcpProviderSettings, env: NodeJS.ProcessEnv = process.env): void {
  if (settings.authClient || settings.accessToken) return;
  const adc =
    env.GOOGLE_APPLICATION_CREDENTIALS ?? join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
  if (!existsSync(adc)) {
    throw new PrerequisiteError(
      'no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, run `gcloud auth application-default login`, set CLOUDSDK_AUTH_ACCESS_TOKEN, or pass `authClient` / `accessToken` in the gcp provider settings',
      { env: ['GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_AUTH_ACCESS_TOKEN'] },
    );
  }
}

/** Throws PrerequisiteError when the gcp settings cannot work, without loading the SDK. */
export function preflight(settings: GcpProviderSettings = {}, env: NodeJS.ProcessEnv = process.env): void {
  const resolved = withEnvironment(settings, env);
  gcpProject(resolved, env);
  checkGcpCredentials(resolved, env);
}

/** The Compute Engine endpoint calls go to (settings, then CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE). */
export function endpoint(settings: GcpProviderSettings = {}, env: NodeJS.ProcessEnv = process.env): string {
  const resolved = withEnvironment(settings, env);
  const protocol = resolved.protocol ?? 'https';
  const host = resolved.apiEndpoint ?? 'compute.googleapis.com';
  const port = resolved.port ?? (protocol === 'http' ? 80 : 443);
  return `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
