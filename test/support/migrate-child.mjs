// A child process for test/cloudsim-migrate.integration.test.ts: `Cluster.migrate` for the spec, options and
// sim settings given as JSON in argv[2], printing every phase start and message as a line, so the test can
// SIGKILL it at a chosen moment and finish the migration with a rerun.
import { Cluster } from '../../dist/src/cluster/index.js';

const { spec, options, from, to } = JSON.parse(process.argv[2]);
const cluster = Cluster.fromSpec(spec, options);
cluster.onProgress((event) => {
  if (event.type === 'phase-start') process.stdout.write(`phase ${event.phase}\n`);
  if (event.type === 'message') process.stdout.write(`message ${event.message}\n`);
});
try {
  await cluster.migrate({ from, to });
  process.stdout.write('migrated\n');
} finally {
  await cluster.close();
}
