import { renderTemplate, withinLimit } from '../../bootstrap/user-data.js';
import { EngineError, PrerequisiteError, SkypoolError, TimeoutError } from '../../errors.js';
import { pushJoin, type VolumeApi } from '../../fabric/index.js';
import { redact } from '../../redact.js';
import type { ProviderName, Role } from '../../spec/schema.js';
import { isIpv4 } from '../../util/ipv4.js';
import { pollUntil } from '../../util/poll.js';
import { DockerClients } from '../swarm/api.js';
import type {
  BatchJobSpec,
  BootstrapInput,
  DrainResult,
  EngineClientTls,
  EngineDriver,
  EngineEndpoint,
  EngineNode,
  EngineSettings,
  HostRequirements,
  JobEngine,
  JobStatus,
  JoinTokens,
  NodeAvailability,
  NodeExec,
  WaitOptions,
  WorkloadKind,
} from '../types.js';
import { jobEnded } from '../types.js';
import { dockerExec } from './commands.js';
import * as move from './controller-move.js';
import { labelsToFeatures, parsePing, parseRecords, toEngineNode, toJobStatus } from './parse.js';

export const requirements: HostRequirements = {
  commands: ['munged', 'munge', 'slurmctld', 'slurmd', 'scontrol', 'sbatch', 'squeue'],
  packages: ['slurm-wlm', 'munge'],
  ports: [
    { port: 6817, protocol: 'tcp', why: 'slurmctld, from the nodes (inside wg0 on the fabric)' },
    {
      port: 6818,
      protocol: 'tcp',
      why: 'slurmd, from the controller and other nodes: job steps (inside wg0 on the fabric)',
    },
    { port: 51820, protocol: 'udp', why: 'fabric (WireGuard), on clouds: the Slurm ports above ride inside it' },
    {
      port: 2376,
      protocol: 'tcp',
      why: "on clouds, the node's mailbox (dockerd, mTLS) from the SDK: fabric peers, the munge key, Slurm's commands",
    },
  ],
};

/**
 * Where the SDK cannot run commands in the VMs (every provider but local), Slurm nodes join the WireGuard fabric,
 * print their identity on the console and run a mailbox dockerd: the core pins them, pushes peers and the munge
 * key, and Slurm's commands run there through `docker exec`. A pool of local VMs only keeps the lighter path:
 * commands and the munge key through the local provider's command execution, no dockerd, no fabric.
 */
export function onFabric(providers: readonly ProviderName[]): boolean {
  return providers.some((p) => p !== 'local');
}

/** Console identities (and the fabric) whenever a pool is not on the local provider only. */
export function nodeIdentityOn(providers: readonly ProviderName[]): 'console' | undefined {
  return onFabric(providers) ? 'console' : undefined;
}

export const workloadKinds: readonly WorkloadKind[] = ['job'];

/** Paths inside the VMs (the templates under templates/slurm/ write them). */
const CONTROLLER_CONF = '/etc/skypool/slurm/slurm.conf';
const MUNGE_DIR = '/etc/skypool/munge';
const NODE_CONF = '/var/lib/skypool/slurmd/conf-cache/slurm.conf';
const JOBS_DIR = '/var/lib/skypool/jobs';
/** Written by templates/common/done.sh once the node's daemons answered (removed at the start of every boot). */
const BOOT_DONE = '/var/lib/skypool/bootstrap.done';
const MUNGE_KEY_BYTES = 128;
const CALL_TIMEOUT_MS = 15_000;

export function createEngine(settings: EngineSettings): SlurmDriver {
  return new SlurmDriver(settings.clusterSecret('slurm munge key', MUNGE_KEY_BYTES), {
    fabric: onFabric(settings.providers),
    tls: settings.tls,
  });
}

/** A definite verdict about a job (not a transient failure): ends a wait at once. */
class JobError extends EngineError {}

/**
 * Slurm with a configless controller (slurmctld + munged on the manager) and dynamic nodes (`slurmd -Z`) on the
 * workers. The SDK drives slurmctld with Slurm's own commands run inside the controller VM through the provider's
 * command execution (`EngineEndpoint.exec`), so nothing but munge-authenticated Slurm traffic crosses the network
 * (see README: why not slurmrestd).
 */
