#!/usr/bin/env node
import { existsSync, readdirSync, readFileSync } from 'node:fs';
/**
 * `npm run demo`: a 3-node Docker Swarm on the local provider (namespace VMs), a 6-replica HTTP service built
 * offline, a scale-down under continuous traffic, then a full teardown. Prints what it measured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeName } from '../../providers/local/index.js';
import { type ApplyResult, Cluster, type WorkloadStatus } from '../cluster/index.js';
import { PrerequisiteError, SkypoolError, TimeoutError } from '../errors.js';
import { redact } from '../redact.js';
import { buildHttpdImage } from './image.js';
import { type Endpoint, httpGet, LoadLoop, type LoadReport } from './load.js';

interface DemoReport {
  cluster: string;
  ok: boolean;
  timings: {
    imageBuildMs?: number;
    poolReadyMs?: number;
    serviceReadyMs?: number;
    drainMs?: number;
    scaleDownMs?: number;
    destroyMs?: number;
    totalMs?: number;
  };
  replicas?: { desired: number; answering: number; hostnames: string[] };
  afterScaleDown?: { nodes: number; runningReplicas: number; onNodes: string[] };
  requests?: LoadReport;
  leftovers?: string[];
  notes: string[];
  error?: { code: string; message: string };
}

const json =
  process.argv.includes('--json') ||
  process.argv.join(' ').includes('--output json') ||
  process.argv.includes('--output=json');
const started = performance.now();
const since = (t: number): number => Math.round(performance.now() - t);
const say = (text: string): void => {
  if (!json) process.stderr.write(`${text}\n`);
};

function checkPlatform(): void {
  if (process.platform !== 'linux')
    throw new PrerequisiteError(
      'the demo runs the local provider, which needs Linux namespaces: run it on Linux as root',
    );
  if (process.getuid?.() !== 0)
    throw new PrerequisiteError('the demo creates network namespaces and bridges: run it as root (sudo npm run demo)');
}

function endpointsOf(status: WorkloadStatus | undefined): Endpoint[] {
  return (status?.tasks ?? [])
    .filter((t) => t.state === 'running' && t.desiredState === 'running' && t.address && t.hostPort)
    .map((t) => ({ host: t.address!, port: t.hostPort! }));
}

/** Asks every replica until each answered once (polling with a deadline: a fresh container may need a moment). */
async function everyReplicaAnswers(endpoints: readonly Endpoint[], deadlineMs: number): Promise<string[]> {
  const deadline = Date.now() + deadlineMs;
  return Promise.all(
    endpoints.map(async (endpoint) => {
      for (;;) {
        try {
          return (await httpGet(endpoint)).trim();
        } catch (error) {
          if (Date.now() > deadline)
            throw new TimeoutError(
              `replica at ${endpoint.host}:${endpoint.port} did not answer: ${(error as Error).message}`,
            );
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
}

/** Host objects a local cluster creates; the demo lists whatever is left after destroy (should be nothing). */
function leftovers(cluster: string): string[] {
  const found: string[] = [];
  const ls = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return ''; // gone meanwhile
    }
  };
  found.push(
    ...ls('/run/netns')
      .filter((n) => n.includes(cluster))
      .map((n) => `netns ${n}`),
  );
  if (existsSync(`/sys/class/net/${bridgeName(cluster)}`)) found.push(`bridge ${bridgeName(cluster)}`);
  found.push(
    ...read('/proc/self/mountinfo')
      .split('\n')
      .filter((l) => l.includes(cluster))
      .map((l) => `mount ${l.split(' ')[4]}`),
  );
  for (const controller of ls('/sys/fs/cgroup')) {
    found.push(
      ...ls(join('/sys/fs/cgroup', controller))
        .filter((d) => d.startsWith(`skypool-${cluster}-`))
        .map((d) => `cgroup ${controller}/${d}`),
    );
  }
  // Engine daemons of the VMs carry the node name in their arguments (--cgroup-parent skypool-<node>); their
  // containers sit in cgroups named after it. A process that is still exiting counts too (not yet a zombie).
  for (const pid of ls('/proc').filter((p) => /^\d+$/.test(p))) {
    const stat = read(`/proc/${pid}/stat`);
    if (!stat || /^\S+ \(.*\) [ZX]/.test(stat)) continue;
    const cmd = read(`/proc/${pid}/cmdline`).split('\0').join(' ');
    if (cmd.includes(`skypool-${cluster}-`) || read(`/proc/${pid}/cgroup`).includes(`skypool-${cluster}-`))
      found.push(`process ${pid} ${cmd.slice(0, 60) || stat.slice(0, 40)}`);
  }
  return found;
}

async function main(): Promise<number> {
  const report: DemoReport = { cluster: `demo-${process.pid}`, ok: false, timings: {}, notes: [] };
  const work = await mkdtemp(join(tmpdir(), 'skypool-demo-'));
  const abort = new AbortController();
  let cluster: Cluster | undefined;
  // Destroy passes are chained: the signal handler and the failure path may both ask, and a second pass also
  // catches a VM that an interrupted launch created after the first pass listed the instances.
  let destroying: Promise<void> = Promise.resolve();
  const destroy = (): Promise<void> => {
    destroying = destroying.then(async () => {
      if (!cluster) return;
      const t = performance.now();
      say('• destroying the cluster');
      await cluster.destroy();
      report.timings.destroyMs = (report.timings.destroyMs ?? 0) + since(t);
    });
    return destroying;
  };
  let interrupted = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // `npm run` forwards the terminal's Ctrl-C to the child, which then sees it twice within milliseconds:
    // only a signal well after the first one skips the cleanup.
    if (interrupted) {
      if (Date.now() - interrupted > 1_000) process.exit(130);
      return;
    }
    interrupted = Date.now();
    say(`\n${signal}: stopping and removing everything the demo created (again to force)`);
    abort.abort(new Error(`interrupted by ${signal}`));
    void destroy().catch((error: unknown) => say(`cleanup failed: ${redact(String(error))}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    checkPlatform();
    let t = performance.now();
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    report.timings.imageBuildMs = since(t);
    say(`• built ${image.name} offline (busybox httpd) in ${report.timings.imageBuildMs} ms`);

    cluster = Cluster.fromSpec(
      {
        name: report.cluster,
        engine: 'swarm',
        pools: [
          { name: 'managers', provider: 'local', role: 'manager', count: 1 },
          { name: 'workers', provider: 'local', role: 'worker', count: 2 },
        ],
        images: [image],
      },
      { stateDir: join(work, 'state'), readyTimeoutMs: 60_000, drainTimeoutMs: 30_000 },
    );
    const signal = abort.signal;

    say('• applying 1 manager + 2 workers on the local provider');
    const applied: ApplyResult = await cluster.apply({ signal });
    report.timings.poolReadyMs = applied.durationMs;
    say(`  pool ready in ${applied.durationMs} ms (${applied.created.join(', ')})`);

    t = performance.now();
    const service = await cluster.run({ name: 'web', image: image.name, replicas: 6, port: 8080 }, { signal });
    report.timings.serviceReadyMs = since(t);
    const endpoints = endpointsOf(service);
    const hostnames = await everyReplicaAnswers(endpoints, 10_000);
    report.replicas = { desired: 6, answering: new Set(hostnames).size, hostnames: [...new Set(hostnames)].sort() };
    say(
      `  6 replicas running in ${report.timings.serviceReadyMs} ms; ${report.replicas.answering} distinct replicas answered:`,
    );
    for (const task of service.tasks) say(`    ${task.node} ${task.address}:${task.hostPort}`);
    const status = await cluster.status();
    report.notes.push(...status.notes);

    say('• scaling workers 2 → 1 (drain first) under continuous requests');
    const load = new LoadLoop(async () => endpointsOf(await cluster!.workload('web')));
    await load.start();
    t = performance.now();
    const scaled = await cluster.scale('workers', 1, { signal });
    report.timings.scaleDownMs = since(t);
    report.timings.drainMs = scaled.drains[0]?.durationMs;
    // Keep the traffic going briefly after the node is gone, to catch stale endpoints too.
    await new Promise((r) => setTimeout(r, 500));
    report.requests = await load.stop();
    const after = await cluster.workload('web');
    const nodesAfter = (await cluster.status()).nodes.filter((n) => n.engine?.state === 'ready');
    report.afterScaleDown = {
      nodes: nodesAfter.length,
      runningReplicas: after?.runningReplicas ?? 0,
      onNodes: [...new Set((after?.tasks ?? []).filter((x) => x.state === 'running').map((x) => x.node ?? '?'))].sort(),
    };
    say(
      `  drained in ${report.timings.drainMs} ms (scale-down ${report.timings.scaleDownMs} ms); ${report.afterScaleDown.runningReplicas} replicas on ${report.afterScaleDown.onNodes.join(', ')}`,
    );
    const r = report.requests;
    say(
      `  requests: ${r.sent} sent, ${r.ok} ok, ${r.clientVisibleFailures} client-visible failures, ${r.rawConnectionErrors} raw connection errors (retried on other replicas)`,
    );

    await destroy();
    report.leftovers = leftovers(report.cluster);
    report.ok =
      report.replicas.answering === 6 && report.afterScaleDown.runningReplicas === 6 && report.leftovers.length === 0;
    return report.ok ? 0 : 1;
  } catch (error) {
    report.error = SkypoolError.isInstance(error)
      ? { code: error.code, message: redact(error.message) }
      : { code: 'INTERNAL', message: redact(error instanceof Error ? error.message : String(error)) };
    say(`✗ ${report.error.message}`);
    await destroy().catch((e: unknown) => say(`cleanup failed: ${redact(String(e))}`));
    report.leftovers = leftovers(report.cluster);
    if (interrupted) return 130;
    return SkypoolError.isInstance(error) ? error.exitCode : 1;
  } finally {
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
    report.timings.totalMs = since(started);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else if (cluster) {
      say(
        `• destroyed in ${report.timings.destroyMs ?? '-'} ms; leftovers: ${report.leftovers?.length ? report.leftovers.join(', ') : 'none'}; total ${report.timings.totalMs} ms`,
      );
      for (const note of report.notes) say(`  note: ${note}`);
    }
  }
}

process.exitCode = await main();
