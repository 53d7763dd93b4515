// Runs every benchmark in bench/ one after another (never in parallel: 2 cores) and lists their results.

import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { root } from './lib.mjs';

const only = process.argv.slice(2);
const files = (await readdir(join(root, 'bench'))).filter(
  (f) => f.endsWith('.mjs') && !['lib.mjs', 'run.mjs'].includes(f),
);
let failed = 0;
for (const file of files.filter((f) => only.length === 0 || only.some((o) => f.includes(o)))) {
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'bench', file)], { stdio: 'inherit' });
  if (r.status !== 0) failed += 1;
}
process.exitCode = failed ? 1 : 0;
