import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSpecYaml, SpecError } from '../src/index.js';

const valid = `name: demo
engine: swarm
pools:
  - name: managers
    provider: local
    role: manager
    count: 1
  - name: workers
    provider: aws
    region: us-east-1
    instanceType: t3.small
    role: worker
    count: 2
    zones: [us-east-1a, us-east-1b]
    labels: { tier: web }
`;

/** mulberry32: a small deterministic PRNG, so every run tries the same mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '*a',
  '&a ',
  '*b',
  '<<: *a\n',
  '<<: {x: 1}\n',
  '!!binary ZGVtbw== ',
  '!!set ',
  '!!timestamp ',
  '!foo ',
  '!!str ',
  '1e400',
  '-1e400',
  '99999999999999999999999',
  '0x7fffffffffffffff',
  '.inf',
  '.nan',
  '\u0001',
  '\u007f',
  '\u0085',
  '"\\x01"',
  '"\\u0007"',
  ':',
  ': ',
  '- ',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '\t',
  '\n',
  '#',
  '|',
  '>',
  '? ',
  '%YAML 1.1\n',
  '---\n',
  '...\n',
  '@',
  '`',
  ',',
  '&',
  '*',
  '!',
  ' ',
  'null',
  '~',
  'yes',
  '',
];

/** One to three random edits of the text: insert a token, delete, duplicate, swap or re-indent lines. */
function mutate(text: string, random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let out = text;
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e += 1) {
    const lines = out.split('\n');
    const at = Math.floor(random() * (out.length + 1));
    const line = Math.floor(random() * lines.length);
    switch (Math.floor(random() * 7)) {
      case 0:
        out = out.slice(0, at) + pick(TOKENS) + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 4));
        break;
      case 2:
        lines.splice(line, 0, lines[line] ?? '');
        out = lines.join('\n');
        break;
      case 3: {
        const other = Math.floor(random() * lines.length);
        [lines[line], lines[other]] = [lines[other] ?? '', lines[line] ?? ''];
        out = lines.join('\n');
        break;
      }
      case 4:
        lines[line] = random() < 0.5 ? `  ${lines[line]}` : (lines[line] ?? '').replace(/^ {1,2}/, '');
        out = lines.join('\n');
        break;
      case 5:
        lines[line] = (lines[line] ?? '').replace(/: .*$/, `: ${pick(TOKENS)}`);
        out = lines.join('\n');
        break;
      default:
        lines[line] = (lines[line] ?? '').replace(/^(\s*-?\s*)(\w+):/, `$1${pick(['&a ', '*a ', '<<', '? '])}$2:`);
        out = lines.join('\n');
    }
  }
  return out;
}

/** The outcome of one parse: a spec, or a SpecError whose every issue names a field or a line. */
function outcome(text: string): 'valid' | 'spec-error' | string {
  try {
    parseSpecYaml(text);
    return 'valid';
  } catch (error) {
    if (!(error instanceof SpecError))
      return `escaped: ${(error as Error)?.constructor?.name} ${(error as Error)?.message}`;
    if (error.exitCode !== 2) return `exit code ${error.exitCode}`;
    const unplaced = error.issues.filter((i) => i.path === '' && i.line === undefined);
    if (error.issues.length === 0 || unplaced.length > 0)
      return `issue without field or line: ${JSON.stringify(error.issues)}`;
    return 'spec-error';
  }
}

function issuesOf(text: string): SpecError['issues'] {
  try {
    parseSpecYaml(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as SpecError).issues;
  }
  throw new Error('expected a SpecError');
}

describe('malformed YAML specs', () => {
  it.each([
    ['an alias to a missing anchor', valid.replace('count: 1', 'count: *a'), 'pools[0].count', 7, /no anchor/],
    ['a merge key', valid.replace('    count: 2', '    <<: {count: 2}'), 'pools[1].<<', 13, /merge keys/],
    ['a binary tag', valid.replace('name: demo', 'name: !!binary ZGVtbw=='), 'name', 1, /tag .*binary/],
    ['a custom tag', valid.replace('role: worker', 'role: !worker worker'), 'line 12, column 11', 12, /tag/],
    ['a huge number', valid.replace('count: 2', 'count: 1e400'), 'pools[1].count', 13, /out of range/],
    ['a huge integer', valid.replace('count: 2', 'count: 99999999999999999999'), 'pools[1].count', 13, /./],
    ['a control character', valid.replace('tier: web', 'tier: w\u0001eb'), 'line 15', 15, /control character/],
    [
      'an escaped control character',
      valid.replace('tier: web', 'tier: "w\\x01eb"'),
      'pools[1].labels.tier',
      15,
      /control/,
    ],
    ['a duplicate key', valid.replace('    count: 1', '    count: 1\n    count: 3'), 'line 8, column 5', 8, /unique/],
    ['a syntax error', valid.replace('role: manager', 'role: manager: x'), 'line 6', 6, /malformed YAML/],
    [
      'a cyclic alias',
      valid.replace('labels: { tier: web }', 'labels: &l { tier: *l }'),
      'pools[1].labels.tier',
      15,
      /contains it/,
    ],
  ])('%s is a SpecError naming the field and line', (_title, text, path, line, message) => {
    const issues = issuesOf(text);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: expect.stringContaining(path), line, message: expect.stringMatching(message) }),
      ]),
    );
  });

  it('an alias bomb is refused quickly as a SpecError', () => {
    const bomb = `${valid}x: &a [1, 1, 1, 1, 1, 1, 1, 1]
y: &b [*a, *a, *a, *a, *a, *a, *a, *a]
z: &c [*b, *b, *b, *b, *b, *b, *b, *b]
w: [*c, *c, *c, *c, *c, *c, *c, *c]
`;
    expect(outcome(bomb)).toBe('spec-error');
  });

  it('the CLI exits 2 with SPEC_INVALID for an alias to a missing anchor, before any provider loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skypool-fuzz-'));
    try {
      await writeFile(join(dir, 'skypool.yaml'), valid.replace('count: 1', 'count: *a'));
      const r = spawnSync(
        process.execPath,
        [join(process.cwd(), 'dist/src/cli/main.js'), 'plan', '-f', 'skypool.yaml'],
        {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, SKYPOOL_STATE_DIR: join(dir, 'state') },
        },
      );
      expect(r.stderr).toContain('error [SPEC_INVALID]');
      expect(r.stderr).toMatch(/pools\[0\]\.count: alias \*a names no anchor.*\(line 7\)/);
      expect(r.status).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('seeded fuzz of a valid spec', () => {
  it('every one of 600 mutations is a valid spec or a SpecError with a field or line, never another error', () => {
    const random = prng(20261202);
    const counts = new Map<string, number>();
    const escaped: Array<{ text: string; result: string }> = [];
    for (let n = 0; n < 600; n += 1) {
      const text = mutate(valid, random);
      const result = outcome(text);
      const kind = result === 'valid' || result === 'spec-error' ? result : 'escaped';
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      if (kind === 'escaped') escaped.push({ text, result });
    }
    expect(escaped.slice(0, 5)).toEqual([]);
    // The mutations must reach the parser's error paths, not only harmless edits.
    expect(counts.get('spec-error') ?? 0).toBeGreaterThan(300);
  });
});
