import { PassThrough } from 'node:stream';
import { EngineError } from '../../errors.js';
import { redact } from '../../redact.js';
import { apiMessage, apiStatus, type DockerClients } from '../swarm/api.js';
import type { EngineEndpoint, NodeExec } from '../types.js';

/**
 * How the SDK runs Slurm's commands on a node. Where the provider runs commands inside its VMs (local), through
 * that; elsewhere (the clouds) through the node's mailbox, its dockerd on 2376 (mTLS, pinned certificate): a
 * `docker exec` in the idle container `skypool-slurm` that templates/slurm/command-container.sh starts, which
 * shares the node's network, /usr, Slurm config, munge socket and state. Nothing but munge-authenticated Slurm
 * traffic and that mTLS API reaches a node.
 */
export const COMMAND_CONTAINER = 'skypool-slurm';

export interface CommandOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly allowFailure?: boolean;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/** A NodeExec over the node's engine API: `docker exec` in the command container. */
export function dockerExec(clients: DockerClients, endpoint: EngineEndpoint): NodeExec {
  return (argv, options = {}) => execInContainer(clients, endpoint, argv, options);
}

interface ExecHandle {
  start(options: { hijack: boolean; stdin: boolean }): Promise<NodeJS.ReadableStream>;
  inspect(): Promise<{ ExitCode: number | null; Running: boolean }>;
}

async function execInContainer(
  clients: DockerClients,
  endpoint: EngineEndpoint,
  argv: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const docker = clients.get(endpoint, timeoutMs);
  // Input travels in the environment (base64), not stdin: a hijacked TLS stream cannot be half-closed reliably.
  const cmd =
    options.input === undefined
      ? [...argv]
      : ['sh', '-c', 'printf %s "$SKYPOOL_INPUT" | base64 -d | "$@"', 'sh', ...argv];
  const shown = redact(argv.slice(0, 3).join(' '));
  let exec: ExecHandle;
  let stream: NodeJS.ReadableStream;
  try {
    exec = (await docker.getContainer(COMMAND_CONTAINER).exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      ...(options.input !== undefined
        ? { Env: [`SKYPOOL_INPUT=${Buffer.from(options.input).toString('base64')}`] }
        : {}),
    })) as unknown as ExecHandle;
    stream = await exec.start({ hijack: true, stdin: false });
  } catch (error) {
    const status = apiStatus(error);
    throw new EngineError(
      `running "${shown}" on ${endpoint.name} through its engine API failed: ${apiMessage(error)}`,
      { node: endpoint.name, action: shown, ...(status ? { status } : {}) },
      error,
    );
  }
  const stdout = collect();
  const stderr = collect();
  docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      reject(
        new EngineError(`"${shown}" did not finish on ${endpoint.name} within ${timeoutMs} ms`, {
          node: endpoint.name,
        }),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(
        new EngineError(`"${shown}" on ${endpoint.name}: ${redact(error.message)}`, { node: endpoint.name }, error),
      );
    });
  });
  // The exit code lands a moment after the stream ends.
  let code: number | null = null;
  for (let k = 0; k < 50 && code === null; k++) {
    const info = await exec.inspect();
    code = info.Running ? null : info.ExitCode;
    if (code === null) await new Promise((r) => setTimeout(r, 20));
  }
  const result = { code: code ?? 128, stdout: stdout.text(), stderr: stderr.text() };
  if (result.code !== 0 && !options.allowFailure) {
    const why = redact(result.stderr.trim()).slice(-4000) || `exit ${result.code}`;
    throw new EngineError(`"${shown}" failed on ${endpoint.name}: ${why}`, {
      node: endpoint.name,
      exitCode: result.code,
    });
  }
  return result;
}

function collect(): { sink: PassThrough; text: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => {
    if (text.length < MAX_OUTPUT) text += d.toString();
  });
  return { sink, text: () => text };
}
