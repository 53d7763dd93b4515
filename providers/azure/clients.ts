import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/** The three official ARM clients, pointed at one endpoint (real ARM or cloudsim) with one credential. */
export interface AzureClients {
  readonly compute: ComputeManagementClient;
  readonly network: NetworkManagementClient;
  readonly resources: ResourceManagementClient;
}

export interface ClientOptions {
  readonly subscriptionId: string;
  readonly credential: TokenCredential;
  /** ARM endpoint, e.g. `https://127.0.0.1:8443` for cloudsim; the SDK default (management.azure.com) otherwise. */
  readonly endpoint?: string;
  /** Extra CA to trust for the endpoint's https certificate (cloudsim's CA). */
  readonly caCertPem?: string;
  /** Sees every answer (each retry too): reads ARM's remaining-tokens headers. */
  readonly policy?: PipelinePolicy;
}

export function createClients(options: ClientOptions): AzureClients {
  const common = {
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.caCertPem ? { tlsOptions: { ca: options.caCertPem } } : {}),
    userAgentOptions: { userAgentPrefix: 'skypool' },
    ...(options.policy ? { additionalPolicies: [{ policy: options.policy, position: 'perRetry' as const }] } : {}),
  };
  return {
    compute: new ComputeManagementClient(options.credential, options.subscriptionId, common),
    network: new NetworkManagementClient(options.credential, options.subscriptionId, common),
    resources: new ResourceManagementClient(options.credential, options.subscriptionId, common),
  };
}

/** A credential that hands out one pre-issued bearer token (e.g. from `az account get-access-token`). */
export function staticTokenCredential(
  token: string,
  expiresOnTimestamp = Date.now() + 60 * 60 * 1000,
): TokenCredential {
  return { getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp }) };
}
