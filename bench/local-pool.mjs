// Local provider + Docker Swarm: time to a 3-node pool Ready, memory per VM with its engine, and the demo's drain
// numbers (drain duration, requests failed while tasks moved). Needs root on Linux. One run; ratios vs targets.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, verdict, writeResult } from './lib.mjs';

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.log('local-pool: skipped (needs root on Linux)');
  process.exit(0);
}

const { Cluster } = await import(join(root, 'dist/src/index.js'));
const name = `bench-${process.pid}`;
const stateDir = mkdtempSync(join(tmpdir(), 'skypool-bench-'));
const cluster = Cluster.fromSpec(
  {
    name,
    engine: 'swarm',
    pools: [
      { name: 'm', provider: 'local', role: 'manager', count: 1 },
      { name: 'w', provider: 'local', role: 'worker', count: 2 },
    ],
  },
  { stateDir },
);

function rssOfNetns(ns) {
  const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  let kb = 0;
  for (const pid of out.split(/\s+/).filter(Boolean)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // the process exited meanwhile
    }
  }
  return kb / 1024;
}

const result = {};
try {
  const t = performance.now();
  const applied = await cluster.apply();
  result.poolReady = verdict('3-node pool Ready', performance.now() - t, 10_000, 'ms');
  result.phases = applied.phases;
  const status = await cluster.status();
  const perVm = status.nodes.map((n) => ({ node: n.name, rssMiB: rssOfNetns(`skypool-${name}-${n.name}`) }));
  const mean = perVm.reduce((s, v) => s + v.rssMiB, 0) / perVm.length;
  result.memoryPerVm = verdict('RSS per VM (dockerd + containerd + agent)', mean, 160, 'MiB');
  result.perVm = perVm;
} finally {
  await cluster.destroy().catch((e) => console.error(`destroy failed: ${e.message}`));
  await cluster.close();
  rmSync(stateDir, { recursive: true, force: true });
}

const demo = spawnSync(process.execPath, [join(root, 'dist/src/demo/main.js'), '--output', 'json'], {
  encoding: 'utf8',
  timeout: 300_000,
});
if (demo.status === 0) {
  const report = JSON.parse(demo.stdout);
  result.demo = { timings: report.timings, requests: report.requests };
  if (report.timings?.drainMs !== undefined)
    result.drain = verdict('drain moved every task', report.timings.drainMs, 5_000, 'ms');
  const failed = report.requests?.failed ?? report.requests?.clientVisibleFailures;
  if (failed !== undefined) console.log(`requests failed during the drain: ${failed} (target 0)`);
} else {
  result.demo = { error: demo.stderr.slice(-2000) };
  console.log('demo failed; see bench/results/local-pool.json');
}
await writeResult('local-pool', result);
