import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StagedCheckout {
  /** Root of the copy: `dist/`, `templates/`, `node_modules/` and `package.json`, readable by every user. */
  readonly root: string;
  readonly cli: string;
  remove(): Promise<void>;
}

/**
 * A clone may sit under a directory other users cannot enter (`/root`, a `mktemp -d` dir, both 0700), so a test
 * that runs the CLI as another user runs it from a copy in a world-readable temp dir. Files are hard links where
 * the file system allows (node_modules is ~40k files), else copies.
 */
export async function stageCheckoutForOtherUsers(checkout: string): Promise<StagedCheckout> {
  const root = await mkdtemp(join(tmpdir(), 'skypool-stage-'));
  await chmod(root, 0o755);
  for (const entry of ['dist', 'templates', 'node_modules', 'package.json']) {
    const from = join(checkout, entry);
    const linked = spawnSync('cp', ['-al', from, root]);
    if (linked.status !== 0) {
      const copied = spawnSync('cp', ['-a', from, root], { encoding: 'utf8' });
      if (copied.status !== 0) throw new Error(`could not stage ${from} for another user: ${copied.stderr}`);
    }
  }
  return { root, cli: join(root, 'dist/src/cli/main.js'), remove: () => rm(root, { recursive: true, force: true }) };
}
