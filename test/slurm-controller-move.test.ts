import { renderMigration } from '../src/cli/render-migrate.js';
import type { MigrationResult } from '../src/cluster/index.js';
import { controllerHosts, withControllerHosts } from '../src/engines/slurm/controller-move.js';
import { parsePing } from '../src/engines/slurm/parse.js';

const conf = [
  'ClusterName=skypool',
  'SlurmctldHost=c-ctl-1(100.64.1.5)',
  'SlurmctldParameters=enable_configless',
  'PartitionName=pool Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
  '',
].join('\n');

describe('slurm controller move: the SlurmctldHost lines', () => {
  it('reads the controller hosts in order', () => {
    expect(controllerHosts(conf)).toEqual([{ name: 'c-ctl-1', addr: '100.64.1.5' }]);
  });

  it('names a backup after the primary and keeps the rest of the file as it is', () => {
    const two = withControllerHosts(conf, [
      { name: 'c-ctl-1', addr: '100.64.1.5' },
      { name: 'c-ctl-gcp-1', addr: '100.65.0.9' },
    ]);
    expect(two.split('\n')).toEqual([
      'ClusterName=skypool',
      'SlurmctldHost=c-ctl-1(100.64.1.5)',
      'SlurmctldHost=c-ctl-gcp-1(100.65.0.9)',
      'SlurmctldParameters=enable_configless',
      'PartitionName=pool Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      '',
    ]);
    expect(controllerHosts(two).map((h) => h.name)).toEqual(['c-ctl-1', 'c-ctl-gcp-1']);
    // Back to one host: the backup line goes, nothing else moves.
    expect(withControllerHosts(two, [{ name: 'c-ctl-gcp-1', addr: '100.65.0.9' }])).toBe(
      conf.replace('c-ctl-1(100.64.1.5)', 'c-ctl-gcp-1(100.65.0.9)'),
    );
  });

  it('refuses a host that is not a node name with an IPv4 address (nothing reaches the config unchecked)', () => {
    expect(() => withControllerHosts(conf, [{ name: 'x\nSlurmUser=evil', addr: '100.64.1.5' }])).toThrow(
      /not a controller host/,
    );
    expect(() => withControllerHosts(conf, [{ name: 'c-ctl-1', addr: 'ctl.example' }])).toThrow(
      /not a controller host/,
    );
    expect(() => withControllerHosts('ClusterName=skypool\n', [{ name: 'a', addr: '10.0.0.1' }])).toThrow(
      /names no SlurmctldHost/,
    );
  });

  it('sees the primary and the backup in scontrol ping', () => {
    const ping = 'Slurmctld(primary) at c-ctl-1 is DOWN\nSlurmctld(backup) at c-ctl-gcp-1 is UP\n';
    expect(parsePing(ping)).toEqual([
      { name: 'c-ctl-1', up: false },
      { name: 'c-ctl-gcp-1', up: true },
    ]);
  });
});

describe('migrate output: batch jobs', () => {
  it('lists each job that ran on the source: requeued onto the target, or finished there', () => {
    const result = {
      cluster: 'c',
      dryRun: false,
      plan: {
        cluster: 'c',
        from: 'aws',
        to: 'gcp',
        mappings: [],
        create: [],
        drain: [],
        terminate: [],
        managersLeaving: [],
        networksDeleted: [],
        sourceHourlyUsd: 0,
        targetHourlyUsd: 0,
        catalogDate: '2026-01-01',
        pools: [],
      },
      created: [],
      terminated: [],
      services: [],
      jobs: [
        { job: '1', name: 'long', fromNodes: ['a'], toNodes: ['g'], requeued: true, state: 'running', ms: 4000 },
        {
          job: '2',
          name: 'short',
          fromNodes: ['a'],
          toNodes: [],
          requeued: false,
          state: 'completed',
          exitCode: 0,
          ms: 4000,
        },
      ],
      managers: ['g-ctl'],
      phases: [],
      durationMs: 12000,
      provisionMs: 4000,
    } satisfies MigrationResult;
    const text = renderMigration(result);
    expect(text).toContain('job 1 (long): requeued from a onto g');
    expect(text).toContain('job 2 (short): completed on a');
  });
});
