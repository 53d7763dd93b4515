// Synth time of the CDK example (3-pool spec: 2 AWS pools + 1 GCP pool) against a bare aws-cdk-lib app with one
// Auto Scaling group, in the same run, interleaved; then both again with aws-cdk-lib's template validation off. Each sample is a fresh node process (what `cdk synth` pays
// after compiling: load aws-cdk-lib, build the tree, synthesize), with the in-process phases reported too.
// Needs `tsc` output in dist/ (npm run bench compiles first). Target: example / bare <= 1.5x.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, verdict, writeResult } from './lib.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 5);

async function child(kind) {
  const outdir = mkdtempSync(join(tmpdir(), `skypool-cdk-bench-${kind}-`));
  try {
    const t0 = performance.now();
    const cdk = await import('aws-cdk-lib');
    const ec2 = await import('aws-cdk-lib/aws-ec2');
    const autoscaling = await import('aws-cdk-lib/aws-autoscaling');
    const example = kind === 'skypool' ? await import(join(root, 'dist/src/cdk/example.js')) : undefined;
    const t1 = performance.now();
    const app = new cdk.App({ outdir });
    if (example) {
      example.buildExampleApp(app);
    } else {
      const stack = new cdk.Stack(app, 'Bare', { env: { region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
      });
      new autoscaling.AutoScalingGroup(stack, 'Group', {
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
        instanceType: new ec2.InstanceType('t3.medium'),
        machineImage: ec2.MachineImage.fromSsmParameter(
          '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
        ),
        minCapacity: 3,
        maxCapacity: 3,
      });
    }
    const t2 = performance.now();
    const assembly = app.synth();
    const t3 = performance.now();
    const resources = assembly.stacks.reduce((n, s) => n + Object.keys(s.template.Resources ?? {}).length, 0);
    console.log(
      JSON.stringify({ loadMs: t1 - t0, buildMs: t2 - t1, synthMs: t3 - t2, inProcessMs: t3 - t0, resources }),
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function sample(kind, env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', kind], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, ...env },
  });
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${kind} synth failed: ${r.stderr}`);
  return { wallMs, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
}

function measure(env) {
  const samples = { bare: [], skypool: [] };
  for (let i = 0; i < runs; i += 1) {
    // Alternate the order so neither side always runs on a warmer page cache.
    for (const kind of i % 2 ? ['skypool', 'bare'] : ['bare', 'skypool']) samples[kind].push(sample(kind, env));
  }
  return samples;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  const samples = measure({});
  // aws-cdk-lib validates every template with a WebAssembly CloudFormation checker at synth (most of the time);
  // the same comparison without it shows what the construct itself costs.
  const unvalidated = measure({ CDK_VALIDATION: 'false' });
  const stat = (kind, key, from = samples) => median(from[kind].map((s) => s[key]));
  const summary = (kind) => ({
    wallMs: stat(kind, 'wallMs'),
    inProcessMs: stat(kind, 'inProcessMs'),
    loadMs: stat(kind, 'loadMs'),
    buildMs: stat(kind, 'buildMs'),
    synthMs: stat(kind, 'synthMs'),
    resources: samples[kind][0].resources,
  });
  const bare = summary('bare');
  const skypool = summary('skypool');
  console.log(
    `bare app (1 ASG, ${bare.resources} resources): ${bare.wallMs.toFixed(0)} ms wall, build+synth ${(bare.buildMs + bare.synthMs).toFixed(0)} ms`,
  );
  console.log(
    `skypool example (${skypool.resources} resources): ${skypool.wallMs.toFixed(0)} ms wall, build+synth ${(skypool.buildMs + skypool.synthMs).toFixed(0)} ms`,
  );
  const result = {
    runs,
    bare,
    skypool,
    ratioWall: verdict('example / bare, process wall time', skypool.wallMs / bare.wallMs, 1.5, 'x'),
    ratioBuildAndSynth: (skypool.buildMs + skypool.synthMs) / (bare.buildMs + bare.synthMs),
    withoutCfnValidation: {
      bareWallMs: stat('bare', 'wallMs', unvalidated),
      skypoolWallMs: stat('skypool', 'wallMs', unvalidated),
      ratioWall: stat('skypool', 'wallMs', unvalidated) / stat('bare', 'wallMs', unvalidated),
    },
  };
  console.log(`build+synth only (aws-cdk-lib load excluded): ${result.ratioBuildAndSynth.toFixed(2)}x`);
  const nv = result.withoutCfnValidation;
  console.log(
    `without CloudFormation validation (CDK_VALIDATION=false): bare ${nv.bareWallMs.toFixed(0)} ms, example ${nv.skypoolWallMs.toFixed(0)} ms, ${nv.ratioWall.toFixed(2)}x`,
  );
  await writeResult('cdk-synth', result);
}