export class SlurmDriver implements EngineDriver {
  readonly engine = 'slurm' as const;
  readonly requirements = requirements;
  readonly jobs: JobEngine;
  /** Set on the fabric: the core pins console identities, pushes peers and hands nodes the key (joinTokens). */
  readonly nodeIdentity?: 'console';
  private readonly clients: DockerClients | undefined;
  private readonly fabric: boolean;

  constructor(
    private readonly mungeKey: Buffer,
    options: { readonly fabric?: boolean; readonly tls?: EngineClientTls } = {},
  ) {
    this.fabric = options.fabric === true;
    if (this.fabric) {
      if (!options.tls) throw new SkypoolError('INTERNAL', 'the slurm driver on the fabric needs the client TLS');
      this.nodeIdentity = 'console';
      this.clients = new DockerClients(options.tls);
    }
    this.jobs = {
      submitJob: (manager, job) => this.submitJob(manager, job),
      jobs: (manager, id) => this.listJobs(manager, id),
      waitJob: (manager, id, options) => this.waitJob(manager, id, options),
      jobOutput: (node, id) => this.jobOutput(node, id),
    };
  }

  renderUserData(input: BootstrapInput): string {
    const controller = input.role === 'manager';
    if (controller && !input.first) {
      throw new SkypoolError('SPEC_INVALID', 'the slurm engine runs one controller: set the manager pool count to 1', {
        exitCode: 2,
        details: { issues: [{ path: 'pools', message: 'slurm supports exactly one manager (the controller)' }] },
      });
    }
    if (this.fabric) return this.renderFabricUserData(input, controller);
    // The controller finds its own name and address at boot (hostname) unless they are given.
    const ctlAddr = controller ? (input.nodeIp ?? '') : input.managers?.[0];
    const ctlName = controller ? (input.nodeName ?? '') : input.managerNames?.[0];
    const who = input.nodeName ?? `pool ${input.pool}`;
    if (!controller && (!ctlAddr || !isIpv4(ctlAddr) || !ctlName))
      throw new SkypoolError('INTERNAL', `cannot render user-data: ${who} needs its controller's name and address`);
    if (controller && ctlAddr && !isIpv4(ctlAddr))
      throw new SkypoolError('INTERNAL', `cannot render user-data: "${ctlAddr}" is not an IPv4 address`);
    if (input.nodeName !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(input.nodeName))
      throw new SkypoolError(
        'INTERNAL',
        `cannot render user-data: node name "${input.nodeName}" is not a valid hostname`,
      );
    return withinLimit(
      renderTemplate(controller ? 'slurm/controller.sh' : 'slurm/node.sh', {
        node_name: input.nodeName ?? '',
        node_ip: input.nodeIp ?? '',
        deadline_seconds: String(input.deadlineSeconds ?? 300),
        ctl_name: ctlName ?? '',
        ctl_addr: ctlAddr ?? '',
        node_features: controller ? '' : labelsToFeatures(input.labels ?? {}).join(','),
      }),
    );
  }

  /**
   * The same public bytes for every node of the pool: pool, CA certificate, fabric prefix. The node learns its
   * name and address at boot; the munge key and the controller's fabric address come through the join volume.
   */
  private renderFabricUserData(input: BootstrapInput, controller: boolean): string {
    if (!input.fabricPrefix)
      throw new EngineError(`cannot render the slurm user-data of pool ${input.pool}: no fabric prefix`, {
        pool: input.pool,
      });
    const values: Record<string, string> = {
      cluster: input.cluster,
      pool: input.pool,
      tls_ca: input.caPem.trim(),
      fabric_prefix: input.fabricPrefix,
      deadline_seconds: String(input.deadlineSeconds ?? 300),
    };
    if (!controller) values.node_features = labelsToFeatures(input.labels ?? {}).join(',');
    return withinLimit(
      compactScript(renderTemplate(controller ? 'slurm/controller-fabric.sh' : 'slurm/node-fabric.sh', values)),
    );
  }

  /** The mailbox (dockerd's volumes) on the fabric: peers and the join volume. */
  nodeChannel(endpoint: EngineEndpoint): VolumeApi {
    return this.mailbox().get(endpoint, 5_000) as unknown as VolumeApi;
  }

