import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkypoolError } from '../errors.js';
import { type AwsPoolUserDataInput, awsPoolTemplate } from './aws-pool-user-data.js';
import { packageRoot } from './package-root.js';

export type { AwsPoolUserDataInput, AwsSecretsManagerSource } from './aws-pool-user-data.js';

/** The smallest user-data limit of the supported clouds (EC2: 16 KB before base64). */
export const USER_DATA_MAX_BYTES = 16_384;

export type SwarmBootstrapRole = 'manager-init' | 'manager-join' | 'worker';

export interface UserDataTls {
  readonly caPem: string;
  readonly certPem: string;
  /** The node's private key: lands in /etc/skypool/tls/key.pem (0600). Never log the rendered script. */
  readonly keyPem: string;
}

export interface UserDataJoin {
  /** Swarm join token (worker or manager one, matching the role). Rotated by the SDK once joins settle. */
  readonly token?: string;
  /** Instead of `token`: a shell command run at boot that prints the token (e.g. read from a secrets store). */
  readonly tokenCommand?: string;
  /** Manager addresses (IP or name) to join on port 2377, tried in order. */
  readonly managers: readonly string[];
}

export interface UserDataInput {
  readonly engine: 'swarm';
  readonly role: SwarmBootstrapRole;
  /** Hostname and engine node name. */
  readonly nodeName: string;
  /** Address the engine advertises; when absent the first address of `hostname -I` at boot. */
  readonly nodeIp?: string;
  readonly tls: UserDataTls;
  /** Required for `manager-join` and `worker`. */
  readonly join?: UserDataJoin;
  /** How long the script waits for dockerd and the join before writing bootstrap.failed. Default 300. */
  readonly deadlineSeconds?: number;
}

/** Single-quotes a value for POSIX sh: the only character that needs care inside '...' is ' itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const PARTIAL = /^\{\{>\s*([\w./-]+)\s*\}\}$/gm;
// Only identifiers are placeholders, so Go templates such as {{.Swarm.LocalNodeState}} pass through untouched.
const PLACEHOLDER = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

const templateCache = new Map<string, string>();

function readTemplate(name: string): string {
  let text = templateCache.get(name);
  if (text === undefined) {
    if (name.includes('..')) throw new SkypoolError('INTERNAL', `template name "${name}" must stay inside templates/`);
    text = readFileSync(join(packageRoot(), 'templates', name), 'utf8');
    templateCache.set(name, text);
  }
  return text;
}

/**
 * Renders a template: `{{> path}}` lines are replaced by the file templates/<path> (one level, no nesting), and
 * every `{{name}}` by the shell-quoted value. An unknown placeholder is an error, never an empty string.
 */
export function renderTemplate(
  name: string,
  values: Readonly<Record<string, string>>,
  read: (name: string) => string = readTemplate,
): string {
  const expanded = read(name).replace(PARTIAL, (_line, partial: string) => read(partial).replace(/\n$/, ''));
  const unknown = new Set<string>();
  const rendered = expanded.replace(PLACEHOLDER, (match, key: string) => {
    if (!Object.hasOwn(values, key)) {
      unknown.add(key);
      return match;
    }
    return shellQuote(values[key]!);
  });
  if (unknown.size > 0) {
    throw new SkypoolError('INTERNAL', `template ${name} uses unknown placeholder(s): ${[...unknown].join(', ')}`, {
      details: { template: name, unknown: [...unknown] },
    });
  }
  return rendered;
}

function invalid(message: string): SkypoolError {
  return new SkypoolError('INTERNAL', `cannot render user-data: ${message}`, { exitCode: 2 });
}

/** Refuses a script over the smallest user-data limit of the supported clouds. */
export function withinLimit(script: string): string {
  const size = Buffer.byteLength(script, 'utf8');
  if (size > USER_DATA_MAX_BYTES) {
    throw invalid(`the script is ${size} bytes, over the ${USER_DATA_MAX_BYTES}-byte user-data limit of EC2`);
  }
  return script;
}

/** An AWS pool's shared boot script (CDK Auto Scaling groups): see aws-pool-user-data.ts. */
function renderAwsPool(input: AwsPoolUserDataInput): string {
  let template: ReturnType<typeof awsPoolTemplate>;
  try {
    template = awsPoolTemplate(input);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  return withinLimit(renderTemplate(template.template, template.values));
}

/**
 * Renders the boot script of one node, or (with `source`) of every node of an AWS pool. Pure: the same input
 * gives the same bytes.
 */
export function renderUserData(input: UserDataInput | AwsPoolUserDataInput): string {
  if ('source' in input) return renderAwsPool(input);
  if (input.engine !== 'swarm') throw invalid(`engine "${String(input.engine)}" has no templates yet`);
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(input.nodeName))
    throw invalid(`node name "${input.nodeName}" is not a valid hostname`);
  if (input.nodeIp !== undefined && !/^[0-9a-fA-F:.]+$/.test(input.nodeIp))
    throw invalid(`node IP "${input.nodeIp}" is not an IP address`);
  const deadline = input.deadlineSeconds ?? 300;
  if (!Number.isInteger(deadline) || deadline <= 0) throw invalid('deadlineSeconds must be a positive whole number');
  const values: Record<string, string> = {
    node_name: input.nodeName,
    node_ip: input.nodeIp ?? '',
    deadline_seconds: String(deadline),
    tls_ca: input.tls.caPem.trim(),
    tls_cert: input.tls.certPem.trim(),
    tls_key: input.tls.keyPem.trim(),
  };
  if (input.role !== 'manager-init') {
    const join = input.join;
    if (!join || (!join.token && !join.tokenCommand))
      throw invalid(`role ${input.role} needs join.token or join.tokenCommand`);
    if (join.managers.length === 0)
      throw invalid(`role ${input.role} needs at least one manager address in join.managers`);
    const bad = join.managers.find((m) => !/^[\w.:-]+$/.test(m));
    if (bad !== undefined) throw invalid(`manager address "${bad}" is not an IP address or host name`);
    values.join_token = join.token ?? '';
    values.join_token_command = join.tokenCommand ?? '';
    values.join_addrs = join.managers.join(' ');
  }
  return withinLimit(renderTemplate(`swarm/${input.role}.sh`, values));
}
