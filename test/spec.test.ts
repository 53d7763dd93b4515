import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadSpec,
  parseSpec,
  parseSpecYaml,
  poolSpecHash,
  SkypoolError,
  SpecError,
  specJsonSchema,
} from '../src/index.js';

const valid = `
name: demo
engine: swarm
pools:
  - name: managers
    provider: local
    role: manager
    count: 1
  - name: workers
    provider: local
    role: worker
    count: 2
    labels: { tier: web }
`;

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).exitCode).toBe(2);
    expect((error as SpecError).code).toBe('SPEC_INVALID');
    return [...(error as SpecError).issues];
  }
  throw new Error('expected a SpecError');
}

describe('cluster spec', () => {
  it('accepts a valid YAML spec', () => {
    const spec = parseSpecYaml(valid);
    expect(spec.name).toBe('demo');
    expect(spec.pools.map((p) => p.count)).toEqual([1, 2]);
  });

  it.each([
    ['malformed YAML', 'name: [demo', /line \d+/, /malformed YAML/],
    ['unknown top-level field', `${valid}colour: blue\n`, /^colour$/, /unknown field "colour"/],
    ['unknown pool field', valid.replace('count: 2', 'count: 2\n    cpu: 4'), /^pools\[1\]\.cpu$/, /unknown field/],
    [
      'unknown provider',
      valid.replace('provider: local\n    role: worker', 'provider: ibm\n    role: worker'),
      /^pools\[1\]\.provider$/,
      /one of local, aws, azure, gcp/,
    ],
    ['unknown engine', valid.replace('engine: swarm', 'engine: nomad'), /^engine$/, /one of swarm, slurm, k3s/],
    ['negative count', valid.replace('count: 2', 'count: -1'), /^pools\[1\]\.count$/, /0 or more/],
    ['fractional count', valid.replace('count: 2', 'count: 1.5'), /^pools\[1\]\.count$/, /whole number/],
    ['uppercase name', valid.replace('name: demo', 'name: Demo'), /^name$/, /lowercase/],
    ['too long name', valid.replace('name: demo', `name: ${'a'.repeat(30)}`), /^name$/, /at most 24/],
    ['duplicate pool', valid.replace('name: workers', 'name: managers'), /^pools\[1\]\.name$/, /duplicate pool name/],
    ['zero managers', valid.replace('count: 1', 'count: 0'), /^pools$/, /at least one manager/],
    [
      'cloud pool without region',
      valid.replace('provider: local\n    role: worker', 'provider: aws\n    instanceType: t3.small\n    role: worker'),
      /^pools\[1\]\.region$/,
      /needs a region/,
    ],
    [
      'bad aws region',
      valid.replace(
        'provider: local\n    role: worker',
        'provider: aws\n    region: westeurope\n    instanceType: t3.small\n    role: worker',
      ),
      /^pools\[1\]\.region$/,
      /not a aws region/,
    ],
    ['bad label', valid.replace('tier: web', 'Tier: web'), /^pools\[1\]\.labels/, /lowercase/],
  ])('rejects %s with the field and the fix', (_title, text, path, message) => {
    const issues = issuesOf(() => parseSpecYaml(text));
    expect(issues.some((i) => path.test(i.path) && message.test(i.message))).toBe(true);
  });

  it('validates TypeScript objects the same way', () => {
    const issues = issuesOf(() =>
      parseSpec({ name: 'x', engine: 'swarm', pools: [{ name: 'm', provider: 'local', role: 'manager', count: '3' }] }),
    );
    expect(issues[0]?.path).toBe('pools[0].count');
  });

  it('reports a missing file as bad input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-spec-'));
    try {
      await expect(loadSpec(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'SPEC_NOT_FOUND', exitCode: 2 });
      await writeFile(join(dir, 'ok.yaml'), valid);
      await expect(loadSpec(join(dir, 'ok.yaml'))).resolves.toMatchObject({ name: 'demo' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hashes a pool independently of its count and of key order', () => {
    const spec = parseSpecYaml(valid);
    const pool = spec.pools[1]!;
    expect(poolSpecHash(spec, pool)).toMatch(/^[0-9a-f]{12}$/);
    expect(poolSpecHash(spec, { ...pool, count: 9 })).toBe(poolSpecHash(spec, pool));
    expect(
      poolSpecHash(spec, { labels: pool.labels, count: 2, role: 'worker', provider: 'local', name: 'workers' }),
    ).toBe(poolSpecHash(spec, pool));
    expect(poolSpecHash(spec, { ...pool, labels: { tier: 'db' } })).not.toBe(poolSpecHash(spec, pool));
  });

  it('exports a JSON Schema', () => {
    const schema = specJsonSchema();
    expect(schema).toMatchObject({ type: 'object', required: expect.arrayContaining(['name', 'engine', 'pools']) });
    expect((schema.properties as Record<string, unknown>).adminCidrs).toMatchObject({ type: 'array', minItems: 1 });
    expect(SkypoolError.isInstance(new SpecError([]))).toBe(true);
  });
});
