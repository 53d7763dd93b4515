import { connect } from 'node:net';
import { SkypoolError } from './errors.js';
import { loadProvider, type ProviderOverrides, preflightProvider, providerEndpoint } from './providers/registry.js';
import type { Provider, ProviderSettings } from './providers/types.js';
import type { ClusterSpec, ProviderName } from './spec/schema.js';

/** Outcome of one check: `fail` makes `skypool doctor` exit 1, `warn` does not. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** `local` for this machine, else the provider checked. */
  readonly scope: 'local' | ProviderName;
  /** What was checked, e.g. `settings`, `endpoint`, `credentials`, `root`, `dockerd`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found. */
  readonly detail: string;
  /** What to do about a `warn` or `fail`. */
  readonly fix?: string;
}

/** Every check, in the order run, and how many failed or warned. */
export interface DoctorReport {
  /** Cluster of the spec checked; undefined when no spec was given (every cloud is checked then). */
  readonly cluster?: string;
  readonly checks: DoctorCheck[];
  readonly failed: number;
  readonly warned: number;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** Provider settings (or ready-made providers), as `ClusterOptions.providers`. */
  readonly providers?: ProviderOverrides;
  /** Longest wait for an endpoint to accept a TCP connection; default 3000 ms. */
  readonly connectTimeoutMs?: number;
}

const CLOUDS: readonly ProviderName[] = ['aws', 'gcp', 'azure'];

/** Commands the local provider and the swarm engine run on the host, then what only the demo needs. */
const LOCAL_COMMANDS = ['ip', 'nsenter', 'unshare', 'mount', 'iptables', 'dockerd', 'docker'] as const;
const DEMO_COMMANDS = ['busybox'] as const;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Resolves when host:port accepts a TCP connection within the timeout; rejects with the socket's error. */
function reachable(url: string, timeoutMs: number): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'http:' ? 80 : 443));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    });
    socket.once('error', (error) => reject(error));
  });
}

async function localChecks(needed: boolean): Promise<DoctorCheck[]> {
  // Only the local provider needs these; for a cloud-only spec a missing one is a warning.
  const missingStatus: CheckStatus = needed ? 'fail' : 'warn';
  const { onPath, PACKAGE_OF } = await import('../providers/local/prerequisites.js');
  const checks: DoctorCheck[] = [];
  const linux = process.platform === 'linux';
  checks.push({
    scope: 'local',
    check: 'platform',
    status: linux ? 'ok' : missingStatus,
    detail: process.platform,
    ...(linux ? {} : { fix: 'the local provider needs Linux network namespaces; use a cloud provider here' }),
  });
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  checks.push({
    scope: 'local',
    check: 'root',
    status: root ? 'ok' : missingStatus,
    detail: root ? 'running as root' : `running as uid ${process.getuid?.() ?? '?'}`,
    ...(root ? {} : { fix: 'run local-provider commands as root (e.g. sudo skypool up)' }),
  });
  for (const command of [...LOCAL_COMMANDS, ...DEMO_COMMANDS]) {
    const found = onPath(command);
    const demoOnly = (DEMO_COMMANDS as readonly string[]).includes(command);
    checks.push({
      scope: 'local',
      check: command,
      status: found ? 'ok' : demoOnly ? 'warn' : missingStatus,
      detail: found ? 'on PATH' : `not found${demoOnly ? ' (only the demo needs it)' : ''}`,
      ...(found ? {} : { fix: `apt-get install -y ${PACKAGE_OF[command] ?? command}` }),
    });
  }
  return checks;
}

async function cloudChecks(
  name: ProviderName,
  cluster: string,
  override: ProviderOverrides[ProviderName],
  timeoutMs: number,
  required: boolean,
): Promise<DoctorCheck[]> {
  const settings = override && 'runInstances' in override ? undefined : (override as ProviderSettings | undefined);
  const checks: DoctorCheck[] = [];
  try {
    await preflightProvider(name, override);
    checks.push({ scope: name, check: 'settings', status: 'ok', detail: 'region, project and credentials set' });
  } catch (error) {
    // Without a spec every cloud is looked at: one not set up at all is a warning, not a failure.
    const status: CheckStatus = required ? 'fail' : 'warn';
    checks.push({ scope: name, check: 'settings', status, detail: 'incomplete', fix: messageOf(error) });
    return checks;
  }
  const url = await providerEndpoint(name, settings as (ProviderSettings & Record<string, unknown>) | undefined);
  if (url) {
    try {
      await reachable(url, timeoutMs);
      checks.push({ scope: name, check: 'endpoint', status: 'ok', detail: `${url} accepts connections` });
    } catch (error) {
      checks.push({
        scope: name,
        check: 'endpoint',
        status: 'fail',
        detail: `${url}: ${messageOf(error)}`,
        fix: 'check the endpoint setting (e.g. the sim is running), the network and any proxy',
      });
      return checks;
    }
  }
  let provider: Provider | undefined;
  try {
    provider = await loadProvider(name, override);
    await provider.checkPrerequisites();
    // A read-only call that needs accepted credentials: list the cluster's instances (none is fine).
    const instances = await provider.listInstances(cluster);
    checks.push({
      scope: name,
      check: 'credentials',
      status: 'ok',
      detail: `accepted by a read-only call (${instances.length} instance(s) of cluster ${cluster})`,
    });
  } catch (error) {
    checks.push({
      scope: name,
      check: 'credentials',
      status: 'fail',
      detail: SkypoolError.isInstance(error) ? error.code : 'error',
      fix: messageOf(error),
    });
  } finally {
    if (provider && provider !== override) await provider.close?.();
  }
  return checks;
}

/**
 * Checks, without creating anything, what `apply` will need: for each provider the spec names (every cloud
 * without a spec) its settings, that its endpoint accepts connections and that it accepts the credentials for a
 * read-only call; and this machine's prerequisites for the local provider (failures only when the spec uses it).
 */
export async function runDoctor(spec: ClusterSpec | undefined, options: DoctorOptions = {}): Promise<DoctorReport> {
  const named = spec ? [...new Set(spec.pools.map((p) => p.provider))] : [...CLOUDS, 'local' as const];
  const cluster = spec?.name ?? 'skypool-doctor';
  const timeoutMs = options.connectTimeoutMs ?? 3000;
  const perCloud = await Promise.all(
    named
      .filter((n) => n !== 'local')
      .map((n) => cloudChecks(n, cluster, options.providers?.[n], timeoutMs, spec !== undefined)),
  );
  const checks = [...(await localChecks(spec ? named.includes('local') : false)), ...perCloud.flat()];
  return {
    ...(spec ? { cluster: spec.name } : {}),
    checks,
    failed: checks.filter((c) => c.status === 'fail').length,
    warned: checks.filter((c) => c.status === 'warn').length,
  };
}

/** One line per check: status, scope, check, what was found and, for warn/fail, the fix. */
export function renderDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => `${c.scope} ${c.check}`.length));
  const lines = report.checks.map((c) => {
    const what = `${c.scope} ${c.check}`.padEnd(width);
    return `${c.status.padEnd(4)}  ${what}  ${c.detail}${c.fix ? ` → ${c.fix}` : ''}`;
  });
  const summary =
    report.failed > 0
      ? `${report.failed} check(s) failed, ${report.warned} warning(s)`
      : `all checks passed${report.warned ? ` (${report.warned} warning(s))` : ''}`;
  return [...lines, '', summary].join('\n');
}
