/**
 * What the azure adapter can check before the ARM SDKs load: subscription, credential, endpoint and CA file, from
 * the settings or AZURE_SUBSCRIPTION_ID, AZURE_ACCESS_TOKEN and SKYPOOL_AZURE_ENDPOINT.
 */
import { existsSync } from 'node:fs';
import { PrerequisiteError } from '../../src/errors.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The settings this check reads (a subset of AzureProviderSettings, so this module needs no SDK type). */
export interface AzurePreflightSettings {
  readonly subscriptionId?: string;
  readonly credential?: unknown;
  readonly endpoint?: string;
  readonly caCertFile?: string;
}

/** Throws PrerequisiteError when the azure settings cannot work, without loading the SDK. */
export function preflight(settings: AzurePreflightSettings = {}, env: NodeJS.ProcessEnv = process.env): void {
  const subscriptionId = settings.subscriptionId ?? env.AZURE_SUBSCRIPTION_ID;
  const endpoint = settings.endpoint ?? env.SKYPOOL_AZURE_ENDPOINT;
  if (!subscriptionId)
    throw new PrerequisiteError(
      'Azure needs a subscription: set AZURE_SUBSCRIPTION_ID or the provider option subscriptionId',
      { option: 'subscriptionId', env: 'AZURE_SUBSCRIPTION_ID' },
    );
  if (!GUID.test(subscriptionId))
    throw new PrerequisiteError(
      `Azure subscription id "${subscriptionId}" is not a GUID: copy it from \`az account show --query id\``,
      { option: 'subscriptionId' },
    );
  if (!settings.credential && !env.AZURE_ACCESS_TOKEN)
    throw new PrerequisiteError(
      'Azure needs credentials: pass the provider option credential (a TokenCredential, e.g. DefaultAzureCredential) or set AZURE_ACCESS_TOKEN',
      { option: 'credential', env: 'AZURE_ACCESS_TOKEN' },
    );
  if (endpoint && !endpoint.startsWith('https://')) {
    throw new PrerequisiteError(
      `Azure endpoint ${endpoint} must be https (the SDK refuses bearer tokens over http); for cloudsim use its httpsUrl and caCertPem`,
      { option: 'endpoint', env: 'SKYPOOL_AZURE_ENDPOINT' },
    );
  }
  if (settings.caCertFile && !existsSync(settings.caCertFile)) {
    throw new PrerequisiteError(
      `Azure caCertFile ${settings.caCertFile} does not exist; write it with \`skypool sim --ca-out <file>\``,
      { option: 'caCertFile' },
    );
  }
}

/** The ARM endpoint calls go to: the setting, SKYPOOL_AZURE_ENDPOINT, else management.azure.com. */
export function endpoint(settings: AzurePreflightSettings = {}, env: NodeJS.ProcessEnv = process.env): string {
  return settings.endpoint ?? env.SKYPOOL_AZURE_ENDPOINT ?? 'https://management.azure.com';
}
