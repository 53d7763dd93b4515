import type { ProviderSettings } from '../../src/providers/types.js';
import type { GcpAuthClient } from './clients.js';

export interface GcpProviderSettings extends ProviderSettings {
  /** Project to create resources in. Default: GOOGLE_CLOUD_PROJECT, GCLOUD_PROJECT or CLOUDSDK_CORE_PROJECT. */
  readonly project?: string;
  /** Region used when a pool names none. Default `us-central1`. */
  readonly region?: string;
  /** Zone used when neither the launch nor the pool names one. Default: the region's first zone. */
  readonly zone?: string;
  /** API host, e.g. `127.0.0.1` for cloudsim. Default: compute.googleapis.com, or CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE. */
  readonly apiEndpoint?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  /** Credentials. Without one (and without `accessToken`) Application Default Credentials are used. */
  readonly authClient?: GcpAuthClient;
  /** A bare OAuth2 access token, used as is (no refresh). Default: CLOUDSDK_AUTH_ACCESS_TOKEN or GOOGLE_OAUTH_ACCESS_TOKEN. */
  readonly accessToken?: string;
  /** Source ranges allowed to reach the engine API (2376/tcp, mutual TLS); `engineApiSources` wins. Default: the operator's address. */
  readonly engineApiSourceRanges?: readonly string[];
  /** Subnet range of the cluster in the default region; default: a /20 in 10.0.0.0/9 derived from the cluster name. */
  readonly subnetCidr?: string;
  /** Give each VM an ephemeral external IP (the SDK reaches the engine API on it). Default true. */
  readonly externalIp?: boolean;
  /** Boot image. Default: Ubuntu 24.04 LTS family. */
  readonly image?: string;
  readonly diskSizeGb?: number;
  /** Metadata keys that carry the user-data. Default `['user-data']` (cloud-init); add `startup-script` for images without it. */
  readonly userDataKeys?: readonly ('user-data' | 'startup-script')[];
  /** Longest wait for one Operation. Default 10 minutes. */
  readonly operationTimeoutMs?: number;
  /** Interval between status polls in waitUntilRunning. Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Instances per page of the instance listings (1-500); default 500. */
  readonly listPageSize?: number;
  /** Mutations in flight at once (deletes, single inserts). Default 8. */
  readonly concurrency?: number;
  /**
   * Attempts per Compute Engine call on throttling, a 5xx or a dropped connection, the first included (the AWS
   * SDK's standard mode; the Google client over REST retries nothing). Default 3.
   */
  readonly maxAttempts?: number;
}

/**
 * Fills what the settings leave out from the environment variables gcloud and Terraform use:
 * `CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE` (e.g. `http://127.0.0.1:8080/compute/v1/`, for `skypool sim`) and
 * `CLOUDSDK_AUTH_ACCESS_TOKEN` / `GOOGLE_OAUTH_ACCESS_TOKEN`. Explicit settings always win.
 */
export function withEnvironment(
  settings: GcpProviderSettings,
  env: NodeJS.ProcessEnv = process.env,
): GcpProviderSettings {
  const out: { -readonly [K in keyof GcpProviderSettings]: GcpProviderSettings[K] } = { ...settings };
  const override = env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE;
  if (override && !settings.apiEndpoint) {
    try {
      const url = new URL(override);
      out.apiEndpoint = url.hostname.replace(/^\[|\]$/g, '');
      out.protocol = url.protocol === 'http:' ? 'http' : 'https';
      out.port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    } catch {
      // Not a URL: leave the default endpoint; checkPrerequisites reports what the API says.
    }
  }
  const token = env.CLOUDSDK_AUTH_ACCESS_TOKEN ?? env.GOOGLE_OAUTH_ACCESS_TOKEN;
  if (token && !settings.authClient && !settings.accessToken) out.accessToken = token;
  return out;
}
