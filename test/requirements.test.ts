import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { missing } from './support/requirements.js';

const jest = (ci: boolean) =>
  spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--no-warnings=ExperimentalWarning',
      join(process.cwd(), 'node_modules/jest/bin/jest.js'),
      '--rootDir',
      process.cwd(),
      '--roots',
      '<rootDir>/test/fixtures',
      '--testMatch',
      '**/needs-missing.fixture.ts',
      '--reporters',
      'default',
    ],
    { encoding: 'utf8', env: { ...process.env, CI: ci ? 'true' : 'false' }, timeout: 120_000 },
  );

describe('suites that cannot run on this machine', () => {
  it('names every missing need', () => {
    expect(missing({})).toBeUndefined();
    const why = missing({ commands: ['skypool-no-such-command'], files: ['/nonexistent/x'] });
    expect(why).toMatch(/the command skypool-no-such-command/);
    expect(why).toMatch(/\/nonexistent\/x/);
  });

  it('are skipped with their reason locally, and fail the run with it when CI=true', () => {
    const local = jest(false);
    expect(local.status).toBe(0);
    expect(local.stderr).toMatch(/skipped: needs \/nonexistent\/skypool-needs-this/);
    expect(local.stderr).toMatch(/2 skipped, 1 passed/);

    const ci = jest(true);
    expect(ci.status).not.toBe(0);
    expect(ci.stderr).toMatch(/cannot run here: needs \/nonexistent\/skypool-needs-this/);
    expect(ci.stderr).toMatch(/2 failed, 1 passed/);
  }, 240_000);
});
