// Local provider: time to a 3-VM pool ready with Docker Swarm and, beside it, with Slurm (1 controller + 2 dynamic
// nodes, all idle); memory per VM with its engine; the demo's drain numbers (drain duration, requests failed while
// tasks moved); Slurm's first 2-node job. Slurm's target (issue 10): ≤ 3× the floor of the Slurm daemons alone in
// namespace VMs (~0.5 s, shared/reference/local-vms.md) plus the VM starts (the controller's, then the nodes' in
// parallel), the VM start measured here on a bare VM. Needs root on Linux (Slurm: slurm-wlm and munge). One run.
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
const { createProvider } = await import(join(root, 'dist/providers/local/index.js'));
const SLURM_FLOOR_MS = 500;
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
result.slurm = await slurmPool();
console.log(
  `pool ready, 3 local VMs: swarm ${result.poolReady.value.toFixed(0)} ms, slurm ${result.slurm.poolReady?.value.toFixed(0) ?? '-'} ms`,
);
await writeResult('local-pool', result);

/** A bare VM (no engine): netns, veth, anchor, private mounts, user-data started. */
async function bareVmStartMs(prefix) {
  const provider = await createProvider();
  try {
    const network = await provider.ensureNetwork(prefix);
    const t = performance.now();
    const [vm] = await provider.runInstances({
      cluster: prefix,
      pool: { name: 'p', provider: 'local', role: 'worker', count: 1 },
      tags: { cluster: prefix, pool: 'p', role: 'worker', specHash: 'bench' },
      network,
      nodes: [{ name: `${prefix}-p-1` }],
      userData: '#!/bin/sh\ntrue\n',
      idempotencyToken: `bench-${process.pid}`,
    });
    await provider.waitUntilRunning([vm.id], { deadline: Date.now() + 30_000 });
    return performance.now() - t;
  } finally {
    await provider.cleanupCluster(prefix);
    await provider.close?.();
  }
}

/** Slurm on the same provider: 1 controller + 2 dynamic nodes to idle, then a first 2-node job. */
async function slurmPool() {
  const slurm = { vmStartMs: await bareVmStartMs(`bslurm${process.pid % 100000}v`) };
  const slurmName = `bslurm${process.pid % 100000}`;
  const slurmState = mkdtempSync(join(tmpdir(), 'skypool-bench-'));
  const pool = Cluster.fromSpec(
    {
      name: slurmName,
      engine: 'slurm',
      pools: [
        { name: 'ctl', provider: 'local', role: 'manager', count: 1 },
        { name: 'nodes', provider: 'local', role: 'worker', count: 2 },
      ],
    },
    { stateDir: slurmState },
  );
  try {
    const t = performance.now();
    const applied = await pool.apply();
    const target = 3 * SLURM_FLOOR_MS + 2 * slurm.vmStartMs;
    slurm.poolReady = verdict('slurm 1+2 pool ready (nodes idle)', performance.now() - t, Math.round(target), 'ms');
    slurm.phases = applied.phases;
    const j = performance.now();
    const job = await pool.run({ kind: 'job', name: 'hn', nodes: 2, script: '#!/bin/sh\nsrun -N2 hostname\n' });
    slurm.firstJobMs = performance.now() - j;
    console.log(`slurm first 2-node job: ${job.state} in ${slurm.firstJobMs.toFixed(0)} ms`);
  } catch (error) {
    slurm.error = error.message;
    console.log(`slurm pool failed: ${error.message}`);
  } finally {
    await pool.destroy().catch((e) => console.error(`slurm destroy failed: ${e.message}`));
    await pool.close();
    rmSync(slurmState, { recursive: true, force: true });
  }
  return slurm;
}
