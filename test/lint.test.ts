import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const biome = join(process.cwd(), 'node_modules/.bin/biome');
let dir: string;

// The repo's own lint rules, applied to a planted file outside the checkout.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skypool-lint-'));
  const config = JSON.parse(readFileSync('biome.json', 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'biome.json'), JSON.stringify({ linter: config.linter }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function lint(source: string) {
  await writeFile(join(dir, 'planted.ts'), source);
  return spawnSync(biome, ['lint', 'planted.ts'], { cwd: dir, encoding: 'utf8' });
}

describe('lint step (npm test runs `biome check .` before jest)', () => {
  const later = 'export async function later(): Promise<number> {\n  return 1;\n}\n';

  it('fails on a floating promise', async () => {
    const r = await lint(`${later}export function caller(): void {\n  later();\n}\n`);
    expect(r.stdout + r.stderr).toMatch(/noFloatingPromises/);
    expect(r.status).not.toBe(0);
  });

  it('passes the same code once the promise is awaited', async () => {
    const r = await lint(`${later}export async function caller(): Promise<void> {\n  await later();\n}\n`);
    expect(r.stdout + r.stderr).not.toMatch(/noFloatingPromises/);
    expect(r.status).toBe(0);
  });
});
