import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  type Instance,
  ReleaseAddressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pollUntil } from '../src/util/poll.js';
import { ec2Post, signV2 } from './support/ec2-signing.js';
import { simCredentials } from './support/sim-credentials.js';

/**
 * Elastic IPs, older API versions and malformed ids in the simulated EC2, through @aws-sdk/client-ec2 (and raw
 * query requests for what the SDK cannot send), with the codes and shapes EC2 answers.
 */

async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected the call to fail');
}

describe('cloudsim EC2 Elastic IPs, API versions and id shapes', () => {
  let sim: CloudSim;
  let ec2: EC2Client;
  let imageId: string;
  const made: { instances: string[]; allocations: string[] } = { instances: [], allocations: [] };

  const launch = async (): Promise<string> => {
    const res = await ec2.send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
    );
    const id = res.Instances![0]!.InstanceId!;
    made.instances.push(id);
    return id;
  };
  const instance = async (id: string): Promise<Instance> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const running = (id: string) =>
    pollUntil(async () => ((await instance(id)).State?.Name === 'running' ? true : undefined), {
      deadline: Date.now() + 10_000,
      intervalMs: 20,
      what: `${id} running`,
    });
  const allocate = async (tags: Record<string, string> = {}) => {
    const res = await ec2.send(
      new AllocateAddressCommand({
        Domain: 'vpc',
        TagSpecifications: Object.keys(tags).length
          ? [{ ResourceType: 'elastic-ip', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }]
          : undefined,
      }),
    );
    made.allocations.push(res.AllocationId!);
    return res;
  };
  const release = async (id: string) => {
    await ec2.send(new ReleaseAddressCommand({ AllocationId: id }));
    made.allocations = made.allocations.filter((a) => a !== id);
  };

  /** A raw query request signed as the SDK signs it (the sim's own credentials). */
  const query = async (params: Record<string, string>) => {
    const res = await ec2Post(sim, new URLSearchParams(params).toString());
    const xml = await res.text();
    return { status: res.status, xml, code: /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] };
  };

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50, rateLimits: { aws: { scale: 20 } } });
    ec2 = new EC2Client({
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: simCredentials(sim).aws,
      maxAttempts: 1,
    });
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'] }));
    imageId = images.Images!.find((i) => i.Architecture === 'x86_64')!.ImageId!;
  });

  afterAll(async () => {
    if (ec2 && sim) {
      if (made.instances.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: made.instances }));
      for (const id of made.allocations) {
        const [a] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [id] }))).Addresses ?? [];
        if (a?.AssociationId) await ec2.send(new DisassociateAddressCommand({ AssociationId: a.AssociationId }));
        await ec2.send(new ReleaseAddressCommand({ AllocationId: id }));
      }
    }
    ec2?.destroy();
    await sim?.stop();
  });

  it('allocates, tags, filters, associates, moves, disassociates and releases Elastic IPs', async () => {
    const a = await allocate({ team: 'red', skypool: 'eip' });
    expect(a).toMatchObject({ Domain: 'vpc', PublicIpv4Pool: 'amazon', NetworkBorderGroup: 'us-east-1' });
    expect(a.AllocationId).toMatch(/^eipalloc-[0-9a-f]{17}$/);
    expect(a.PublicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const b = await allocate();
    await ec2.send(new CreateTagsCommand({ Resources: [b.AllocationId!], Tags: [{ Key: 'team', Value: 'blue' }] }));

    const byTag = await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:team', Values: ['red'] }] }));
    expect(byTag.Addresses!.map((x) => x.AllocationId)).toEqual([a.AllocationId]);
    expect(byTag.Addresses![0]!.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'team', Value: 'red' },
        { Key: 'skypool', Value: 'eip' },
      ]),
    );
    const byKey = await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag-key', Values: ['team'] }] }));
    expect(byKey.Addresses!.map((x) => x.AllocationId).sort()).toEqual([a.AllocationId, b.AllocationId].sort());
    const byDomain = await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'domain', Values: ['vpc'] }] }));
    expect(byDomain.Addresses).toHaveLength(2);
    const byIp = await ec2.send(new DescribeAddressesCommand({ PublicIps: [b.PublicIp!] }));
    expect(byIp.Addresses!.map((x) => x.AllocationId)).toEqual([b.AllocationId]);

    const first = await launch();
    const second = await launch();
    await running(first);
    const before = (await instance(first)).PublicIpAddress;
    const assoc = await ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, InstanceId: first }));
    expect(assoc.AssociationId).toMatch(/^eipassoc-[0-9a-f]{17}$/);
    expect((await instance(first)).PublicIpAddress).toBe(a.PublicIp);
    expect(before).not.toBe(a.PublicIp);
    const [shown] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [a.AllocationId!] }))).Addresses!;
    expect(shown).toMatchObject({
      InstanceId: first,
      AssociationId: assoc.AssociationId,
      NetworkInterfaceId: `eni-${first.slice(2)}`,
      PrivateIpAddress: (await instance(first)).PrivateIpAddress,
      Domain: 'vpc',
    });
    const byInstance = await ec2.send(
      new DescribeAddressesCommand({ Filters: [{ Name: 'instance-id', Values: [first] }] }),
    );
    expect(byInstance.Addresses!.map((x) => x.AllocationId)).toEqual([a.AllocationId]);
    const byPublic = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'ip-address', Values: [a.PublicIp!] }] }),
    );
    expect(byPublic.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId))).toEqual([first]);

    // In use: not released; taken: not moved without AllowReassociation.
    expect(await failure(ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId })))).toMatchObject({
      name: 'InvalidIPAddress.InUse',
      status: 400,
    });
    expect(
      await failure(ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, InstanceId: second }))),
    ).toMatchObject({ name: 'Resource.AlreadyAssociated', status: 400 });
    await running(second);
    const moved = await ec2.send(
      new AssociateAddressCommand({
        AllocationId: a.AllocationId,
        NetworkInterfaceId: `eni-${second.slice(2)}`,
        AllowReassociation: true,
      }),
    );
    expect((await instance(second)).PublicIpAddress).toBe(a.PublicIp);
    expect((await instance(first)).PublicIpAddress).not.toBe(a.PublicIp);
    expect(
      await failure(ec2.send(new DisassociateAddressCommand({ AssociationId: assoc.AssociationId }))),
    ).toMatchObject({ name: 'InvalidAssociationID.NotFound' });
    await ec2.send(new DisassociateAddressCommand({ AssociationId: moved.AssociationId }));
    expect((await instance(second)).PublicIpAddress).not.toBe(a.PublicIp);
    const [free] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [a.AllocationId!] }))).Addresses!;
    expect(free!.AssociationId).toBeUndefined();
    expect(free!.InstanceId).toBeUndefined();

    // Terminating an instance lets go of its address.
    await ec2.send(new AssociateAddressCommand({ AllocationId: b.AllocationId, InstanceId: second }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [second] }));
    const [afterTerminate] = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [b.AllocationId!] })))
      .Addresses!;
    expect(afterTerminate!.InstanceId).toBeUndefined();

    const inventory = sim.inventory().filter((r) => r.type === 'elastic-ip');
    expect(inventory.map((r) => r.id).sort()).toEqual([a.AllocationId, b.AllocationId].sort());
    expect(inventory.find((r) => r.id === a.AllocationId)?.tags).toEqual({ team: 'red', skypool: 'eip' });
    await release(a.AllocationId!);
    await release(b.AllocationId!);
    expect(sim.inventory().filter((r) => r.type === 'elastic-ip')).toEqual([]);
    expect(await failure(ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId })))).toMatchObject({
      name: 'InvalidAllocationID.NotFound',
    });
  });

  it('refuses a sixth address in a region with AddressLimitExceeded', async () => {
    const five = [];
    for (let i = 0; i < 5; i++) five.push(await allocate());
    expect(await failure(ec2.send(new AllocateAddressCommand({ Domain: 'vpc' })))).toMatchObject({
      name: 'AddressLimitExceeded',
      status: 400,
    });
    // Another region has its own quota.
    const west = new EC2Client({
      region: 'us-west-2',
      endpoint: sim.httpUrl,
      credentials: simCredentials(sim).aws,
      maxAttempts: 1,
    });
    try {
      const other = await west.send(new AllocateAddressCommand({ Domain: 'vpc' }));
      expect(other.NetworkBorderGroup).toBe('us-west-2');
      expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(5);
      await west.send(new ReleaseAddressCommand({ AllocationId: other.AllocationId }));
    } finally {
      west.destroy();
    }
    for (const a of five) await release(a.AllocationId!);
  });

  it('answers unknown and malformed address ids with their own codes', async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [
        ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-0123456789abcdef0'] })),
        'InvalidAllocationID.NotFound',
      ],
      [ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-zz'] })), 'InvalidAllocationID.Malformed'],
      [ec2.send(new DescribeAddressesCommand({ PublicIps: ['192.0.2.44'] })), 'InvalidAddress.NotFound'],
      [
        ec2.send(new ReleaseAddressCommand({ AllocationId: 'eipalloc-0123456789abcdef0' })),
        'InvalidAllocationID.NotFound',
      ],
      [
        ec2.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-0123456789abcdef0' })),
        'InvalidAssociationID.NotFound',
      ],
      [ec2.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-!' })), 'InvalidAssociationID.Malformed'],
      [
        ec2.send(
          new AssociateAddressCommand({
            AllocationId: 'eipalloc-0123456789abcdef0',
            InstanceId: 'i-0123456789abcdef0',
          }),
        ),
        'InvalidAllocationID.NotFound',
      ],
    ];
    for (const [call, code] of cases) expect(await failure(call)).toMatchObject({ name: code, status: 400 });
    const a = await allocate();
    expect(
      await failure(
        ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, InstanceId: 'i-0123456789abcdef0' })),
      ),
    ).toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    expect(await failure(ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId })))).toMatchObject({
      name: 'MissingParameter',
    });
    await release(a.AllocationId!);
  });

  it('answers malformed resource ids with EC2’s Malformed codes (InvalidID for tagging), not NotFound', async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-zzz'] })), 'InvalidInstanceID.Malformed'],
      [ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-zzz'] })), 'InvalidInstanceID.Malformed'],
      [ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-!'] })), 'InvalidVpcID.Malformed'],
      [ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-xyz'] })), 'InvalidSubnetID.Malformed'],
      [ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-x'] })), 'InvalidGroupId.Malformed'],
      [ec2.send(new CreateTagsCommand({ Resources: ['i-zzz'], Tags: [{ Key: 'k', Value: 'v' }] })), 'InvalidID'],
    ];
    for (const [call, code] of cases) expect(await failure(call)).toMatchObject({ name: code, status: 400 });
    // Well-formed but unknown ids are still NotFound.
    expect(await failure(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0123456789abcdef0'] })))).toMatchObject({
      name: 'InvalidVpcID.NotFound',
    });
  });

  it('accepts every published API version and refuses one EC2 never had', async () => {
    for (const version of ['2016-11-15', '2016-09-28', '2015-10-01', '2014-10-01', '2012-12-01']) {
      const res = await query({ Action: 'DescribeAddresses', Version: version });
      expect({ version, status: res.status }).toEqual({ version, status: 200 });
      expect(res.xml).toContain('<DescribeAddressesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">');
    }
    for (const version of ['2014-01-01', '2099-01-01', 'latest']) {
      expect(await query({ Action: 'DescribeRegions', Version: version })).toMatchObject({
        status: 400,
        code: 'NoSuchVersion',
      });
    }
  });

  it('accepts Signature Version 2 query requests (GET, as libcloud sends them) and names what is missing', async () => {
    const v2 = (extra: Record<string, string>, drop: string[] = []) => {
      const params: Record<string, string> = {
        ...signV2(sim, 'GET', { Action: 'DescribeAddresses', Version: '2016-11-15' }),
        ...extra,
      };
      for (const k of drop) delete params[k];
      return fetch(`${sim.httpUrl}/?${new URLSearchParams(params)}`).then(async (res) => {
        const xml = await res.text();
        return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(xml)?.[1], xml };
      });
    };
    const ok = await v2({});
    expect(ok.status).toBe(200);
    expect(ok.xml).toContain('<DescribeAddressesResponse');
    expect(await v2({}, ['Signature'])).toMatchObject({ status: 400, code: 'MissingParameter' });
    expect(await v2({ SignatureMethod: 'HmacMD5' })).toMatchObject({ status: 400, code: 'InvalidParameterValue' });
    expect(await v2({}, ['SignatureVersion', 'Signature', 'AWSAccessKeyId'])).toMatchObject({
      status: 401,
      code: 'MissingAuthenticationToken',
    });
  });

  it('keeps Elastic IPs across a restart from the state file', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'cloudsim-eip-'));
    const stateFile = join(dir, 'state.json');
    try {
      const first = await startCloudSim({ stateFile });
      const c1 = new EC2Client({
        region: 'us-east-1',
        endpoint: first.httpUrl,
        credentials: simCredentials(first).aws,
      });
      const a = await c1.send(
        new AllocateAddressCommand({
          Domain: 'vpc',
          TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'kept', Value: 'yes' }] }],
        }),
      );
      c1.destroy();
      await first.stop();
      const second = await startCloudSim({ stateFile });
      const c2 = new EC2Client({
        region: 'us-east-1',
        endpoint: second.httpUrl,
        credentials: simCredentials(second).aws,
      });
      try {
        const [kept] = (await c2.send(new DescribeAddressesCommand({ AllocationIds: [a.AllocationId!] }))).Addresses!;
        expect(kept).toMatchObject({ PublicIp: a.PublicIp, Tags: [{ Key: 'kept', Value: 'yes' }] });
        await c2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId }));
        expect(second.inventory()).toEqual([]);
      } finally {
        c2.destroy();
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
