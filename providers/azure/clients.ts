import { createRequire } from 'node:module';
import type * as ArmCompute from '@azure/arm-compute';
import type * as ArmNetwork from '@azure/arm-network';
import type * as ArmResources from '@azure/arm-resources';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

// The CommonJS builds, as for EC2 (providers/aws/sdk.ts): Node's ESM loader takes longer over the ESM ones, and every
// CLI call that touches Azure pays it. The adapter imports no other @azure value, so no class exists twice.
const require = createRequire(import.meta.url);
const { ComputeManagementClient } = require('@azure/arm-compute') as typeof ArmCompute;
const { NetworkManagementClient } = require('@azure/arm-network') as typeof ArmNetwork;
const { ResourceManagementClient } = require('@azure/arm-resources') as typeof ArmResources;

/** The three official ARM clients, pointed at one endpoint (real ARM or cloudsim) with one credential. */
export interface AzureClients {
  readonly compute: ArmCompute.ComputeManagementClient;
  readonly network: ArmNetwork.NetworkManagementClient;
  readonly resources: ArmResources.ResourceManagementClient;
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
