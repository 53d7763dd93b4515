import { spawn } from 'node:child_process';
import { CloudApiError, PrerequisiteError } from '../../src/errors.js';
import { redact } from '../../src/redact.js';

export interface RunOptions {
  /** Kills the command after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** Written to the command's stdin. */
  readonly input?: string;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  readonly allowFailure?: boolean;
  /** Replaces the environment (commands run inside VMs get a clean one, never the SDK's credentials). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * The single way this provider runs a host command: no shell, a timeout, and errors that name the command and
 * its stderr. The provider itself passes no secret on a command line (user-data goes through files); what
 * callers pass to execInVm is redacted in errors all the same.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const shown = redact([command, ...args].join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? hostEnv() });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString();
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(
          new PrerequisiteError(`command "${command}" not found: install it (see scripts/prelude.sh) and retry`, {
            command,
          }),
        );
      } else {
        reject(new CloudApiError(`could not run "${shown}": ${err.message}`, { command: shown }, err));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      const shownErr = redact(stderr.trim()).slice(-4000);
      if (timedOut) {
        reject(
          new CloudApiError(`"${shown}" did not finish within ${timeoutMs} ms`, { command: shown, stderr: shownErr }),
        );
      } else if (code !== 0 && !options.allowFailure) {
        const why = shownErr || `exit ${code ?? signal}`;
        reject(new CloudApiError(`"${shown}" failed: ${why}`, { command: shown, exitCode: code, stderr: shownErr }));
      } else {
        resolve(result);
      }
    });
  });
}

export interface DetachedProcess {
  readonly pid: number;
  /** undefined while it runs; its exit code (or -1 when it could not start) afterwards. */
  readonly exited: () => number | null | undefined;
  /** What it wrote on stderr so far (with `stderr: 'until-released'`), for the error when it exits early. */
  readonly stderr: () => string;
  /** Stops listening to its stderr: the process lives on without a tie to this one. */
  readonly release: () => void;
}

/**
 * Starts a process that outlives this one (own session, no stdin/stdout). With `stderr: 'until-released'` its
 * stderr is read until `release()`, so a process that fails at start says why.
 */
export function spawnDetached(
  command: string,
  args: readonly string[],
  options: { stderr?: 'ignore' | 'until-released' } = {},
): DetachedProcess {
  const capture = options.stderr === 'until-released';
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'ignore', capture ? 'pipe' : 'ignore'],
    cwd: '/',
    env: VM_ENV,
  });
  let exited: number | null | undefined;
  let stderr = '';
  child.on('exit', (code) => {
    exited = code;
  });
  child.on('error', () => {
    exited = -1;
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  child.unref();
  if (!child.pid)
    throw new CloudApiError(`could not start "${redact([command, ...args].join(' ')).slice(0, 200)}"`, { command });
  return {
    pid: child.pid,
    exited: () => exited,
    stderr: () => stderr.trim(),
    release: () => child.stderr?.destroy(),
  };
}

/** root's PATH sometimes lacks the sbin directories where ip and dockerd live. */
function hostEnv(): NodeJS.ProcessEnv {
  const path = process.env.PATH ?? '/usr/bin:/bin';
  const extra = ['/usr/local/sbin', '/usr/sbin', '/sbin'].filter((dir) => !path.split(':').includes(dir));
  return extra.length === 0 ? process.env : { ...process.env, PATH: [path, ...extra].join(':') };
}

/** Runs an `ip -j ...` command and parses its JSON (empty output means an empty list). */
export async function ipJson<T>(args: readonly string[], options: RunOptions = {}): Promise<T[]> {
  const { stdout } = await run('ip', ['-j', ...args], options);
  const text = stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** Single-quotes a value for a POSIX shell script. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The environment of every process started inside a VM: what a cloud VM's boot scripts see, nothing of ours. */
export const VM_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};
