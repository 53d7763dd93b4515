// Cold `import('skypool')` and `skypool --help` times, each in a fresh node process, interleaved; plus a bare
// `node -e 0` in the same run so the ratio to Node's own start-up is visible. Then the CLI against cloudsim: `plan`
// of a three-cloud spec, and how fast a missing region or credential is reported.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, verdict, writeResult } from './lib.mjs';

const runs = Number(process.env.BENCH_RUNS ?? 15);
const entry = join(root, 'dist/src/index.js');
const cli = join(root, 'dist/src/cli/main.js');

function timed(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

// In-process import time (what a user's program pays), measured inside the child.
function importMs() {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const t=performance.now(); await import(${JSON.stringify(entry)}); console.log(JSON.stringify({ms: performance.now()-t}))`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout).ms;
}

const bare = [],
  imports = [],
  helps = [];
for (let i = 0; i < runs; i += 1) {
  bare.push(timed(['-e', '0']));
  imports.push(importMs());
  helps.push(timed([cli, '--help']));
}
// Cloud SDKs must not be loaded by the core import.
const probe = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `await import(${JSON.stringify(entry)}); const { createRequire } = await import('node:module'); const req = createRequire(import.meta.url); console.log(JSON.stringify(Object.keys(req.cache).filter(k => /@aws-sdk|@azure|@google-cloud|aws-cdk-lib/.test(k)).length))`,
  ],
  { encoding: 'utf8' },
);

// `skypool plan` of a three-cloud spec against cloudsim (served by this process; the CLI runs in children).
const planRuns = Number(process.env.BENCH_PLAN_RUNS ?? 5);
const { startCloudSim } = await import(join(root, 'dist/src/cloudsim/index.js'));
const sim = await startCloudSim({ bootTimeMs: 1 });
const dir = await mkdtemp(join(tmpdir(), 'skypool-bench-startup-'));
const spec = join(dir, 'three.yaml');
const ca = join(dir, 'ca.pem');
await writeFile(ca, sim.caCertPem);
await writeFile(
  spec,
  [
    'name: three',
    'engine: swarm',
    'pools:',
    '  - { name: mgr, provider: aws, region: us-east-1, role: manager, count: 1, size: { cpus: 2, memoryGiB: 4 } }',
    '  - { name: gw, provider: gcp, region: us-central1, role: worker, count: 2, size: { cpus: 2, memoryGiB: 8 } }',
    '  - { name: az, provider: azure, region: eastus, role: worker, count: 2, instanceType: Standard_D2s_v5 }',
    '',
  ].join('\n'),
);
// The same spec with no region on the AWS pool (and none in the environment): a spec error, before any SDK loads.
const noRegionSpec = join(dir, 'no-region.yaml');
await writeFile(
  noRegionSpec,
  [
    'name: three',
    'engine: swarm',
    'pools:',
    '  - { name: mgr, provider: aws, role: manager, count: 1, size: { cpus: 2, memoryGiB: 4 } }',
    '  - { name: gw, provider: gcp, region: us-central1, role: worker, count: 2, size: { cpus: 2, memoryGiB: 8 } }',
    '',
  ].join('\n'),
);
const simEnv = {
  ...process.env,
  // The sim's own endpoints and credentials (it accepts no others), plus what a plan needs besides.
  ...sim.env,
  SKYPOOL_STATE_DIR: join(dir, 'state'),
  GOOGLE_CLOUD_PROJECT: 'bench',
  AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000001',
  NODE_EXTRA_CA_CERTS: ca,
};
const without = (...names) => Object.fromEntries(Object.entries(simEnv).filter(([k]) => !names.includes(k)));

// The child reports its own CPU time on exit: on a shared machine CPU time says more than wall time.
const reportCpu = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\ncpu-ms '+Math.round((process.cpuUsage().user+process.cpuUsage().system)/1000)+'\\n'))`;

/**
 * Wall and CPU time of one CLI call; `expectFail` calls must end with exit code 1 and an error naming `expectFail`.
 */
function runCli(args, env, expectFail) {
  const t = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', reportCpu, cli, ...args],
      { env, encoding: 'utf8' },
      (error, _o, stderr) => {
        const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
        if (expectFail ? !error || !stderr.includes(expectFail) : error)
          reject(new Error(`skypool ${args.join(' ')}: ${error?.message ?? 'succeeded'}\n${stderr}`));
        else resolve({ wallMs, cpuMs: Number(/cpu-ms (\d+)/.exec(stderr)?.[1]) });
      },
    );
  });
}

const plans = [],
  noRegion = [],
  noCredential = [];
try {
  for (let i = 0; i < planRuns; i += 1) {
    plans.push(await runCli(['plan', '-f', spec], simEnv));
    noRegion.push(
      await runCli(['plan', '-f', noRegionSpec], without('AWS_REGION', 'AWS_DEFAULT_REGION'), 'needs a region'),
    );
    noCredential.push(await runCli(['plan', '-f', spec], without('AZURE_ACCESS_TOKEN'), 'AZURE_ACCESS_TOKEN'));
  }
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}

const wall = (runs) => runs.map((r) => r.wallMs);
const cpu = (runs) => runs.map((r) => r.cpuMs);

const result = {
  runs,
  planRuns,
  nodeStartMs: median(bare),
  importSkypool: verdict('cold import("skypool") in-process', median(imports), 80, 'ms'),
  cliHelp: verdict('skypool --help wall time', median(helps), 150, 'ms'),
  cliHelpOverNodeStart: median(helps) / median(bare),
  cloudSdkModulesLoadedByCoreImport: Number(probe.stdout.trim() || 0),
  planThreeClouds: verdict('skypool plan, aws+gcp+azure spec, against cloudsim', median(wall(plans)), 1500, 'ms'),
  planThreeCloudsCpuMs: median(cpu(plans)),
  missingRegion: verdict('skypool plan, a pool without region: error after', median(wall(noRegion)), 500, 'ms'),
  missingRegionCpuMs: median(cpu(noRegion)),
  missingCredential: verdict(
    'skypool plan without AZURE_ACCESS_TOKEN: error after',
    median(wall(noCredential)),
    500,
    'ms',
  ),
  missingCredentialCpuMs: median(cpu(noCredential)),
  loadAverage: loadavg()[0],
};
console.log(
  `CPU ms: plan ${result.planThreeCloudsCpuMs}, missing region ${result.missingRegionCpuMs}, missing credential ${result.missingCredentialCpuMs} (load average ${result.loadAverage.toFixed(1)})`,
);
console.log(
  `node -e 0: ${result.nodeStartMs.toFixed(1)} ms; --help is ${result.cliHelpOverNodeStart.toFixed(2)}x a bare node start`,
);
// The figures of the previous run stay as `before` until BENCH_KEEP_BEFORE=0 resets them (as in inventory.mjs).
const file = join(root, 'bench', 'results', 'startup.json');
const previous = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
const figures = (r) => ({
  at: r.at,
  planThreeCloudsMs: r.planThreeClouds.value,
  planThreeCloudsCpuMs: r.planThreeCloudsCpuMs,
  missingRegionMs: r.missingRegion.value,
  missingCredentialMs: r.missingCredential.value,
  importSkypoolMs: r.importSkypool.value,
});
result.before =
  process.env.BENCH_KEEP_BEFORE === '0' || !previous
    ? figures({ ...result, at: new Date().toISOString() })
    : (previous.before ?? figures(previous));
console.log(`plan vs before: ${(result.planThreeClouds.value / result.before.planThreeCloudsMs).toFixed(2)}x`);
await writeResult('startup', result);
