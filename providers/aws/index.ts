/**
 * The aws provider: EC2 through the official @aws-sdk/client-ec2, against AWS or any endpoint speaking the
 * EC2 query API (cloudsim: `createProvider({ region: 'us-east-1', endpoint: sim.httpUrl, credentials })`).
 */
import { AwsProvider, type AwsProviderSettings } from './provider.js';

export { FABRIC_PORT, FABRIC_RULE_DESCRIPTION, subnetCidr, vpcCidr } from './network.js';
export { type AwsCredentials, AwsProvider, type AwsProviderSettings, clientTokenFor, nameOf } from './provider.js';

export function createProvider(settings: AwsProviderSettings = {}): AwsProvider {
  return new AwsProvider(settings);
}
