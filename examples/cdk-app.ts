/**
 * The AWS pools of a spec as a CloudFormation stack with `skypool/cdk` (needs aws-cdk-lib and constructs). Synthesizes
 * offline into a temp dir and prints what the stack holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { SkypoolCluster } from 'skypool/cdk';

const outdir = mkdtempSync(join(tmpdir(), 'skypool-example-cdk-'));
try {
  const app = new App({ outdir });
  const stack = new Stack(app, 'SkypoolExample', { env: { region: 'eu-west-1' } });
  new SkypoolCluster(stack, 'Cluster', {
    spec: {
      name: 'cdkexample',
      engine: 'swarm',
      pools: [
        {
          name: 'managers',
          provider: 'aws',
          region: 'eu-west-1',
          size: { cpus: 2, memoryGiB: 4 },
          count: 1,
          role: 'manager',
        },
      ],
    },
    engineApiCidr: '203.0.113.0/24',
  });
  const template = app.synth().getStackByName('SkypoolExample').template as {
    Resources: Record<string, { Type: string }>;
  };
  const types = Object.values(template.Resources).map((r) => r.Type);
  console.log(
    `${types.length} resources, ${types.filter((t) => t === 'AWS::AutoScaling::AutoScalingGroup').length} Auto Scaling group(s)`,
  );
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
