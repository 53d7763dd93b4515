import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What a suite needs of the machine. */
export interface Needs {
  /** Root on Linux (network namespaces, bridges, cgroups, setpriv to another uid). */
  readonly root?: boolean;
  /** Commands that must run (`<command> --version` exits 0). */
  readonly commands?: readonly string[];
  /** Files that must exist (e.g. /usr/sbin/dockerd, /bin/busybox). */
  readonly files?: readonly string[];
}

/** Why this machine cannot run a suite, or undefined when it can. */
export function missing(needs: Needs): string | undefined {
  const reasons: string[] = [];
  if (needs.root && (process.platform !== 'linux' || process.getuid?.() !== 0)) reasons.push('root on Linux');
  for (const command of needs.commands ?? []) {
    if (spawnSync(command, ['--version'], { stdio: 'ignore' }).status !== 0) reasons.push(`the command ${command}`);
  }
  for (const file of needs.files ?? []) if (!existsSync(file)) reasons.push(file);
  return reasons.length > 0
    ? `needs ${reasons.join(', ')} (run \`npm run prelude -- --local\` as root to install what is missing)`
    : undefined;
}

const inCi = (): boolean => process.env.CI === 'true';

/**
 * `describe` when the machine can run the suite. Otherwise the suite is skipped with its reason on stderr, or,
 * with CI=true, it fails with that reason: a CI run must not pass by skipping what it was meant to test.
 */
export function describeIf(why: string | undefined): jest.Describe {
  if (!why) return describe;
  if (inCi()) {
    return ((name: string) =>
      describe(name, () => {
        it('can run on this machine', () => {
          throw new Error(`${name}: cannot run here: ${why}`);
        });
      })) as unknown as jest.Describe;
  }
  return ((name: string, fn: jest.EmptyFunction) => {
    process.stderr.write(`${name}: skipped: ${why}\n`);
    describe.skip(name, fn);
  }) as unknown as jest.Describe;
}

/** `it` when the machine can run the test; skipped with the reason, or failing with it when CI=true. */
export function itIf(why: string | undefined): jest.It {
  if (!why) return it;
  if (inCi()) {
    return ((name: string) =>
      it(name, () => {
        throw new Error(`${name}: cannot run here: ${why}`);
      })) as unknown as jest.It;
  }
  return ((name: string, fn?: jest.ProvidesCallback, timeout?: number) => {
    process.stderr.write(`${name}: skipped: ${why}\n`);
    it.skip(name, fn, timeout);
  }) as unknown as jest.It;
}

/** Root on Linux, plus whatever else is named: the usual need of the real-component suites. */
export const requireRoot = (extra: Omit<Needs, 'root'> = {}): string | undefined => missing({ root: true, ...extra });
