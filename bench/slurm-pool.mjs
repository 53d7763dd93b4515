// Local provider + Slurm: time to a pool of 1 controller + 2 dynamic nodes (all idle), beside local-pool's Swarm
// figure, and the first 2-node job. Target (issue 10): ≤ 3× the floor of the Slurm daemons alone in namespace VMs
// (~0.5 s, shared/reference/local-vms.md) plus the VM starts (the controller's, then the nodes' in parallel), with
// the VM start measured here on a bare VM. Needs root on Linux with slurm-wlm and munge. One run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, verdict, writeResult } from './lib.mjs';

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.log('slurm-pool: skipped (needs root on Linux)');
  process.exit(0);
}

const { Cluster } = await import(join(root, 'dist/src/index.js'));
const { createProvider } = await import(join(root, 'dist/providers/local/index.js'));
const SLURM_FLOOR_MS = 500;
const name = `bslurm${process.pid % 100000}`;
const stateDir = mkdtempSync(join(tmpdir(), 'skypool-bench-'));
const result = {};

// A bare VM (no engine): netns, veth, anchor, private mounts, user-data started.
const provider = await createProvider();
try {
  const network = await provider.ensureNetwork(`${name}v`);
  const t = performance.now();
  const [vm] = await provider.runInstances({
    cluster: `${name}v`,
    pool: { name: 'p', provider: 'local', role: 'worker', count: 1 },
    tags: { cluster: `${name}v`, pool: 'p', role: 'worker', specHash: 'bench' },
    network,
    nodes: [{ name: `${name}v-p-1` }],
    userData: '#!/bin/sh\ntrue\n',
    idempotencyToken: `bench-${process.pid}`,
  });
  await provider.waitUntilRunning([vm.id], { deadline: Date.now() + 30_000 });
  result.vmStartMs = performance.now() - t;
} finally {
  await provider.cleanupCluster(`${name}v`);
  await provider.close?.();
}

const cluster = Cluster.fromSpec(
  {
    name,
    engine: 'slurm',
    pools: [
      { name: 'ctl', provider: 'local', role: 'manager', count: 1 },
      { name: 'nodes', provider: 'local', role: 'worker', count: 2 },
    ],
  },
  { stateDir },
);
try {
  const t = performance.now();
  const applied = await cluster.apply();
  const target = 3 * SLURM_FLOOR_MS + 2 * result.vmStartMs;
  result.poolReady = verdict('slurm 1+2 pool ready (nodes idle)', performance.now() - t, Math.round(target), 'ms');
  result.phases = applied.phases;
  const j = performance.now();
  const job = await cluster.run({ kind: 'job', name: 'hn', nodes: 2, script: '#!/bin/sh\nsrun hostname\n' });
  result.firstJobMs = performance.now() - j;
  console.log(`first 2-node job: ${job.state} in ${result.firstJobMs.toFixed(0)} ms`);
} finally {
  await cluster.destroy().catch((e) => console.error(`destroy failed: ${e.message}`));
  await cluster.close();
  rmSync(stateDir, { recursive: true, force: true });
}
await writeResult('slurm-pool', result);
