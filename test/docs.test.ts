/** `npm run docs`: TypeDoc over the public entry points fails on any export without TSDoc (treatWarningsAsErrors). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

it('builds the API docs with no warning about an undocumented export', () => {
  const out = mkdtempSync(join(tmpdir(), 'skypool-docs-'));
  try {
    const r = spawnSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--out', out], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/does not have any documentation|\[warning\]/);
    expect(r.status).toBe(0);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 150_000);