  /** The munge key is every node's join secret (base64); the core puts it with the controller's address. */
  async joinTokens(_manager: EngineEndpoint): Promise<JoinTokens> {
    const key = this.mungeKey.toString('base64');
    return { worker: key, manager: key };
  }

  private mailbox(): DockerClients {
    if (!this.clients)
      throw new SkypoolError('INTERNAL', 'the slurm driver has no mailbox off the fabric (local provider only)');
    return this.clients;
  }

  /** Where a node's Slurm commands run: the provider's command execution, else docker exec over its mailbox. */
  private execOf(endpoint: EngineEndpoint): NodeExec {
    if (endpoint.exec) return endpoint.exec;
    if (this.clients) return dockerExec(this.clients, endpoint);
    throw new PrerequisiteError(
      `the slurm engine drives its nodes by running Slurm's commands in them, and the provider of ${endpoint.name} cannot run commands in its VMs`,
      { node: endpoint.name },
    );
  }

  /** Runs a Slurm command inside a node; the controller's commands read its config, a node's its cached one. */
  private async exec(
    endpoint: EngineEndpoint,
    argv: readonly string[],
    options: { input?: string; conf?: string; allowFailure?: boolean } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const run = this.execOf(endpoint);
    const command = ['env', `SLURM_CONF=${options.conf ?? CONTROLLER_CONF}`, ...argv];
    try {
      return await run(command, {
        timeoutMs: CALL_TIMEOUT_MS,
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.allowFailure ? { allowFailure: true } : {}),
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new EngineError(
        `${argv[0]} failed on ${endpoint.name}: ${redact(message)}`,
        { node: endpoint.name, action: argv.slice(0, 3).join(' ') },
        error,
      );
    }
  }

  /**
   * Hands a booting node the munge key, once per wait: on the fabric the controller's through the join volume
   * (nodes get theirs from the core's pushJoins, with the controller's address), elsewhere written into the VM
   * by command execution. Never in user-data.
   */
  private async deliverKey(endpoint: EngineEndpoint, role: Role): Promise<void> {
    const key = this.mungeKey.toString('base64');
    if (this.fabric && !endpoint.exec) {
      if (role === 'manager') await pushJoin(this.nodeChannel(endpoint), { token: key, addrs: [] });
      return;
    }
    // One command: a node that has its key keeps it (the key never changes for the cluster's life).
    const file = `${MUNGE_DIR}/munge.key`;
    await this.execOf(endpoint)(
      [
        'sh',
        '-c',
        `test -s ${file} && exit 0; umask 077 && mkdir -p ${MUNGE_DIR} && chmod 0700 ${MUNGE_DIR} && base64 -d >${file}.new && mv -f ${file}.new ${file}`,
      ],
      { input: key, timeoutMs: CALL_TIMEOUT_MS },
    );
  }

  async waitReady(endpoint: EngineEndpoint, role: Role, options: WaitOptions): Promise<void> {
    let keyDelivered = false;
    await pollUntil(
      async () => {
        // Until the boot script wrote its config, a Slurm command would look for the controller in DNS (SRV
        // records, configless) and wait on the resolver: ask the boot script first. On the fabric the command
        // container exists only once the node booted: until then, the call fails and the key is due.
        // One command per look: the boot marker, then the Slurm question (exit 100: not booted yet).
        const ask = role === 'manager' ? ['scontrol', 'ping'] : ['scontrol', '-o', 'show', 'node', endpoint.name];
        const answer = await this.exec(
          endpoint,
          ['sh', '-c', 'test -s "$1" || exit 100; shift; exec "$@"', 'sh', BOOT_DONE, ...ask],
          {
            allowFailure: true,
            ...(role === 'manager' ? {} : { conf: NODE_CONF }),
          },
        ).catch(() => undefined);
        if (answer === undefined || answer.code === 100) {
          if (!keyDelivered) {
            await this.deliverKey(endpoint, role);
            keyDelivered = true;
          }
          return undefined;
        }
        // The controller answers; a node is a member once its slurmd fetched the config and the controller lists it.
        if (role === 'manager') return parsePing(answer.stdout).some((c) => c.up) ? true : undefined;
        const [record] = parseRecords(answer.stdout);
        return record && toEngineNode(record).state === 'ready' ? true : undefined;
      },
      {
        ...options,
        intervalMs: 50,
        what: `the slurm ${role === 'manager' ? 'controller' : 'node'} ${endpoint.name} (${endpoint.host}) to answer`,
        hint: 'the node may still be booting, or its user-data failed (see /var/log/skypool on the VM)',
      },
    );
  }

  async listNodes(manager: EngineEndpoint): Promise<EngineNode[]> {
    const [ping, show] = await Promise.all([
      this.exec(manager, ['scontrol', 'ping'], { allowFailure: true }),
      this.exec(manager, ['scontrol', '-o', 'show', 'node']),
    ]);
    // The controller is a member too (the manager VM), so the core does not take it for a stray.
    const controllers: EngineNode[] = parsePing(ping.stdout).map((c, k) => ({
      id: c.name,
      name: c.name,
      role: 'manager',
      state: c.up ? 'ready' : 'down',
      availability: 'active',
      leader: k === 0,
      labels: {},
      engineState: c.up ? 'controller' : 'controller-down',
    }));
    return [...controllers, ...parseRecords(show.stdout).map(toEngineNode)];
  }

  async setNodeLabels(
    manager: EngineEndpoint,
    nodeId: string,
    labels: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    // One look at that node alone; the controller is no node (it runs no jobs: nothing to place).
    const shown = await this.exec(manager, ['scontrol', '-o', 'show', 'node', nodeId], { allowFailure: true });
    const [record] = shown.code === 0 ? parseRecords(shown.stdout) : [];
    const node = record ? toEngineNode(record) : undefined;
    if (!node || node.id !== nodeId) return false;
    if (Object.entries(labels).every(([k, v]) => node.labels[k] === v)) return false;
    const features = labelsToFeatures({ ...node.labels, ...labels }).join(',');
    await this.exec(manager, [
      'scontrol',
      'update',
      `NodeName=${nodeId}`,
      `AvailableFeatures=${features}`,
      `ActiveFeatures=${features}`,
    ]);
    return true;
  }

  private async jobsOn(manager: EngineEndpoint, nodeId: string): Promise<string[]> {
    const { stdout } = await this.exec(manager, ['squeue', '-h', '-w', nodeId, '-t', 'RUNNING,COMPLETING', '-o', '%i']);
    return stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /**
   * `State=DRAIN`: no new jobs; running ones may finish until the deadline. Jobs still running then are
   * requeued (they start again elsewhere), so a scale-down never waits forever on a long job.
   */
  async drainNode(manager: EngineEndpoint, nodeId: string, options: WaitOptions): Promise<DrainResult> {
    const started = Date.now();
    const running = await this.jobsOn(manager, nodeId);
    await this.exec(manager, ['scontrol', 'update', `NodeName=${nodeId}`, 'State=DRAIN', 'Reason=skypool-scale-down']);
    const drained = async (): Promise<true | undefined> => {
      const node = (await this.listNodes(manager)).find((n) => n.id === nodeId);
      if (!node) return true;
      return (await this.jobsOn(manager, nodeId)).length === 0 ? true : undefined;
    };
    let requeued = 0;
    try {
      await pollUntil(drained, { ...options, intervalMs: 200, what: `the jobs on ${nodeId} to finish` });
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      const left = await this.jobsOn(manager, nodeId);
      if (left.length > 0) await this.exec(manager, ['scontrol', 'requeue', left.join(',')]);
      requeued = left.length;
      await pollUntil(drained, {
        deadline: Date.now() + 30_000,
        ...(options.signal ? { signal: options.signal } : {}),
        intervalMs: 200,
        what: `the requeued jobs to leave ${nodeId}`,
      });
    }
    return {
      node: nodeId,
      durationMs: Date.now() - started,
      movedTasks: running.length,
      ...(requeued ? { requeued } : {}),
    };
  }

  /**
   * `active`: `State=RESUME` (a drained node takes jobs again); `pause` and `drain`: `State=DRAIN` without waiting
   * (Slurm's cordon: what runs keeps running, nothing new starts). Not for the controller (no node).
   */
  async setAvailability(manager: EngineEndpoint, nodeId: string, availability: NodeAvailability): Promise<boolean> {
    const shown = await this.exec(manager, ['scontrol', '-o', 'show', 'node', nodeId], { allowFailure: true });
    const [record] = shown.code === 0 ? parseRecords(shown.stdout) : [];
    const node = record ? toEngineNode(record) : undefined;
    if (!node || node.id !== nodeId) throw new EngineError(`${nodeId} is no slurm node`, { node: nodeId });
    const wanted = availability === 'active' ? 'active' : 'drain';
    if (node.availability === wanted) return false;
    await this.exec(manager, [
      'scontrol',
      'update',
      `NodeName=${nodeId}`,
      ...(wanted === 'active' ? ['State=RESUME'] : ['State=DRAIN', 'Reason=skypool-cordon']),
    ]);
    return true;
  }

  async removeNode(manager: EngineEndpoint, nodeId: string): Promise<void> {
    const nodes = await this.listNodes(manager);
    const target = nodes.find((n) => n.id === nodeId);
    if (!target) return; // already gone
    if (target.role === 'manager') {
      throw new EngineError(
        `refusing to remove ${target.name}: it is the slurm controller; destroy the cluster instead`,
        {
          node: target.name,
        },
      );
    }
    const remove = () => this.exec(manager, ['scontrol', 'delete', `NodeName=${nodeId}`], { allowFailure: true });
    let result = await remove();
    if (result.code !== 0 && /nodes are busy/i.test(result.stderr)) {
      // Still ALLOCATED or COMPLETING for the controller (a job requeued off it a moment ago, or whose end the
      // node never confirmed): DOWN lets go of its jobs there, as an admin does with a node stuck completing.
      await this.exec(manager, ['scontrol', 'update', `NodeName=${nodeId}`, 'State=DOWN', 'Reason=skypool-remove']);
      result = await remove();
    }
    if (result.code !== 0 && !/Invalid node name/i.test(result.stderr)) {
      throw new EngineError(
        `scontrol delete NodeName=${nodeId} failed on ${manager.name}: ${redact(result.stderr.trim())}`,
        {
          node: nodeId,
        },
      );
    }
  }

  /** A value kept beside the controller's state (StateSaveLocation): it moves with the controller. */
  async clusterRecord(manager: EngineEndpoint, key: string): Promise<string | undefined> {
    const file = recordFile(key);
    const { stdout } = await this.exec(manager, ['sh', '-c', 'cat "$1" 2>/dev/null || true', 'sh', file]);
    return stdout.length > 0 ? stdout : undefined;
  }

  async setClusterRecord(manager: EngineEndpoint, key: string, value: string | undefined): Promise<void> {
    const file = recordFile(key);
    if (value === undefined) await this.exec(manager, ['rm', '-f', file]);
    else await this.exec(manager, ['sh', '-c', 'cat >"$1.new" && mv -f "$1.new" "$1"', 'sh', file], { input: value });
  }

  /**
   * What a migration needs to move the controller (src/engines/slurm/controller-move.ts), on the fabric only:
   * the controller's commands, a node's commands, and the mailbox to start the moved slurmctld.
   */
  controllerMove(): SlurmControllerMove {
    const clients = this.mailbox();
    const exec: move.ControllerExec = (endpoint, argv, options = {}) => this.exec(endpoint, argv, options);
    return {
      exec,
      nodeExec: (endpoint) => this.execOf(endpoint),
      start: (endpoint) => move.startMovedController(clients, endpoint),
      stopMoved: (endpoint) => move.stopMovedController(clients, endpoint),
    };
  }

  /** Lets requeued jobs start at once (Slurm holds a requeued job back by a begin time). */
  async releaseJobs(manager: EngineEndpoint, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      if (!/^\d+$/.test(id)) throw new EngineError(`"${id}" is not a slurm job id`, { job: id });
      await this.exec(manager, ['scontrol', 'update', `JobId=${id}`, 'StartTime=now'], { allowFailure: true });
    }
  }

  private async submitJob(manager: EngineEndpoint, job: BatchJobSpec): Promise<string> {
    validateJob(job);
    const nodes = job.nodes ?? 1;
    const env = Object.entries(job.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const argv = [
      'sbatch',
      '--parsable',
      `--job-name=${job.name}`,
      `--nodes=${nodes}`,
      `--ntasks=${job.tasks ?? nodes}`,
      `--time=${job.timeLimitMinutes ?? 10}`,
      `--output=${JOBS_DIR}/%j.out`,
      `--chdir=${JOBS_DIR}`,
      `--export=${['ALL', ...env].join(',')}`,
    ];
    const { stdout } = await this.exec(manager, argv, { input: job.script });
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new EngineError(`sbatch on ${manager.name} answered no job id`, { job: job.name });
    return id;
  }

  private async listJobs(manager: EngineEndpoint, id?: string): Promise<JobStatus[]> {
    const argv = ['scontrol', '-o', 'show', 'job', ...(id ? [id] : [])];
    const result = await this.exec(manager, argv, { allowFailure: true });
    // An id the controller forgot (MinJobAge) is no error: there is just nothing to show.
    if (result.code !== 0 && !/Invalid job id/i.test(result.stderr)) {
      throw new EngineError(`scontrol show job failed on ${manager.name}: ${redact(result.stderr.trim())}`, {
        node: manager.name,
      });
    }
    return parseRecords(result.stdout).map(toJobStatus);
  }

  private async waitJob(manager: EngineEndpoint, id: string, options: WaitOptions): Promise<JobStatus> {
    return pollUntil(
      async () => {
        const [job] = await this.listJobs(manager, id);
        if (!job) throw new JobError(`job ${id} is unknown to the controller`, { job: id });
        return jobEnded(job.state) ? job : undefined;
      },
      {
        ...options,
        intervalMs: 200,
        isFatal: (e) => e instanceof JobError,
        what: `job ${id} to end`,
        hint: 'run `skypool status` to see the queue; the job keeps running',
      },
    );
  }

  private async jobOutput(node: EngineEndpoint, id: string): Promise<string> {
    if (!/^\d+$/.test(id)) throw new EngineError(`"${id}" is not a slurm job id`, { job: id });
    const { stdout } = await this.exec(node, ['cat', `${JOBS_DIR}/${id}.out`], { conf: NODE_CONF });
    return stdout;
  }

  close(): void {
    this.clients?.clear();
  }
}

export interface SlurmControllerMove {
  readonly exec: move.ControllerExec;
  readonly nodeExec: (endpoint: EngineEndpoint) => NodeExec;
  readonly start: (endpoint: EngineEndpoint) => Promise<void>;
  readonly stopMoved: (endpoint: EngineEndpoint) => Promise<void>;
}

/** Records live beside the controller's state (they move with it); keys are plain words. */
function recordFile(key: string): string {
  if (!/^[\w.-]+$/.test(key)) throw new EngineError(`"${key}" is not a record name`, { record: key });
  return `${move.STATE_DIR}/skypool-${key}`;
}

/**
 * The shared fabric and dockerd partials pass EC2's 16 KB only without their comment lines: they go (not the
 * shebang and header, nor shellcheck directives).
 */
function compactScript(script: string): string {
  return script
    .split('\n')
    .filter((line, i) => i < 2 || !/^\s*# /.test(line) || /^\s*# shellcheck /.test(line))
    .join('\n');
}

function validateJob(job: BatchJobSpec): void {
  const problems: string[] = [];
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(job.name))
    problems.push(`name "${job.name}" must be lowercase letters, digits and '-'`);
  if (!job.script.startsWith('#!')) problems.push('script must start with an interpreter line such as #!/bin/sh');
  for (const [field, value] of [
    ['nodes', job.nodes],
    ['tasks', job.tasks],
    ['timeLimitMinutes', job.timeLimitMinutes],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      problems.push(`${field} must be a whole number ≥ 1`);
  }
  for (const key of Object.keys(job.env ?? {}))
    if (!/^[A-Za-z_]\w*$/.test(key)) problems.push(`env name "${key}" is not a variable name`);
  for (const value of Object.values(job.env ?? {}))
    if (value.includes(',')) problems.push('env values cannot contain "," (sbatch --export splits on it)');
  if (problems.length > 0) throw new EngineError(`invalid job: ${problems.join('; ')}`, { job: job.name });
}
