// Migration of a swarm (a 6-replica HTTP service and the manager) from aws to gcp on cloudsim with the local
// backing: requests failed during the migration (target 0) and the migration's time relative to provisioning a gcp
// pool of the same shape alone in the same run (target ≤ 1.3×), with the same client load running as during the
// migration (`timeOverProvision`) and without it (`timeOverProvisionQuiet`). Needs root on Linux with docker.io,
// busybox-static and wireguard-go; run after `npx tsc` under `flock /tmp/skypool-ns.lock node bench/migrate.mjs`.
// SKYPOOL_BENCH_BOOT_MS sets the simulated VMs' boot time (default 50 ms; cloud-apis.md puts a real one near 25 s);
// another boot time writes bench/results/migrate-boot<ms>ms.json.
// `timeToReleaseOverProvision` stops the clock when the work has left the source and its VMs' termination starts
// (what the source costs ends there); the retirement after it (termination waits, network deletion) takes about a
// boot time again, which `timeOverProvision` includes.
//
// The client re-reads the replicas' addresses from the swarm and tries every replica before it counts a request
// failed (no routing mesh on this kernel: each replica publishes a dynamic host port on its own node).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, verdict, writeResult } from './lib.mjs';

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.log('migrate: skipped (needs root on Linux)');
  process.exit(0);
}

const { Cluster } = await import(join(root, 'dist/src/index.js'));
const { startCloudSim } = await import(join(root, 'dist/src/cloudsim/index.js'));
const { buildHttpdImage } = await import(join(root, 'dist/src/demo/image.js'));
const { LoadLoop } = await import(join(root, 'dist/src/demo/load.js'));
const { staticTokenCredential } = await import(join(root, 'dist/providers/azure/index.js'));
const { vpcCidr } = await import(join(root, 'dist/providers/aws/index.js'));

let name;
do name = `bm${process.pid % 10000}${Math.random().toString(36).slice(2, 6)}`;
while (vpcCidr(name) === '10.128.0.0/16');
const work = mkdtempSync(join(tmpdir(), 'skypool-bench-migrate-'));
const image = await buildHttpdImage(join(work, 'httpd.tar'));
const bootTimeMs = Number(process.env.SKYPOOL_BENCH_BOOT_MS ?? 50);
const sim = await startCloudSim({ backing: 'local', bootTimeMs });
const size = { cpus: 2, memoryGiB: 4 };
const spec = (probe) => ({
  name,
  engine: 'swarm',
  pools: [
    { name: 'managers', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
    { name: 'workers', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 1 },
    // The baseline: a gcp pool of the migration's shape (a manager and a worker), provisioned alone.
    { name: 'probe-m', provider: 'gcp', region: 'us-central1', size, role: 'manager', count: probe },
    { name: 'probe-w', provider: 'gcp', region: 'us-central1', size, role: 'worker', count: probe },
  ],
  images: [image],
});
const options = {
  stateDir: join(work, 'state'),
  readyTimeoutMs: 90_000,
  drainTimeoutMs: 120_000,
  routingMesh: false,
  providers: {
    aws: { region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws, pollIntervalMs: 50 },
    gcp: {
      project: 'skypool-sim',
      region: 'us-central1',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
      pollIntervalMs: 50,
      subnetCidr: '10.128.0.0/20',
    },
    azure: {
      subscriptionId: '3f2c1a9e-7b4d-4e21-9c55-0a1b2c3d4e5f',
      region: 'eastus',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: staticTokenCredential(sim.credentials.azure.accessToken),
    },
  },
};
const cluster = Cluster.fromSpec(spec(0), options);
// Re-reads where the replicas answer once a second and at once after a failed attempt (each read lists the clouds).
const CLIENT = { attempts: 6, refreshMs: 1_000 };
const replicas = async () => {
  const web = await cluster.workload('web');
  return (web?.tasks ?? [])
    .filter((t) => t.state === 'running' && t.desiredState === 'running' && t.address && t.hostPort)
    .map((t) => ({ host: t.address, port: t.hostPort }));
};

try {
  await cluster.apply();
  await cluster.run({ name: 'web', image: 'skypool/demo-httpd:1', replicas: 6, port: 8080 });

  // Provisioning the target's shape alone: one apply that adds both probe pools, in the same run; then removed.
  // Once with no client, once with the migration's client load running (the same conditions as the migration).
  const provisionAlone = async () => {
    const probe = Cluster.fromSpec(spec(1), options);
    const started = performance.now();
    await probe.apply().finally(() => probe.close());
    const ms = performance.now() - started;
    await cluster.apply();
    return ms;
  };
  const provisionAloneQuietMs = await provisionAlone();
  const baselineClient = new LoadLoop(replicas, CLIENT);
  await baselineClient.start();
  const provisionAloneMs = await provisionAlone();
  const baselineLoad = await baselineClient.stop();

  const client = new LoadLoop(replicas, CLIENT);
  await client.start();
  // The profile: every phase (the target's apply phases nested in provision-target) and node step, in ms from
  // the start of the migration.
  const timeline = [];
  let t0 = performance.now();
  const at = () => Math.round(performance.now() - t0);
  const stop = cluster.onProgress((e) => {
    if (e.type === 'phase-start') timeline.push({ at: at(), start: e.phase });
    if (e.type === 'phase-end') timeline.push({ at: at(), end: e.phase, ms: e.ms });
    if (e.type === 'node') timeline.push({ at: at(), node: e.node, state: e.state });
  });
  t0 = performance.now();
  const result = await cluster.migrate({ from: 'aws', to: 'gcp' });
  stop();
  const migrationMs = performance.now() - t0;
  const load = await client.stop();
  const failed = verdict('requests failed during the migration', load.clientVisibleFailures, 0, 'requests');
  const ratio = verdict(
    'migration time / provisioning the target alone (same client load)',
    migrationMs / provisionAloneMs,
    1.3,
    '×',
  );
  verdict('migration time / provisioning the target alone (no client)', migrationMs / provisionAloneQuietMs, 1.3, '×');
  const round = (x) => Math.round(x * 100) / 100;
  const terminating = timeline.filter((e) => e.state === 'terminating').map((e) => e.at);
  const releasedMs = terminating.length > 0 ? Math.max(...terminating) : migrationMs;
  verdict('time until the source is released / provisioning the target alone', releasedMs / provisionAloneMs, 1.3, '×');
  await writeResult(bootTimeMs === 50 ? 'migrate' : `migrate-boot${bootTimeMs}ms`, {
    failedRequests: load.clientVisibleFailures,
    timeOverProvision: round(migrationMs / provisionAloneMs),
    timeOverProvisionQuiet: round(migrationMs / provisionAloneQuietMs),
    timeToReleaseOverProvision: round(releasedMs / provisionAloneMs),
    bootTimeMs,
    releasedMs,
    migrationMs: Math.round(migrationMs),
    provisionAloneMs: Math.round(provisionAloneMs),
    provisionAloneQuietMs: Math.round(provisionAloneQuietMs),
    baselineRequests: baselineLoad,
    provisionInMigrationMs: result.provisionMs,
    requests: load,
    phases: result.phases,
    services: result.services,
    timeline,
    ok: failed.ok && ratio.ok,
  });
} finally {
  await cluster.destroy().catch((e) => console.error(`destroy: ${e.message}`));
  await cluster.close();
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
}
// The local backing's VMs may leave a handle open after the sim stopped: nothing is left to wait for.
process.exit(process.exitCode ?? 0);
