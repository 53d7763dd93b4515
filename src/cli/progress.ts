import type { Cluster } from '../cluster/index.js';
import { redact } from '../redact.js';
import type { GlobalOptions } from './output.js';
import { describeEvent } from './render.js';

/**
 * Shows progress of a long operation: a live listr2 task on a TTY, plain timestamped lines on stderr otherwise
 * (CI, pipes), nothing extra with --output json unless stderr is a TTY. Ctrl-C aborts through the cluster's own
 * cleanup (the command's `finally`), never leaving the terminal in a broken state.
 */
export async function withProgress<T>(
  g: GlobalOptions,
  cluster: Cluster,
  title: string,
  body: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  if (process.stderr.isTTY && g.output === 'text') {
    const { Listr } = await import('listr2');
    let result: T | undefined;
    await new Listr(
      [
        {
          title,
          task: async (_ctx, task) => {
            const off = cluster.onProgress((event) => {
              task.output = redact(describeEvent(event));
            });
            try {
              result = await body();
              task.title = `${title} (${elapsed()})`;
            } finally {
              off();
            }
          },
          rendererOptions: { bottomBar: 6, persistentOutput: false },
        },
      ],
      { renderer: 'default', exitOnError: true, rendererOptions: { collapseErrors: false } },
    ).run();
    return result as T;
  }
  const quiet = g.output === 'json' && !process.stderr.isTTY;
  const off = quiet
    ? () => undefined
    : cluster.onProgress((event) => process.stderr.write(`[${elapsed()}] ${redact(describeEvent(event))}\n`));
  try {
    if (!quiet) process.stderr.write(`${title}\n`);
    return await body();
  } finally {
    off();
  }
}
