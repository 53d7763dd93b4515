import { App, Stack } from 'aws-cdk-lib';
import type { ClusterSpecInput } from '../spec/schema.js';
import { SkypoolCluster } from './cluster.js';

/** The 3-pool example of the CDK app, tests and bench: AWS managers, AWS workers, and a GCP pool synth warns about. */
export const EXAMPLE_SPEC: ClusterSpecInput = {
  apiVersion: 'skypool/v1',
  name: 'demo',
  engine: 'swarm',
  pools: [
    {
      name: 'managers',
      provider: 'aws',
      region: 'eu-west-1',
      size: { cpus: 2, memoryGiB: 4 },
      count: 3,
      role: 'manager',
    },
    {
      name: 'workers',
      provider: 'aws',
      region: 'eu-west-1',
      instanceType: 'm6i.large',
      count: 4,
      role: 'worker',
      labels: { tier: 'web' },
    },
    {
      name: 'gcp-workers',
      provider: 'gcp',
      region: 'europe-west4',
      size: { cpus: 4, memoryGiB: 16 },
      count: 2,
      role: 'worker',
    },
  ],
};

/**
 * The example as one stack. No account and no context lookups: the AMI is a CloudFormation SSM parameter and the
 * availability zones are `Fn::GetAZs`, so synth works offline.
 */
export function buildExampleApp(
  app = new App(),
  engineApiCidr = '203.0.113.0/24',
): { app: App; stack: Stack; cluster: SkypoolCluster } {
  const region = EXAMPLE_SPEC.pools.find((p) => p.provider === 'aws')?.region;
  const stack = new Stack(app, 'SkypoolDemo', {
    env: { region },
    description: 'skypool example: the AWS pools of cluster demo',
  });
  const cluster = new SkypoolCluster(stack, 'Cluster', {
    spec: EXAMPLE_SPEC,
    engineApiCidr,
    externalNodeCidrs: ['198.51.100.0/24'],
  });
  return { app, stack, cluster };
}
