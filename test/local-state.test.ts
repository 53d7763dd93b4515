/** The local provider trusts nothing it reads back from its state root: vm.json values and the root itself. */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bridgeName, createProvider, netnsName } from '../providers/local/index.js';
import { parseRecord } from '../providers/local/state.js';
import { checkStateRoot } from '../providers/local/state-root.js';
import { PrerequisiteError, type SkypoolError } from '../src/errors.js';

const canRun = process.platform === 'linux' && process.getuid?.() === 0;
if (!canRun && process.env.CI === 'true') throw new Error('local-state tests need root on Linux (chown, ip netns)');
const suite = canRun ? describe : describe.skip;

const cluster = `ls-${randomBytes(3).toString('hex')}`;
const node = `${cluster}-a`;
const createdAt = new Date().toISOString();
const valid = () => ({
  id: netnsName(cluster, node),
  name: node,
  cluster,
  tags: {},
  ip: '10.213.7.5',
  cidr: '10.213.7.0/24',
  bridge: bridgeName(cluster),
  idempotencyToken: 'tok',
  userDataSha256: 'a'.repeat(64),
  createdAt,
  anchorPid: 4242,
});

describe('vm.json validation', () => {
  it('accepts a record the provider wrote', () => {
    expect(parseRecord(valid(), cluster, node)).toEqual(valid());
  });

  it.each([
    ['a path as ip', { ip: '../../../etc/x' }],
    ['a non-numeric ip', { ip: 'ten.213.7.5' }],
    ['an ip with a bad byte', { ip: '10.213.7.999' }],
    ['an ip outside its cidr', { ip: '10.213.8.5' }],
    ['a cidr that is not private', { ip: '8.8.8.8', cidr: '8.8.8.0/24' }],
    ['a string pid', { anchorPid: '4242; rm -rf /' }],
    ['pid 1', { userDataPid: 1 }],
    ['a fractional pid', { anchorPid: 42.5 }],
    ['a name with a slash', { name: '../x' }],
    ['an unsafe hostname', { hostname: 'a/../../b' }],
    ['an id of another netns', { id: 'skypool-other-a' }],
    ['a foreign bridge', { bridge: 'eth0' }],
    ['an unknown field', { extra: 'x' }],
    ['a bad digest', { userDataSha256: 'zz' }],
    ['a bad date', { createdAt: 'yesterday' }],
  ])('refuses %s', (_what, change) => {
    expect(parseRecord({ ...valid(), ...change }, cluster, node)).toBeUndefined();
  });

  it('refuses a record that names another cluster or node than the dir it sits in', () => {
    expect(parseRecord(valid(), cluster, `${cluster}-b`)).toBeUndefined();
    expect(parseRecord(valid(), 'other', node)).toBeUndefined();
  });
});

suite('local provider state root', () => {
  let sandbox: string;
  beforeEach(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'skypool-state-'));
  });
  afterEach(async () => {
    await rm(sandbox, { recursive: true, force: true });
  });

  const refusal = async (root: string): Promise<SkypoolError> => {
    const error = await createProvider({ stateRoot: root })
      .listInstances(cluster)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    return error as SkypoolError;
  };

  it('refuses a root others can write, one not owned by root, and a symlink, naming the path and the fix', async () => {
    const open = join(sandbox, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    const a = await refusal(open);
    expect(a.message).toContain(`state root ${open} is a directory owned by uid 0 with mode 0755`);
    expect(a.message).toContain(`chown root:root ${open} && chmod 700 ${open}`);
    expect(a.details).toMatchObject({ option: 'stateRoot', path: open });

    const foreign = join(sandbox, 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 1000, 1000);
    expect((await refusal(foreign)).message).toContain('owned by uid 1000 with mode 0700');

    const good = join(sandbox, 'good');
    await mkdir(good, { mode: 0o700 });
    const link = join(sandbox, 'link');
    await symlink(good, link);
    expect((await refusal(link)).message).toContain('is a symbolic link');

    await expect(createProvider({ stateRoot: good }).listInstances(cluster)).resolves.toEqual([]);
  });

  it('creates a missing root owned by root with mode 0700, whatever the umask', async () => {
    const root = join(sandbox, 'new', 'root');
    const umask = process.umask(0o022);
    try {
      await checkStateRoot(root, { create: true });
    } finally {
      process.umask(umask);
    }
    const st = await lstat(root);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(0);
  });

  it('a vm.json with a path for an ip deletes nothing outside the state root', async () => {
    const root = join(sandbox, 'root');
    await mkdir(root, { mode: 0o700 });
    const victim = join(sandbox, 'victim');
    await writeFile(victim, 'precious');
    const dir = join(root, cluster, node);
    await mkdir(join(root, cluster, '.ips'), { recursive: true });
    await mkdir(dir);
    // join(<root>/<cluster>/.ips, ip) would be the victim; the anchor pid is "dead", so the VM is torn down.
    await writeFile(join(dir, 'vm.json'), JSON.stringify({ ...valid(), ip: '../../../victim', anchorPid: 999_999 }));
    await expect(createProvider({ stateRoot: root }).listInstances(cluster)).resolves.toEqual([]);
    expect(existsSync(victim)).toBe(true);
    expect(existsSync(dir)).toBe(false); // the leftover is still cleaned, by its name
  });
});
