import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../../src/errors.js';
import { redact, redactTail } from '../../src/redact.js';
import { spawnDetached } from './exec.js';

/** The interpreter line of a user-data script; only scripts (`#!...`) run on the local provider. */
export function interpreterOf(userData: string): string[] {
  const first = userData.split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) {
    throw new EngineError(
      'the local provider runs user-data that is a script starting with "#!" (like cloud-init does); ' +
        `got "${first.slice(0, 40)}": render the engine's bootstrap as a shell script`,
      { firstLine: first.slice(0, 40) },
    );
  }
  const line = first.slice(2).trim();
  const space = line.search(/\s/);
  // Linux passes everything after the interpreter as one argument.
  return space < 0 ? [line] : [line.slice(0, space), line.slice(space + 1).trim()];
}

export const userDataFiles = (dir: string) => ({
  script: join(dir, 'user-data'),
  log: join(dir, 'user-data.log'),
  exit: join(dir, 'user-data.exit'),
});

/**
 * Runs the user-data inside the VM in the background, like cloud-init on first boot. The host-side wrapper
 * hands the script over as fd 3 because the VM's private /run may hide the VM dir; it records the exit code.
 */
export async function startUserData(anchorPid: number, dir: string, userData: string): Promise<number> {
  const files = userDataFiles(dir);
  const interpreter = interpreterOf(userData);
  await writeFile(files.script, userData, { mode: 0o700 });
  const wrapper =
    'pid=$1 script=$2 log=$3 exitfile=$4; shift 4; ' +
    'nsenter -t "$pid" -m -u -n --wd=/ -- "$@" /dev/fd/3 3<"$script" </dev/null >"$log" 2>&1; ' +
    'echo $? >"$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"';
  return spawnDetached('sh', [
    '-c',
    wrapper,
    'skypool-user-data',
    String(anchorPid),
    files.script,
    files.log,
    files.exit,
    ...interpreter,
  ]).pid;
}

/** Where cloud-init keeps the scripts it runs at every boot (inside the VM). */
export const PER_BOOT_DIR = '/var/lib/cloud/scripts/per-boot';

/**
 * A restarted VM boots as cloud-init does on a reboot: the user-data (per instance) does not run again, the
 * executable scripts in PER_BOOT_DIR do, in name order, their output appended to the console. Returns the pid
 * of the host-side wrapper.
 */
export function startPerBoot(anchorPid: number, dir: string): number {
  const files = userDataFiles(dir);
  const boot =
    `echo "cloudsim: boot $(date -u +%H:%M:%S): running ${PER_BOOT_DIR}"; ` +
    `for f in ${PER_BOOT_DIR}/*; do [ -f "$f" ] && [ -x "$f" ] || continue; "$f" || echo "cloudsim: $f failed ($?)"; done`;
  const wrapper = 'pid=$1 log=$2; shift 2; nsenter -t "$pid" -m -u -n --wd=/ -- "$@" </dev/null >>"$log" 2>&1';
  return spawnDetached('sh', ['-c', wrapper, 'skypool-per-boot', String(anchorPid), files.log, '/bin/sh', '-c', boot])
    .pid;
}

export interface UserDataResult {
  /** True once the script has exited. */
  readonly done: boolean;
  readonly exitCode?: number;
  /** The last 64 KiB of the script's output, with secrets (join tokens, keys) redacted. */
  readonly log: string;
}

const LOG_TAIL_BYTES = 65_536;
// Redaction sees this much before the cut, so a key or token that straddles the 64 KiB mark is still whole.
const LOG_WINDOW_BYTES = 1_048_576;

async function readTail(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** How much of the boot log from its start a console read returns (a console is the log's head, as cloud consoles keep it). */
export const CONSOLE_BYTES = 1_048_576;

async function readHead(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * The VM's console: its user-data output from the start, redacted (tokens, private keys). The identity line a
 * node prints (SKYPOOL-IDENTITY, public data only) matches none of the redaction patterns and passes whole.
 * Empty while the script has printed nothing.
 */
export async function readConsoleFile(dir: string): Promise<string> {
  const head = await readHead(userDataFiles(dir).log, CONSOLE_BYTES).catch(() => Buffer.alloc(0));
  return redact(head.toString('utf8'));
}

export async function readUserDataFiles(dir: string): Promise<UserDataResult> {
  const files = userDataFiles(dir);
  const raw = await readFile(files.exit, 'utf8').catch(() => undefined);
  const log = redactTail(await readTail(files.log, LOG_WINDOW_BYTES).catch(() => ''), LOG_TAIL_BYTES);
  const exitCode = raw === undefined ? undefined : Number(raw.trim());
  return exitCode === undefined || Number.isNaN(exitCode) ? { done: false, log } : { done: true, exitCode, log };
}
