import { OAuth2Client } from 'google-auth-library';
import { staticTokenCredential } from '../../providers/azure/index.js';
import type { CloudSim } from '../../src/cloudsim/index.js';
import type { ClusterOptions } from '../../src/cluster/index.js';

/** The Azure subscription of simProviderSettings (clients of the test that must see the same resources). */
export const SIM_AZURE_SUBSCRIPTION = '3f2c1a9e-7b4d-4e21-9c55-0a1b2c3d4e5f';

/** Settings of the three cloud adapters pointed at one cloudsim with its own credentials (us-east-1, us-central1, eastus). */
export function simProviderSettings(
  sim: CloudSim,
  options: {
    readonly gcpProject: string;
    readonly pollIntervalMs: number;
    /** One private range for the GCE subnet and the Azure VNet (the realistic network keeps clouds apart). */
    readonly privateRange?: string;
  },
): NonNullable<ClusterOptions['providers']> {
  const { pollIntervalMs } = options;
  return {
    aws: {
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
      pollIntervalMs,
      deleteTimeoutMs: 60_000,
    },
    gcp: {
      project: options.gcpProject,
      region: 'us-central1',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
      pollIntervalMs,
      ...(options.privateRange ? { subnetCidr: options.privateRange } : {}),
    },
    azure: {
      subscriptionId: SIM_AZURE_SUBSCRIPTION,
      region: 'eastus',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: staticTokenCredential(sim.credentials.azure.accessToken),
      pollIntervalMs,
      ...(options.privateRange ? { addressSpace: options.privateRange } : {}),
    },
  };
}

/**
 * Options for the official Compute Engine clients (`new InstancesClient(...)`) pointed at a cloudsim, over REST with
 * the sim's access token, or with `accessToken` instead (e.g. a wrong one, to see the 401).
 */
export function simGceClientOptions(sim: CloudSim, accessToken = sim.credentials.gcp.accessToken) {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: accessToken, expiry_date: Date.now() + 3_600_000 });
  return { apiEndpoint: sim.host, port: sim.httpPort, protocol: 'http', authClient, fallback: true } as const;
}
