import { renderUserData, USER_DATA_MAX_BYTES } from '../bootstrap/user-data.js';
import { SkypoolError, type SpecIssue } from '../errors.js';
import type { ClusterSpec, NodePoolSpec } from '../spec/schema.js';
import { parseCidr } from '../util/ipv4.js';
import { instanceTypeForSize } from './instance-types.js';

/** What `resolveAwsPools` needs besides the spec: the construct's props and the stack's region. */
export interface ResolveOptions {
  readonly engineApiCidr: string;
  readonly externalNodeCidrs: readonly string[];
  /** The stack's region when known at synth. */
  readonly stackRegion?: string;
  readonly deadlineSeconds: number;
  readonly joinSecretName: string;
  readonly workerJoinSecretName: string;
  readonly tlsSecretName: string;
  /** The caller accepted an engine API open to the whole internet (0.0.0.0/0). */
  readonly engineApiFromAnywhere?: boolean;
}

/** An AWS pool with what the stack needs to launch it. */
export interface ResolvedPool {
  readonly pool: NodePoolSpec;
  /** Index in `spec.pools`, for messages. */
  readonly index: number;
  readonly instanceType: string;
  readonly userData: string;
}

function cidrIssue(path: string, value: string): SpecIssue | undefined {
  if (value.includes('/') && parseCidr(value)) return undefined;
  return { path, message: `"${value}" is not an IPv4 CIDR (e.g. 203.0.113.7/32)` };
}

/** An issue when a pool's user-data is over EC2's 16 KB limit. */
export function userDataSizeIssue(path: string, userData: string): SpecIssue | undefined {
  const size = Buffer.byteLength(userData, 'utf8');
  if (size <= USER_DATA_MAX_BYTES) return undefined;
  return { path, message: `the rendered user-data is ${size} bytes, over the ${USER_DATA_MAX_BYTES}-byte EC2 limit` };
}

/**
 * Checks what the spec validator cannot know (one region per stack, instance types, CIDRs, AWS managers for AWS
 * workers) and renders each AWS pool's user-data. Returns every issue at once, each with its field.
 */
export function resolveAwsPools(
  spec: ClusterSpec,
  options: ResolveOptions,
): { issues: SpecIssue[]; pools: ResolvedPool[]; region: string } {
  const issues: SpecIssue[] = [];
  const push = (issue: SpecIssue | undefined): void => void (issue && issues.push(issue));
  const aws = spec.pools.map((pool, index) => ({ pool, index })).filter(({ pool }) => pool.provider === 'aws');
  if (spec.engine !== 'swarm')
    push({ path: 'engine', message: `the CDK construct builds Docker Swarm pools only, not "${spec.engine}"` });
  push(cidrIssue('props.engineApiCidr', options.engineApiCidr));
  if (/\/0$/.test(options.engineApiCidr) && !options.engineApiFromAnywhere) {
    push({
      path: 'props.engineApiCidr',
      message:
        `"${options.engineApiCidr}" opens the Docker engine API (2376) to the whole internet: give the address ` +
        'skypool runs from (e.g. 203.0.113.7/32), or set allowEngineApiFromAnywhere: true to accept it',
    });
  }
  for (const [i, c] of options.externalNodeCidrs.entries()) push(cidrIssue(`props.externalNodeCidrs[${i}]`, c));
  if (!Number.isInteger(options.deadlineSeconds) || options.deadlineSeconds <= 0) {
    push({ path: 'props.bootDeadlineSeconds', message: 'must be a positive whole number of seconds' });
  }
  const region = aws[0]?.pool.region ?? '';
  for (const { pool, index } of aws) {
    if (pool.region !== region) {
      push({
        path: `pools[${index}].region`,
        message: `a stack deploys to one region: "${pool.region}" differs from "${region}" (pools[${aws[0]!.index}]); split the pools into one stack per region`,
      });
    } else if (options.stackRegion && pool.region !== options.stackRegion) {
      push({
        path: `pools[${index}].region`,
        message: `"${pool.region}" differs from the stack's region "${options.stackRegion}"; deploy the stack to ${pool.region}`,
      });
    }
  }
  const managers = aws.filter(({ pool }) => pool.role === 'manager').reduce((n, { pool }) => n + pool.count, 0);
  const pools = aws.map(({ pool, index }) => {
    if (pool.role === 'worker' && managers === 0) {
      push({
        path: `pools[${index}].role`,
        message: 'AWS workers join through a manager of this stack: add an AWS manager pool with count >= 1',
      });
    }
    const instanceType = pool.instanceType ?? (pool.size && instanceTypeForSize(pool.size, pool.region));
    if (!instanceType) {
      push({
        path: `pools[${index}].size`,
        message: `no instance type of skypool's price catalog has ${pool.size?.cpus} vCPUs and ${pool.size?.memoryGiB} GiB; set instanceType instead`,
      });
    }
    let userData = '';
    try {
      userData = renderUserData({
        engine: 'swarm',
        role: pool.role,
        cluster: spec.name,
        pool: pool.name,
        source: {
          kind: 'aws-secrets-manager',
          joinSecretId: options.joinSecretName,
          workerJoinSecretId: options.workerJoinSecretName,
          tlsSecretId: options.tlsSecretName,
        },
        deadlineSeconds: options.deadlineSeconds,
      });
    } catch (error) {
      if (!SkypoolError.isInstance(error)) throw error;
      push({ path: `pools[${index}]`, message: error.message });
    }
    push(userDataSizeIssue(`pools[${index}].userData`, userData));
    return { pool, index, instanceType: instanceType ?? '', userData };
  });
  return { issues, pools, region };
}
