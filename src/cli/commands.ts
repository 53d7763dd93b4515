import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultStateDir } from '../bootstrap/cluster-pki.js';
import { wholeInternetWarning } from '../cluster/engine-api.js';
import { Cluster, type ClusterOptions, type MigrateOptions } from '../cluster/index.js';
import { estimateCost } from '../pricing/cost.js';
import { specJsonSchema } from '../spec/json-schema.js';
import { loadSpec } from '../spec/load.js';
import { PROVIDERS, type ProviderName } from '../spec/schema.js';
import { UsageError } from './errors.js';
import { type GlobalOptions, note, printResult, table } from './output.js';
import { withProgress } from './progress.js';
import { renderApply, renderDestroy, renderJob, renderStatus, renderWorkload } from './render.js';
import { renderCost } from './render-cost.js';
import { renderMigration, renderMigrationPlan } from './render-migrate.js';
import { describeFaults, type SimFaultFlags, simSettingsFromFlags } from './sim-flags.js';

function clusterOptions(g: GlobalOptions): ClusterOptions {
  return {
    ...(g.stateDir ? { stateDir: g.stateDir } : {}),
    ...(g.adminCidr?.length ? { adminCidrs: g.adminCidr } : {}),
    ...(g.readyTimeout ? { readyTimeoutMs: g.readyTimeout * 1000 } : {}),
  };
}

async function open(g: GlobalOptions): Promise<Cluster> {
  return Cluster.load(g.file, clusterOptions(g));
}

/** Runs `body` with the cluster open and closes it afterwards, also on failure or Ctrl-C. */
async function using<T>(g: GlobalOptions, body: (cluster: Cluster) => Promise<T>): Promise<T> {
  const cluster = await open(g);
  try {
    return await body(cluster);
  } finally {
    await cluster.close();
  }
}

export async function up(g: GlobalOptions): Promise<void> {
  await using(g, async (cluster) => {
    const result = await withProgress(g, cluster, `Applying cluster ${cluster.spec.name}`, () => cluster.apply());
    printResult(g.output, result, () => renderApply(result));
  });
}

export async function plan(g: GlobalOptions): Promise<void> {
  await using(g, async (cluster) => {
    const p = await cluster.plan();
    const json = {
      cluster: p.cluster,
      hasChanges: p.hasChanges,
      creates: p.creates.map((c) => ({
        pool: c.pool.name,
        provider: c.pool.provider,
        role: c.pool.role,
        names: c.names,
      })),
      deletes: p.deletes.map((d) => ({
        name: d.instance.name,
        id: d.instance.id,
        provider: d.instance.provider,
        pool: d.instance.tags.pool,
        reason: d.reason,
      })),
      unchanged: p.unchanged.map((i) => i.name),
      stopped: p.unchanged.filter((i) => i.state === 'stopped').map((i) => i.name),
      engineApi: p.engineApi ?? [],
      cost: estimateCost(cluster.spec),
      ...(p.migration ? { migration: p.migration } : {}),
      outside: (p.outside ?? []).map((g) => ({
        pool: g.pool,
        provider: g.provider,
        role: g.role,
        names: g.instances.map((i) => i.name),
      })),
      warnings: p.warnings ?? [],
    };
    const warning = wholeInternetWarning(json.engineApi);
    if (warning) note(`warning: ${warning}`);
    const access = [
      ...json.engineApi.map(
        (e) => `engine API (2376/tcp) of ${e.provider} nodes reachable from ${e.sources.join(', ')}`,
      ),
      ...json.stopped.map((name) => `${name} is stopped: kept, not replaced (start it on its cloud and it rejoins)`),
    ];
    printResult(g.output, json, () => {
      const cost = renderCost(json.cost);
      const migration = p.migration ? `\n\nIn progress: ${renderMigrationPlan(p.migration)}` : '';
      const warnings = json.warnings.length ? `\n\n${json.warnings.map((w) => `warning: ${w}`).join('\n')}` : '';
      const tail = `${access.length ? `\n${access.join('\n')}` : ''}${migration}${warnings}`;
      if (!p.hasChanges)
        return `cluster ${p.cluster}: no changes (${p.unchanged.length} nodes match the spec)${tail}\n\n${cost}`;
      const rows = [
        ['ACTION', 'NODE', 'POOL', 'PROVIDER', 'REASON'],
        ...json.creates.flatMap((c) => c.names.map((n) => ['+ create', n, c.pool, c.provider, ''])),
        ...json.deletes.map((d) => ['- delete', d.name, d.pool, d.provider, d.reason]),
      ];
      return `${table(rows)}\n\nPlan: ${json.creates.reduce((n, c) => n + c.names.length, 0)} to create, ${json.deletes.length} to delete, ${json.unchanged.length} unchanged.${tail}\n\n${cost}`;
    });
  });
}

