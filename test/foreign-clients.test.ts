import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DescribeImagesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { simCredentials } from './support/sim-credentials.js';

/**
 * Clients the sim was not written against, run as Debian ships them: Apache libcloud's EC2 driver
 * (python3-libcloud, which signs with Signature Version 2 in us-east-1 and sends GETs) and awscli. Both get only
 * the sim's endpoint and credentials. scripts/prelude.sh installs them; with CI=true their absence fails the suite.
 */

const execFileAsync = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const AWS = '/usr/bin/aws';
const SCRIPT = join(import.meta.dirname ?? __dirname, 'foreign', 'libcloud_ec2.py');

async function libcloudMissing(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing (apt-get install python3-libcloud)`;
  try {
    await execFileAsync(PYTHON, ['-c', 'import libcloud']);
    return undefined;
  } catch {
    return 'python3-libcloud is not installed (scripts/prelude.sh installs it; or apt-get install python3-libcloud)';
  }
}
const awscliMissing = (): string | undefined =>
  existsSync(AWS) ? undefined : `${AWS} is missing (scripts/prelude.sh installs Debian's awscli)`;

/** A test that cannot run says why: it fails under CI, and is skipped with the reason in its name elsewhere. */
function needs(
  name: string,
  missing: () => string | undefined | Promise<string | undefined>,
  body: () => Promise<void>,
) {
  it(name, async () => {
    const why = await missing();
    if (why === undefined) return body();
    if (process.env.CI === 'true') throw new Error(`${name}: ${why}`);
    console.warn(`SKIPPED ${name}: ${why}`);
  }, 60_000);
}

describe('foreign clients against cloudsim', () => {
  let sim: CloudSim;
  let ec2: EC2Client;
  let imageId: string;
  let home: string;
  const launched: string[] = [];

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50 });
    ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: simCredentials(sim).aws });
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'] }));
    imageId = images.Images!.find((i) => i.Architecture === 'x86_64')!.ImageId!;
    home = await mkdtemp(join(tmpdir(), 'foreign-clients-'));
  });

  afterAll(async () => {
    if (launched.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: launched }));
    ec2?.destroy();
    await sim?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** Only the endpoint and credentials; no config files, no instance metadata, no pager. */
  const env = (): NodeJS.ProcessEnv => {
    const { accessKeyId, secretAccessKey } = simCredentials(sim).aws;
    return {
      PATH: '/usr/bin:/bin',
      HOME: home,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_PAGER: '',
      SIM_HOST: sim.host,
      SIM_PORT: String(sim.httpPort),
      SIM_IMAGE: imageId,
    };
  };

  needs('libcloud EC2 driver: list_sizes, create_node, list_nodes, destroy_node', libcloudMissing, async () => {
    const { stdout } = await execFileAsync(PYTHON, [SCRIPT], { env: env(), timeout: 50_000 });
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as {
      signature_version: string;
      sizes: number;
      nodes_before: string[];
      created: { id: string; name: string };
      listed: { id: string; name: string; state: string; private_ips: string[]; public_ips: string[]; tags: object };
      destroyed: boolean;
    };
    expect(seen.signature_version).toBe('2');
    expect(seen.sizes).toBeGreaterThan(10);
    expect(seen.nodes_before).toEqual([]);
    expect(seen.created.id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(seen.listed).toMatchObject({
      id: seen.created.id,
      name: 'libcloud-node',
      state: 'running',
      private_ips: [expect.stringMatching(/^172\.31\./)],
      tags: { Name: 'libcloud-node', 'made-by': 'libcloud' },
    });
    expect(seen.destroyed).toBe(true);
    const calls = sim.meter.snapshot().filter((c) => c.cloud === 'aws');
    for (const action of ['DescribeInstances', 'DescribeAddresses', 'RunInstances', 'TerminateInstances'])
      expect({ action, ok: calls.some((c) => c.action === action && c.outcome === 'ok') }).toEqual({
        action,
        ok: true,
      });
    const live = sim.inventory().filter((r) => r.type === 'instance' && r.id === seen.created.id);
    expect(live.every((r) => r.state !== 'running')).toBe(true);
  });

  needs('awscli: describe-instances, run-instances, describe-addresses', awscliMissing, async () => {
    const aws = async (...args: string[]) => {
      const { stdout } = await execFileAsync(AWS, ['--endpoint-url', sim.httpUrl, '--output', 'json', 'ec2', ...args], {
        env: env(),
        timeout: 50_000,
      });
      return (stdout.trim() ? JSON.parse(stdout) : {}) as Record<string, unknown>;
    };
    const none = await aws('describe-instances', '--filters', 'Name=tag:made-by,Values=awscli');
    expect(none).toEqual({ Reservations: [] });
    const run = (await aws(
      'run-instances',
      '--image-id',
      imageId,
      '--instance-type',
      't3.micro',
      '--count',
      '1',
      '--tag-specifications',
      'ResourceType=instance,Tags=[{Key=made-by,Value=awscli}]',
    )) as { Instances: Array<{ InstanceId: string; State: { Name: string } }> };
    const id = run.Instances[0]!.InstanceId;
    launched.push(id);
    expect(run.Instances[0]!.State.Name).toBe('pending');
    const listed = (await aws('describe-instances', '--filters', 'Name=tag:made-by,Values=awscli')) as {
      Reservations: Array<{ Instances: Array<{ InstanceId: string; Tags: unknown }> }>;
    };
    expect(listed.Reservations.flatMap((r) => r.Instances.map((i) => i.InstanceId))).toEqual([id]);
    expect(await aws('describe-addresses')).toEqual({ Addresses: [] });
    const allocated = (await aws('allocate-address', '--domain', 'vpc')) as { AllocationId: string; PublicIp: string };
    const shown = (await aws('describe-addresses', '--allocation-ids', allocated.AllocationId)) as {
      Addresses: Array<{ PublicIp: string; Domain: string }>;
    };
    expect(shown.Addresses).toEqual([expect.objectContaining({ PublicIp: allocated.PublicIp, Domain: 'vpc' })]);
    await aws('release-address', '--allocation-id', allocated.AllocationId);
  });
});
