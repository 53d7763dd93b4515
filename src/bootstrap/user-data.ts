import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SkypoolError } from '../errors.js';
import { type AwsPoolUserDataInput, awsPoolTemplate } from './aws-pool-user-data.js';
import { packageRoot } from './package-root.js';

export type { AwsPoolUserDataInput, AwsSecretsManagerSource } from './aws-pool-user-data.js';

/** The smallest user-data limit of the supported clouds (EC2: 16 KB before base64). */
export const USER_DATA_MAX_BYTES = 16_384;

export type SwarmBootstrapRole = 'manager-init' | 'manager-join' | 'worker';

export interface UserDataInput {
  readonly engine: 'swarm';
  readonly role: SwarmBootstrapRole;
  readonly cluster: string;
  /** The pool: with the cluster, it names EC2 nodes whose hostname is their instance id. */
  readonly pool: string;
  /** The cluster CA (public): dockerd accepts only clients it signed. */
  readonly caPem: string;
  /** The cloud network's /16 of the fabric range, e.g. `100.64.0.0/16`. */
  readonly fabricPrefix: string;
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

/**
 * The script as it fits the smallest user-data limit of the supported clouds (EC2's 16 KB): as is when it fits,
 * else packed (gzip + base64) into a small script that unpacks it to a file and runs it, so every cloud, the local
 * provider and the CDK launch template still run a plain shell script. Refuses what does not fit even packed.
 */
export function withinLimit(script: string): string {
  const size = Buffer.byteLength(script, 'utf8');
  if (size <= USER_DATA_MAX_BYTES) return script;
  const packed = packScript(script);
  const packedSize = Buffer.byteLength(packed, 'utf8');
  if (packedSize > USER_DATA_MAX_BYTES) {
    throw invalid(
      `the script is ${size} bytes (${packedSize} packed), over the ${USER_DATA_MAX_BYTES}-byte user-data limit of EC2`,
    );
  }
  return packed;
}

/** The script a packed user-data runs (see withinLimit); any other script as it is. */
export function unpackScript(userData: string): string {
  const body = /<<'SKYPOOL_PACKED'[^\n]*\n([A-Za-z0-9+/=\n]*?)\nSKYPOOL_PACKED\n/.exec(userData)?.[1];
  return body === undefined ? userData : gunzipSync(Buffer.from(body.replaceAll('\n', ''), 'base64')).toString('utf8');
}

/** gzip's header carries no time here (mtime 0), so one script always packs to the same bytes. */
function packScript(script: string): string {
  const body = gzipSync(Buffer.from(script, 'utf8'), { level: 9 }).toString('base64');
  return [
    '#!/bin/sh',
    `# skypool user-data, packed to fit EC2's 16 KB (gzip + base64 of a ${Buffer.byteLength(script, 'utf8')}-byte script)`,
    'f=$(mktemp) || exit 1',
    `base64 -d <<'SKYPOOL_PACKED' | gunzip >"$f" && exec sh "$f"`,
    ...(body.match(/.{1,76}/g) ?? []),
    'SKYPOOL_PACKED',
    'exit 1',
    '',
  ].join('\n');
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
 * Renders the boot script of every node of a pool (identical bytes for all of them: each node learns its name and
 * address at boot and makes its own keys), or (with `source`) of an AWS Auto Scaling pool. Pure: the same input
 * gives the same bytes.
 */
export function renderUserData(input: UserDataInput | AwsPoolUserDataInput): string {
  if ('source' in input) return renderAwsPool(input);
  if (input.engine !== 'swarm') throw invalid(`engine "${String(input.engine)}" has no templates yet`);
  for (const [what, value] of [
    ['cluster', input.cluster],
    ['pool', input.pool],
  ] as const) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value))
      throw invalid(`${what} name "${value}" is not a valid hostname part`);
  }
  if (!/^100\.\d{1,3}\.0\.0\/16$/.test(input.fabricPrefix))
    throw invalid(`fabric prefix "${input.fabricPrefix}" is not a /16 of 100.64.0.0/10`);
  if (!input.caPem.includes('BEGIN CERTIFICATE') || /PRIVATE KEY/.test(input.caPem))
    throw invalid('caPem must be the cluster CA certificate (and nothing secret)');
  const deadline = input.deadlineSeconds ?? 300;
  if (!Number.isInteger(deadline) || deadline <= 0) throw invalid('deadlineSeconds must be a positive whole number');
  const values: Record<string, string> = {
    cluster: input.cluster,
    pool: input.pool,
    deadline_seconds: String(deadline),
    tls_ca: input.caPem.trim(),
    fabric_prefix: input.fabricPrefix,
  };
  return withinLimit(withoutComments(renderTemplate(`swarm/${input.role}.sh`, values)));
}

/**
 * The script without its full-line comments, which stay in the templates (EC2's 16 KB is tight): the shebang,
 * the `# --- <partial>` markers that name each part in a node's copy, and shellcheck directives stay.
 */
export function withoutComments(script: string): string {
  return script.replace(/^[ \t]*#(?![!]|\s---\s|\sshellcheck\s).*\n/gm, '');
}
