import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeName, netnsName } from '../providers/local/index.js';
import { parseEnvFile } from '../src/cloudsim/env-file.js';
import { itIf, requireRoot } from './support/requirements.js';
import { stageCheckoutForOtherUsers } from './support/stage-for-other-users.js';

const cli = join(process.cwd(), 'dist/src/cli/main.js');
let dir: string;

function skypool(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, SKYPOOL_STATE_DIR: join(dir, 'home') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skypool-cli-'));
  await writeFile(
    join(dir, 'bad.yaml'),
    'name: Bad_Name\nengine: swarm\npools:\n  - name: m\n    provider: local\n    role: manager\n    count: -2\n    colour: red\n',
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('skypool CLI', () => {
  it('prints help listing every command', () => {
    const r = skypool(['--help']);
    expect(r.code).toBe(0);
    for (const command of ['up', 'plan', 'status', 'run', 'scale', 'down', 'schema', 'sim'])
      expect(r.stdout).toMatch(new RegExp(`\\n\\s+${command}\\b`));
  });

  it('prints the JSON Schema of the spec', () => {
    const r = skypool(['schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['name', 'engine', 'pools']));
  });

  it('rejects a bad spec with exit code 2, naming each field and fix', () => {
    const r = skypool(['plan', '-f', 'bad.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error [SPEC_INVALID]');
    expect(r.stderr).toMatch(/name: cluster name must be lowercase/);
    expect(r.stderr).toMatch(/pools\[0\]\.count: count must be 0 or more/);
    expect(r.stderr).toMatch(/pools\[0\]\.colour: unknown field "colour"/);
  });

  it('gives errors as JSON with --output json', () => {
    const r = skypool(['plan', '-f', 'bad.yaml', '--output', 'json']);
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { error: { code: string; details: { issues: Array<{ path: string }> } } };
    expect(body.error.code).toBe('SPEC_INVALID');
    expect(body.error.details.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['name', 'pools[0].count', 'pools[0].colour']),
    );
  });

  it('treats a missing spec file and bad arguments as bad input', () => {
    expect(skypool(['status', '-f', 'nope.yaml']).code).toBe(2);
    const r = skypool(['scale', 'workers', '1.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/count must be a whole number/);
    expect(skypool(['up', '--output', 'yaml']).code).toBe(2);
  });

  // Only this cluster's own names: other test files create namespaces and links at the same time.
  const clusterLeftovers = (cluster: string): string[] => {
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.startsWith(netnsName(cluster, '')));
    const bridge =
      spawnSync('ip', ['link', 'show', bridgeName(cluster)], { encoding: 'utf8' }).status === 0
        ? [bridgeName(cluster)]
        : [];
    return [...netns, ...bridge];
  };
  const asRoot = requireRoot({ commands: ['setpriv'] });
  itIf(asRoot)('as an ordinary user: read commands work, up refuses before creating anything', async () => {
    await writeFile(
      join(dir, 'local.yaml'),
      'name: cli-nonroot\nengine: swarm\npools:\n  - name: m\n    provider: local\n    role: manager\n    count: 1\n',
      { mode: 0o644 },
    );
    await chmod(dir, 0o755); // mkdtemp makes it 0700: the ordinary user must read the spec
    const staged = await stageCheckoutForOtherUsers(process.cwd());
    const asNobody = (args: string[]) => {
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, staged.cli, ...args],
        {
          encoding: 'utf8',
          cwd: dir,
          env: { ...process.env, HOME: join(dir, 'nobody'), SKYPOOL_STATE_DIR: join(dir, 'nobody') },
        },
      );
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    // Once root has run a local VM here, /run/skypool (0700) exists and hides the VMs from other users.
    const rootOnlyStateRoot = existsSync('/run/skypool');
    let plan: ReturnType<typeof asNobody>;
    let up: ReturnType<typeof asNobody>;
    try {
      plan = asNobody(['plan', '-f', join(dir, 'local.yaml'), '--output', 'json']);
      up = asNobody(['up', '-f', join(dir, 'local.yaml')]);
    } finally {
      await staged.remove();
    }
    if (rootOnlyStateRoot) {
      // Root's local VMs are recorded where only root can look: plan says so instead of planning blind.
      expect(plan.code).toBe(1);
      expect(JSON.parse(plan.stdout)).toMatchObject({
        error: {
          code: 'PREREQUISITE_MISSING',
          message: expect.stringMatching(/only root can read: run this command as root/),
        },
      });
    } else {
      expect(plan.stderr).toBe('');
      expect(plan.code).toBe(0);
      expect(JSON.parse(plan.stdout)).toMatchObject({ hasChanges: true, creates: [{ names: ['cli-nonroot-m-1'] }] });
    }
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/error \[PREREQUISITE_MISSING\]: .*run as root on Linux/);
    expect(clusterLeftovers('cli-nonroot')).toEqual([]);
  });

  itIf(asRoot)('refuses k3s on the local provider before creating a network or a PKI', async () => {
    await writeFile(
      join(dir, 'k3s.yaml'),
      'name: cli-k3s\nengine: k3s\npools:\n  - name: m\n    provider: local\n    role: manager\n    count: 1\n',
    );
    const r = skypool(['up', '-f', 'k3s.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PREREQUISITE_MISSING\]: engine k3s cannot run on the local provider/);
    expect(clusterLeftovers('cli-k3s')).toEqual([]);
    expect(existsSync(join(dir, 'home', 'clusters', 'cli-k3s'))).toBe(false);
  });

  it('runs cloudsim until interrupted and prints its endpoints as JSON', async () => {
    const child = spawn(
      process.execPath,
      [
        cli,
        'sim',
        '--output',
        'json',
        '--env-out',
        join(dir, 'sim.env'),
        '--ca-out',
        join(dir, 'ca.pem'),
        '--rate-scale',
        'aws=0.5',
        '--throttle-every',
        'gcp=3',
      ],
      { cwd: dir },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 20_000;
      while (!out.trim().endsWith('}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const info = JSON.parse(out) as {
        aws: { endpoint: string };
        admin: string;
        envFile: string;
        rateLimits: unknown;
        faults: unknown;
      };
      expect(info.aws.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // The rate limit and fault flags are in force (and shown).
      expect(info.rateLimits).toEqual({ aws: { scale: 0.5 }, gcp: {}, azure: {} });
      expect(info.faults).toEqual([{ cloud: 'gcp', kind: 'throttle', every: 3 }]);
      expect(info.envFile).toBe(join(dir, 'sim.env'));
      expect(out).not.toContain('AWS_SECRET_ACCESS_KEY');
      const { SKYPOOL_SIM_ADMIN_TOKEN: token } = parseEnvFile(await readFile(info.envFile, 'utf8'));
      const inventory = await fetch(`${info.admin}inventory`, { headers: { authorization: `Bearer ${token}` } });
      expect(inventory.status).toBe(200);
      expect((await fetch(`${info.admin}inventory`)).status).toBe(401);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      // A failed expectation above must not leave the sim running.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});
