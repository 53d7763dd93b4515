#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { reportError } from './errors.js';
import type { GlobalOptions, OutputFormat } from './output.js';
import { faultFlag, probabilityFlag, rateScaleFlag, type SimFaultFlags, throttleEveryFlag } from './sim-flags.js';

// Command bodies are imported on use so `skypool --help` stays fast (no zod, dockerode or cloud SDK loaded).
const commands = () => import('./commands.js');

function integer(what: string, min: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${what} must be a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min) throw new InvalidArgumentError(`${what} must be ${min} or more, got ${n}`);
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function buildProgram(): Command {
  const program = new Command('skypool')
    .description('One cluster API over AWS, Azure, GCP and local namespace VMs, joined into one scheduling pool.')
    .version('0.1.0')
    .addOption(new Option('-f, --file <path>', 'cluster spec').default('skypool.yaml'))
    .addOption(
      new Option('-o, --output <format>', 'output format (mermaid, dot: a diagram of `status`)')
        .choices(['text', 'json', 'mermaid', 'dot'])
        .default('text'),
    )
    .addOption(new Option('--state-dir <dir>', 'where certificates and local state live').env('SKYPOOL_STATE_DIR'))
    .addOption(
      new Option('--ready-timeout <seconds>', 'how long a new node may take to boot and join the pool (default 180)')
        .argParser(integer('--ready-timeout', 1))
        .env('SKYPOOL_READY_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--admin-cidr <cidr>',
        "who may reach the engine API (2376/tcp), repeatable; default: the spec's adminCidrs, else this machine",
      ).argParser(collect),
    )
    .showHelpAfterError('(run skypool --help for usage)')
    .exitOverride();

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  program
    .command('up')
    .description('create or converge the cluster to the spec')
    .action(async (_o, cmd: Command) => (await commands()).up(globals(cmd)));
  program
    .command('plan')
    .description('show what `up` would create or delete; calls no mutating API')
    .action(async (_o, cmd: Command) => (await commands()).plan(globals(cmd)));
  program
    .command('doctor')
    .description(
      'check settings, endpoints and credentials of the providers the spec names, and this host; creates nothing',
    )
    .action(async (_o, cmd: Command) =>
      (await commands()).doctor(globals(cmd), program.getOptionValueSource('file') !== 'default'),
    );
  program
    .command('status')
    .description('VMs, engine nodes and services of the cluster')
    .action(async (_o, cmd: Command) => (await commands()).status(globals(cmd)));
  program
    .command('run <name>')
    .description('run a workload (a swarm service) on the pool')
    .requiredOption('--image <image>', 'image reference, e.g. skypool/hello:1')
    .option('--replicas <n>', 'number of replicas', integer('--replicas', 0), 1)
    .option('--port <port>', 'container port to publish on the nodes', integer('--port', 1))
    .option('--constraint <expr>', 'placement constraint, e.g. node.labels.provider==local (repeatable)', collect)
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .argument('[command...]', 'command to run in the container (after --)')
    .action(
      async (
        name: string,
        command: string[],
        o: { image: string; replicas: number; port?: number; constraint?: string[]; env?: string[] },
        cmd: Command,
      ) => (await commands()).run(globals(cmd), { name, command, ...o }),
    );
  program
    .command('submit <name>')
    .description('submit a batch job (engine slurm: sbatch semantics) and wait until it ended')
    .requiredOption('--script <file>', 'the batch script (starts with #!); srun in it spreads work over the nodes')
    .option('--nodes <n>', 'nodes to allocate', integer('--nodes', 1), 1)
    .option('--tasks <n>', 'tasks (default one per node)', integer('--tasks', 1))
    .option('--time <minutes>', 'time limit in minutes', integer('--time', 1), 10)
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--no-wait', 'return once the job is queued')
    .action(
      async (
        name: string,
        o: { script: string; nodes: number; tasks?: number; time: number; env?: string[]; wait: boolean },
        cmd: Command,
      ) => (await commands()).submit(globals(cmd), { name, ...o }),
    );
  program
    .command('scale')
    .description('set the number of nodes of a pool (scale-down drains nodes first)')
    .argument('<pool>', 'pool name from the spec')
    .argument('<count>', 'new node count', integer('count', 0))
    .action(async (pool: string, count: number, _o, cmd: Command) =>
      (await commands()).scale(globals(cmd), pool, count),
    );
  program
    .command('migrate')
    .description(
      'move every workload and the managers of a pool (or of every pool on a provider) to another pool or provider, then remove the source',
    )
    .requiredOption('--from <pool|provider>', 'the pool, or the provider whose pools, to leave')
    .requiredOption('--to <pool|provider>', 'an existing pool, or a provider (one new pool per source pool)')
    .option('--to-region <region>', "with --to <provider>: the new pools' region")
    .option('--to-size <cpus>x<GiB>', "with --to <provider>: the new pools' size (default: the source's)")
    .option('--to-instance-type <type>', 'with --to <provider>: the instance type instead of a size')
    .option('--to-pool <name>', "with --to <provider> and one source pool: the new pool's name")
    .option('--dry-run', 'print the plan (types, prices, what is created, drained, terminated); change nothing', false)
    .option(
      '--rollback',
      'return an interrupted migration to its source (services and managers, or jobs and the slurm controller) and remove the target VMs; refused once the source is being retired',
      false,
    )
    .option('--no-write-spec', 'leave the spec file as it is (default: its pools become the ones after the move)')
    .action(
      async (
        o: {
          from: string;
          to: string;
          toRegion?: string;
          toSize?: string;
          toInstanceType?: string;
          toPool?: string;
          dryRun: boolean;
          rollback: boolean;
          writeSpec: boolean;
        },
        cmd: Command,
      ) => (await commands()).migrate(globals(cmd), o),
    );
  program
    .command('down')
    .description('drain and delete every resource of the cluster')
    .action(async (_o, cmd: Command) => (await commands()).down(globals(cmd)));
  program
    .command('rotate-ca')
    .description(
      "rotate the cluster's CAs in place (valid 5 years): the engine API client CA (each node's dockerd restarts once; resumable), then the engine's own",
    )
    .action(async (_o, cmd: Command) => (await commands()).rotateCa(globals(cmd)));
  program
    .command('schema')
    .description('print the JSON Schema of skypool.yaml')
    .action(async () => (await commands()).schema());
  program
    .command('sim')
    .description('run cloudsim: simulated EC2, Compute Engine and ARM endpoints on loopback, until Ctrl-C')
    .option('--http-port <port>', 'port for EC2, Compute Engine and the admin API', integer('--http-port', 0), 0)
    .option('--https-port <port>', 'port for ARM (https)', integer('--https-port', 0), 0)
    .option('--seed <n>', 'seed of the fault-injection random source', integer('--seed', 0), 1)
    .option('--boot-ms <ms>', 'time a VM stays pending', integer('--boot-ms', 0), 2000)
    .option('--state-file <path>', 'load and persist the simulated clouds here (mode 0600: it holds user-data)')
    .option(
      '--env-out <path>',
      'write endpoints and credentials as `export K=V` lines here, mode 0600 (default <state dir>/sim.env)',
    )
    .option('--ca-out <path>', 'write the https CA certificate here (default <env-out>.ca.pem; NODE_EXTRA_CA_CERTS)')
    .option('--credentials-from <path>', 'accept the credentials of this env file (an earlier --env-out) again')
    .addOption(
      new Option('--backing <kind>', 'virtual: state only; local: each VM runs its user-data in a namespace VM (root)')
        .choices(['virtual', 'local'])
        .default('virtual'),
    )
    .addOption(
      new Option(
        '--network <kind>',
        'with --backing local: flat (one bridge) or realistic (a segment per cloud network, 1:1 NAT, firewalls)',
      )
        .choices(['flat', 'realistic'])
        .default('flat'),
    )
    .option('--rate-scale <scale>', 'multiply rate limits: 0.1 (every cloud) or aws=0.1,gcp=0.5', rateScaleFlag)
    .option('--no-rate-limits', "turn every cloud's rate limits off")
    .option('--throttle-every <n>', 'throttle every Nth call: 3 (every cloud) or aws=3,azure=5', throttleEveryFlag)
    .option('--server-errors <p>', 'answer 5xx with probability p: 0.05 or gcp=0.1', probabilityFlag('--server-errors'))
    .option('--resets <p>', 'reset connections with probability p: 0.01 or aws=0.02', probabilityFlag('--resets'))
    .option('--fault <json>', 'add a fault rule as POST /_sim/faults takes it (repeatable)', faultFlag)
    .action(
      async (
        o: {
          httpPort: number;
          httpsPort: number;
          seed: number;
          bootMs: number;
          stateFile?: string;
          caOut?: string;
          envOut?: string;
          credentialsFrom?: string;
          backing: 'virtual' | 'local';
          network: 'flat' | 'realistic';
        } & SimFaultFlags,
        cmd: Command,
      ) => (await commands()).sim(globals(cmd), o),
    );
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const format = (): OutputFormat => (program.opts<{ output?: OutputFormat }>().output === 'json' ? 'json' : 'text');
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    return reportError(error, format());
  }
}

const exitCode = await main(process.argv);
// A command may set a failing exit code itself after printing its result (doctor).
if (exitCode !== 0 || !process.exitCode) process.exitCode = exitCode;
