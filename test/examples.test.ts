/**
 * examples/ are typechecked and emitted by `npm run build:examples` (part of pretest) and run here, each in its
 * own process with a bounded time: an example that stops working fails the suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'dist/examples');

function example(name: string) {
  const file = join(dir, `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build:examples (npm test does)`);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('examples', () => {
  it('sdk-cloudsim: plans a cluster on simulated EC2 and prices it', () => {
    const r = example('sdk-cloudsim');
    expect(r.code).toBe(0);
    expect(r.out).toContain('create example-managers-1 (aws)');
    expect(r.out).toMatch(/managers: t3\.medium at \$0\.0416\/hour/);
  });

  it('multi-cloud: plans the three-cloud YAML spec against cloudsim', () => {
    const r = example('multi-cloud');
    expect(r.code).toBe(0);
    expect(r.out).toContain('5 nodes to create');
    for (const cloud of ['aws/us-east-1', 'gcp/europe-west4', 'azure/westeurope']) expect(r.out).toContain(cloud);
  });

  it('cdk-app: synthesizes the AWS pools offline', () => {
    const r = example('cdk-app');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\d+ resources, 1 Auto Scaling group\(s\)/);
  });
});