/** `skypool doctor`: one line per check; exit code 1 when one fails. Without a spec file every cloud is checked. */
export async function doctor(g: GlobalOptions, specGiven: boolean): Promise<void> {
  const { runDoctor, renderDoctor } = await import('../doctor.js');
  const spec = specGiven || existsSync(g.file) ? await loadSpec(g.file) : undefined;
  const report = await runDoctor(spec);
  printResult(g.output, report, () => renderDoctor(report));
  if (report.failed > 0) process.exitCode = 1;
}

export async function status(g: GlobalOptions): Promise<void> {
  await using(g, async (cluster) => {
    const s = await cluster.status();
    if (g.output === 'mermaid' || g.output === 'dot') {
      const { renderStatusGraph } = await import('../cluster/graph.js');
      printResult('text', s, () => renderStatusGraph(s, g.output as 'mermaid' | 'dot', cluster.spec.pools));
    } else printResult(g.output, s, () => renderStatus(s));
  });
}

export interface RunArgs {
  readonly name: string;
  readonly image: string;
  readonly replicas: number;
  readonly port?: number;
  readonly constraint?: string[];
  readonly env?: string[];
  readonly command: string[];
}

export async function run(g: GlobalOptions, args: RunArgs): Promise<void> {
  await using(g, async (cluster) => {
    const env = Object.fromEntries(
      (args.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const result = await withProgress(g, cluster, `Running ${args.name}`, () =>
      cluster.run({
        name: args.name,
        image: args.image,
        replicas: args.replicas,
        ...(args.port ? { port: args.port } : {}),
        ...(args.constraint?.length ? { constraints: args.constraint } : {}),
        ...(Object.keys(env).length ? { env } : {}),
        ...(args.command.length ? { command: args.command } : {}),
      }),
    );
    printResult(g.output, result, () => renderWorkload(result));
  });
}

export interface SubmitArgs {
  readonly name: string;
  readonly script: string;
  readonly nodes: number;
  readonly tasks?: number;
  readonly time: number;
  readonly env?: string[];
  readonly wait: boolean;
}

export async function submit(g: GlobalOptions, args: SubmitArgs): Promise<void> {
  const script = await readFile(args.script, 'utf8');
  await using(g, async (cluster) => {
    const env = Object.fromEntries(
      (args.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const result = await withProgress(g, cluster, `Running job ${args.name}`, () =>
      cluster.run({
        kind: 'job',
        name: args.name,
        script,
        nodes: args.nodes,
        ...(args.tasks ? { tasks: args.tasks } : {}),
        timeLimitMinutes: args.time,
        wait: args.wait,
        ...(Object.keys(env).length ? { env } : {}),
      }),
    );
    printResult(g.output, result, () => renderJob(result));
  });
}

export async function scale(g: GlobalOptions, pool: string, count: number): Promise<void> {
  await using(g, async (cluster) => {
    const result = await withProgress(g, cluster, `Scaling ${pool} to ${count}`, () => cluster.scale(pool, count));
    printResult(g.output, result, () => renderApply(result));
  });
}

export interface MigrateArgs {
  readonly from: string;
  readonly to: string;
  readonly toRegion?: string;
  /** `<cpus>x<GiB>`, e.g. 2x4. */
  readonly toSize?: string;
  readonly toInstanceType?: string;
  readonly toPool?: string;
  readonly dryRun: boolean;
  readonly rollback?: boolean;
  readonly writeSpec: boolean;
}

function inlineTarget(args: MigrateArgs): MigrateOptions['to'] {
  const inline = args.toRegion || args.toSize || args.toInstanceType || args.toPool;
  if (!inline) return args.to;
  if (!(PROVIDERS as readonly string[]).includes(args.to))
    throw new UsageError(
      `--to-region, --to-size, --to-instance-type and --to-pool describe a new pool: --to must name a provider (${PROVIDERS.join(', ')})`,
    );
  const size = args.toSize ? /^(\d+)x(\d+(?:\.\d+)?)$/.exec(args.toSize) : undefined;
  if (args.toSize && !size) throw new UsageError(`--to-size must be <cpus>x<GiB>, e.g. 2x4; got "${args.toSize}"`);
  return {
    provider: args.to as ProviderName,
    ...(args.toRegion ? { region: args.toRegion } : {}),
    ...(size ? { size: { cpus: Number(size[1]), memoryGiB: Number(size[2]) } } : {}),
    ...(args.toInstanceType ? { instanceType: args.toInstanceType } : {}),
    ...(args.toPool ? { name: args.toPool } : {}),
  };
}

/** Writes the pools after a migration into the spec file, keeping everything else (and its comments). */
async function writePools(file: string, pools: readonly unknown[]): Promise<void> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  doc.set('pools', doc.createNode(pools));
  await writeFile(file, doc.toString());
}

export async function migrate(g: GlobalOptions, args: MigrateArgs): Promise<void> {
  const to = inlineTarget(args);
  await using(g, async (cluster) => {
    const title = `${args.dryRun ? 'Planning the migration' : args.rollback ? 'Rolling back the migration' : 'Migrating'} of ${args.from} to ${args.to}`;
    const result = await withProgress(g, cluster, title, () =>
      cluster.migrate({ from: args.from, to, dryRun: args.dryRun, rollback: args.rollback === true }),
    );
    if (!result.dryRun && !result.rolledBack && args.writeSpec) {
      await writePools(g.file, result.plan.pools);
      note(`${g.file}: pools updated to the cluster after the migration`);
    }
    printResult(g.output, result, () => renderMigration(result));
  });
}

export async function down(g: GlobalOptions): Promise<void> {
  await using(g, async (cluster) => {
    const result = await withProgress(g, cluster, `Destroying cluster ${cluster.spec.name}`, () => cluster.destroy());
    printResult(g.output, result, () => renderDestroy(result));
  });
}

export async function rotateCa(g: GlobalOptions): Promise<void> {
  await using(g, async (cluster) => {
    const result = await withProgress(g, cluster, `Rotating the CA of cluster ${cluster.spec.name}`, () =>
      cluster.rotateCa(),
    );
    printResult(g.output, result, () =>
      [
        ...(result.engineApi
          ? [
              `cluster ${result.cluster}: new engine API client CA valid until ${result.engineApi.validUntil}; ${result.engineApi.nodes} nodes trust only it (${result.engineApi.restarted} dockerd restarts${result.engineApi.resumed ? ', resumed' : ''})`,
            ]
          : []),
        `cluster ${result.cluster}: new swarm CA valid until ${result.validUntil}; ${result.nodes} nodes re-certified`,
      ].join('\n'),
    );
  });
}

export async function schema(): Promise<void> {
  process.stdout.write(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
}

export interface SimArgs extends SimFaultFlags {
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly seed: number;
  readonly bootMs: number;
  readonly stateFile?: string;
  readonly caOut?: string;
  /** Where the env file goes (default `<state dir>/sim.env`). */
  readonly envOut?: string;
  /** An env file of an earlier run whose credentials this run accepts again. */
  readonly credentialsFrom?: string;
  readonly backing?: 'virtual' | 'local';
  readonly network?: 'flat' | 'realistic';
}

export async function sim(g: GlobalOptions, args: SimArgs): Promise<void> {
  if (args.network === 'realistic' && args.backing !== 'local')
    throw new UsageError('--network realistic wires real namespace VMs: add --backing local (as root)');
  const { startCloudSim } = await import('../cloudsim/index.js');
  const { readSimCredentials, writeSimEnvFile } = await import('../cloudsim/env-file.js');
  const given = args.credentialsFrom ? await readSimCredentials(args.credentialsFrom) : {};
  const server = await startCloudSim({
    ...given,
    httpPort: args.httpPort,
    httpsPort: args.httpsPort,
    seed: args.seed,
    bootTimeMs: args.bootMs,
    ...(args.stateFile ? { stateFile: args.stateFile } : {}),
    backing: args.backing ?? 'virtual',
    network: args.network ?? 'flat',
    ...simSettingsFromFlags(args),
    // This command stops the sim on Ctrl-C itself, which also removes the local backing's VMs.
    cleanupOnSignals: false,
  });
  let files: { envFile: string; caFile: string };
  try {
    const envOut = args.envOut ?? join(defaultStateDir(), 'sim.env');
    if (!args.envOut) await mkdir(defaultStateDir(), { recursive: true, mode: 0o700 });
    files = await writeSimEnvFile(server, envOut, args.caOut);
  } catch (error) {
    await server.stop();
    throw error;
  }
  // Credentials go to the 0600 env file only, never to the terminal.
  const info = {
    aws: { endpoint: server.httpUrl },
    gcp: { apiEndpoint: server.host, port: server.httpPort, protocol: 'http' },
    azure: { endpoint: server.httpsUrl, caCertFile: files.caFile },
    admin: `${server.httpUrl}/_sim/`,
    envFile: files.envFile,
    seed: args.seed,
    backing: server.settings.backing,
    network: server.settings.network ?? 'flat',
    rateLimits: server.settings.rateLimits,
    faults: server.settings.faults,
  };
  printResult(g.output, info, () =>
    [
      `cloudsim listening (seed ${args.seed}, ${server.settings.backing} VMs${server.settings.network === 'realistic' ? ', realistic network' : ''}); Ctrl-C to stop`,
      ...describeFaults(server.settings),
      `  EC2:            ${server.httpUrl}   (AWS_ENDPOINT_URL_EC2)`,
      `  Compute Engine: apiEndpoint ${server.host}, port ${server.httpPort}, protocol http`,
      `  ARM:            ${server.httpsUrl}  (CA in ${files.caFile})`,
      `  admin:          ${server.httpUrl}/_sim/inventory, /_sim/calls, /_sim/faults (Bearer $SKYPOOL_SIM_ADMIN_TOKEN)`,
      `  credentials:    . ${files.envFile}   (endpoints, keys and tokens of this run; NODE_EXTRA_CA_CERTS)`,
    ].join('\n'),
  );
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  note('cloudsim: stopping');
  await server.stop();
}
