/**
 * The package installs like any other: `npm pack`, install the tarball into an empty project (offline from npm's
 * cache when it holds every dependency, else preferring it), then import `skypool`, `skypool/cdk` and
 * `skypool/cloudsim` and run `npx skypool --help` and `plan` from there. Optional dependencies (the cloud SDKs) are
 * left out to keep it fast: cloudsim and local pools must not need them. aws-cdk-lib and constructs are peers the
 * user brings; the test links the checkout's copies.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.cwd();

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm package', () => {
  let dir: string;
  let app: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skypool-pack-'));
    app = join(dir, 'app');
    mkdirSync(app);
    const packed = run('npm', ['pack', '--pack-destination', dir, '--ignore-scripts', '--silent'], root);
    if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.err}`);
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    writeFileSync(
      join(app, 'package.json'),
      '{ "name": "app", "version": "1.0.0", "private": true, "type": "module" }\n',
    );
    const install = (mode: string) =>
      run(
        'npm',
        ['install', mode, '--omit=optional', '--omit=peer', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
        app,
      );
    let installed = install('--offline');
    // A cache without some dependency's metadata: let npm fill it from the registry once.
    if (installed.code !== 0 && /ENOTCACHED/.test(installed.err)) installed = install('--prefer-offline');
    if (installed.code !== 0) throw new Error(`npm install of the tarball failed: ${installed.err}`);
    for (const peer of ['aws-cdk-lib', 'constructs'])
      symlinkSync(join(root, 'node_modules', peer), join(app, 'node_modules', peer), 'dir');
  }, 200_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('imports skypool, skypool/cdk and skypool/cloudsim from the installed tarball', () => {
    const r = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const [a, b, c] = await Promise.all([import('skypool'), import('skypool/cdk'), import('skypool/cloudsim')]);" +
          'console.log(typeof a.Cluster, typeof a.parseSpec, typeof b.SkypoolCluster, typeof c.startCloudSim)',
      ],
      app,
    );
    expect(r.err).toBe('');
    expect(r.out.trim()).toBe('function function function function');
  });

  it('runs npx skypool --help and plan (with its cost table) from the project', () => {
    const help = run('npx', ['--no-install', 'skypool', '--help'], app);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: skypool');
    writeFileSync(
      join(app, 'skypool.yaml'),
      'name: packed\nengine: swarm\npools:\n  - { name: m, provider: local, count: 1, role: manager }\n',
    );
    const plan = run('npx', ['--no-install', 'skypool', 'plan'], app, {
      ...process.env,
      SKYPOOL_STATE_DIR: join(dir, 'state'),
    });
    expect(plan.err).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.out).toContain('+ create  packed-m-1');
    expect(plan.out).toMatch(/Cost: \$0\.0000\/hour/);
  });
});
