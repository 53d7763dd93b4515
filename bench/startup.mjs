// Cold `import('skypool')` and `skypool --help` times, each in a fresh node process, interleaved; plus a bare
// `node -e 0` in the same run so the ratio to Node's own start-up is visible.
import { spawnSync } from 'node:child_process';
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

const result = {
  runs,
  nodeStartMs: median(bare),
  importSkypool: verdict('cold import("skypool") in-process', median(imports), 80, 'ms'),
  cliHelp: verdict('skypool --help wall time', median(helps), 150, 'ms'),
  cliHelpOverNodeStart: median(helps) / median(bare),
  cloudSdkModulesLoadedByCoreImport: Number(probe.stdout.trim() || 0),
};
console.log(
  `node -e 0: ${result.nodeStartMs.toFixed(1)} ms; --help is ${result.cliHelpOverNodeStart.toFixed(2)}x a bare node start`,
);
await writeResult('startup', result);
