import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateFleetCommand,
  CreateInternetGatewayCommand,
  CreateLaunchTemplateCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteFleetsCommand,
  DeleteInternetGatewayCommand,
  DeleteLaunchTemplateCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteTagsCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeFleetsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeInternetGatewaysCommand,
  DescribeLaunchTemplatesCommand,
  DescribeRegionsCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  EC2Client,
  type Instance,
  paginateDescribeInstances,
  paginateDescribeInstanceTypes,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { ec2Post, presignedEc2Url, type SignOptions } from './support/ec2-signing.js';

/**
 * Conformance of the simulated EC2 query API, driven by the official @aws-sdk/client-ec2 (and by raw HTTP for the
 * wire format third-party clients rely on).
 */

const client = (sim: CloudSim, extra: { maxAttempts?: number; region?: string } = {}) =>
  new EC2Client({
    region: extra.region ?? 'us-east-1',
    endpoint: sim.httpUrl,
    credentials: sim.credentials.aws,
    maxAttempts: extra.maxAttempts ?? 3,
  });

/** The error an SDK call rejects with, for assertions on code and status. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status?: number; message: string; attempts?: number }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
    return {
      name: err.name,
      status: err.$metadata?.httpStatusCode,
      message: err.message,
      attempts: err.$metadata?.attempts,
    };
  }
  throw new Error('expected the call to fail');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 10_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A form POST signed with the sim's key (SigV4, as the SDK signs), or sent unsigned. */
const raw = (sim: CloudSim, body: string, sign: SignOptions | 'unsigned' = {}) =>
  sign === 'unsigned'
    ? fetch(`${sim.httpUrl}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body,
      })
    : ec2Post(sim, body, sign);

const calls = (sim: CloudSim, action: string, outcome: string) =>
  sim.meter
    .snapshot()
    .filter((c) => c.cloud === 'aws' && c.action === action && c.outcome === outcome)
    .reduce((n, c) => n + c.count, 0);

describe('cloudsim EC2', () => {
  let sim: CloudSim;
  let ec2: EC2Client;
  let imageId: string;
  let vpcId: string;
  let subnetA: string;
  let subnetB: string;
  let groupId: string;
  const stateDir = mkdtemp(join(tmpdir(), 'cloudsim-ec2-'));

  const run = (input: Partial<RunInstancesCommandInput> = {}) =>
    ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetA,
        SecurityGroupIds: [groupId],
        ...input,
      }),
    );
  const describe1 = async (id: string): Promise<Instance> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 50, rateLimits: { aws: { scale: 20 } } });
    ec2 = client(sim);
  });

  afterAll(async () => {
    ec2?.destroy();
    await sim?.stop();
    await rm(await stateDir, { recursive: true, force: true });
  });

  describe('catalog', () => {
    it('lists regions, zones, instance types (paged) and offerings', async () => {
      const regions = await ec2.send(new DescribeRegionsCommand({}));
      expect(regions.Regions!.map((r) => r.RegionName)).toContain('eu-west-1');
      const zones = await ec2.send(new DescribeAvailabilityZonesCommand({}));
      expect(zones.AvailabilityZones!.map((z) => [z.ZoneName, z.ZoneId, z.State])).toEqual([
        ['us-east-1a', 'use1-az1', 'available'],
        ['us-east-1b', 'use1-az2', 'available'],
        ['us-east-1c', 'use1-az3', 'available'],
      ]);
      const west = await client(sim, { region: 'us-west-2' }).send(new DescribeAvailabilityZonesCommand({}));
      expect(west.AvailabilityZones![0]!.ZoneName).toBe('us-west-2a');

      const types: string[] = [];
      let pages = 0;
      for await (const page of paginateDescribeInstanceTypes(
        { client: ec2, pageSize: 5 },
        { Filters: [{ Name: 'processor-info.supported-architecture', Values: ['arm64'] }] },
      )) {
        pages += 1;
        types.push(...page.InstanceTypes!.map((t) => t.InstanceType!));
      }
      expect(types.sort()).toEqual(['c7g.large', 'm7g.large', 't4g.micro', 't4g.small']);
      expect(pages).toBe(1);
      const many: string[] = [];
      for await (const page of paginateDescribeInstanceTypes({ client: ec2, pageSize: 5 }, {}))
        many.push(...page.InstanceTypes!.map((t) => t.InstanceType!));
      expect(many.length).toBeGreaterThan(20);
      expect(new Set(many).size).toBe(many.length);
      const micro = (await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro'] })))
        .InstanceTypes![0]!;
      expect(micro).toMatchObject({
        VCpuInfo: { DefaultVCpus: 2 },
        MemoryInfo: { SizeInMiB: 1024 },
        ProcessorInfo: { SupportedArchitectures: ['x86_64'] },
      });

      const offerings = await ec2.send(
        new DescribeInstanceTypeOfferingsCommand({
          LocationType: 'availability-zone',
          Filters: [{ Name: 'instance-type', Values: ['c5.large'] }],
        }),
      );
      expect(offerings.InstanceTypeOfferings!.map((o) => o.Location).sort()).toEqual(['us-east-1a', 'us-east-1b']);
      expect(
        await failure(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as never] }))),
      ).toMatchObject({ name: 'InvalidInstanceType', status: 400 });
    });

    it("finds Canonical's Ubuntu 24.04 amd64 images by owner and name", async () => {
      const images = await ec2.send(
        new DescribeImagesCommand({
          Owners: ['099720109477'],
          Filters: [
            { Name: 'name', Values: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*'] },
            { Name: 'state', Values: ['available'] },
          ],
        }),
      );
      expect(images.Images).toHaveLength(2);
      const newest = images.Images!.sort((a, b) => b.CreationDate!.localeCompare(a.CreationDate!))[0]!;
      expect(newest).toMatchObject({
        OwnerId: '099720109477',
        Architecture: 'x86_64',
        RootDeviceType: 'ebs',
        VirtualizationType: 'hvm',
      });
      expect(newest.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
      imageId = newest.ImageId!;
      expect((await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? []).toEqual([]);
      expect(await failure(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] })))).toMatchObject(
        { name: 'InvalidAMIID.NotFound', status: 400 },
      );
    });
  });

  describe('network', () => {
    it('creates a tagged VPC, subnets and a security group and refuses conflicts', async () => {
      const vpc = await ec2.send(
        new CreateVpcCommand({
          CidrBlock: '10.42.0.0/16',
          TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'skypool-cluster', Value: 'conf' }] }],
        }),
      );
      vpcId = vpc.Vpc!.VpcId!;
      expect(vpc.Vpc).toMatchObject({
        CidrBlock: '10.42.0.0/16',
        State: 'available',
        IsDefault: false,
        Tags: [{ Key: 'skypool-cluster', Value: 'conf' }],
      });
      const found = await ec2.send(
        new DescribeVpcsCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: ['conf'] }] }),
      );
      expect(found.Vpcs!.map((v) => v.VpcId)).toEqual([vpcId]);
      const defaults = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
      expect(defaults.Vpcs![0]!.CidrBlock).toBe('172.31.0.0/16');

      subnetA = (
        await ec2.send(
          new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.42.0.0/20', AvailabilityZone: 'us-east-1a' }),
        )
      ).Subnet!.SubnetId!;
      const b = await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: '10.42.16.0/20',
          AvailabilityZone: 'us-east-1b',
          TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'tier', Value: 'b' }] }],
        }),
      );
      subnetB = b.Subnet!.SubnetId!;
      expect(b.Subnet).toMatchObject({ AvailabilityZone: 'us-east-1b', AvailableIpAddressCount: 4091, VpcId: vpcId });
      expect(
        await failure(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.42.8.0/24' }))),
      ).toMatchObject({ name: 'InvalidSubnet.Conflict', status: 400 });
      expect(
        await failure(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.43.0.0/24' }))),
      ).toMatchObject({ name: 'InvalidSubnet.Range' });
      expect(
        await failure(
          ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-0123456789abcdef0', CidrBlock: '10.42.64.0/24' })),
        ),
      ).toMatchObject({ name: 'InvalidVpcID.NotFound' });
      const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
      expect(subnets.Subnets!.map((s) => s.CidrBlock).sort()).toEqual(['10.42.0.0/20', '10.42.16.0/20']);

      const sg = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: 'swarm',
          Description: 'swarm nodes',
          VpcId: vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'skypool-cluster', Value: 'conf' }] }],
        }),
      );
      groupId = sg.GroupId!;
      expect(
        await failure(
          ec2.send(new CreateSecurityGroupCommand({ GroupName: 'swarm', Description: 'again', VpcId: vpcId })),
        ),
      ).toMatchObject({ name: 'InvalidGroup.Duplicate' });
      const rules = await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, UserIdGroupPairs: [{ GroupId: groupId }] },
            { IpProtocol: 'udp', FromPort: 4789, ToPort: 4789, UserIdGroupPairs: [{ GroupId: groupId }] },
            {
              IpProtocol: 'tcp',
              FromPort: 2376,
              ToPort: 2376,
              IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'api' }],
            },
          ],
        }),
      );
      expect(rules.SecurityGroupRules).toHaveLength(3);
      expect(rules.SecurityGroupRules![0]!.SecurityGroupRuleId).toMatch(/^sgr-/);
      expect(
        await failure(
          ec2.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: groupId,
              IpPermissions: [
                { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, UserIdGroupPairs: [{ GroupId: groupId }] },
              ],
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidPermission.Duplicate', status: 400 });
      expect(
        await failure(
          ec2.send(
            new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp' }] }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidParameterValue' });
      const described = await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: ['conf'] }] }),
      );
      expect(described.SecurityGroups![0]!.IpPermissions!.map((p) => `${p.IpProtocol}:${p.FromPort}`).sort()).toEqual([
        'tcp:2376',
        'tcp:2377',
        'udp:4789',
      ]);
    });

    it('attaches an internet gateway, routes through it and enforces delete order', async () => {
      const igw = (
        await ec2.send(
          new CreateInternetGatewayCommand({
            TagSpecifications: [
              { ResourceType: 'internet-gateway', Tags: [{ Key: 'skypool-cluster', Value: 'conf' }] },
            ],
          }),
        )
      ).InternetGateway!;
      await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId!, VpcId: vpcId }));
      expect(
        await failure(
          ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId!, VpcId: vpcId })),
        ),
      ).toMatchObject({ name: 'Resource.AlreadyAssociated' });
      const main = (
        await ec2.send(
          new DescribeRouteTablesCommand({
            Filters: [
              { Name: 'vpc-id', Values: [vpcId] },
              { Name: 'association.main', Values: ['true'] },
            ],
          }),
        )
      ).RouteTables![0]!;
      await ec2.send(
        new CreateRouteCommand({
          RouteTableId: main.RouteTableId!,
          DestinationCidrBlock: '0.0.0.0/0',
          GatewayId: igw.InternetGatewayId!,
        }),
      );
      const routes = (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [main.RouteTableId!] })))
        .RouteTables![0]!.Routes!;
      expect(routes.map((r) => [r.DestinationCidrBlock, r.GatewayId, r.State])).toEqual([
        ['10.42.0.0/16', 'local', 'active'],
        ['0.0.0.0/0', igw.InternetGatewayId, 'active'],
      ]);
      expect(await failure(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })))).toMatchObject({
        name: 'DependencyViolation',
        status: 400,
      });
      expect(
        await failure(ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId! }))),
      ).toMatchObject({ name: 'DependencyViolation' });
      await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId!, VpcId: vpcId }));
      await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId! }));
      expect(
        (
          await ec2.send(
            new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: ['conf'] }] }),
          )
        ).InternetGateways ?? [],
      ).toEqual([]);
    });
  });

  describe('instances', () => {
    it('runs instances with tags, user data and IMDSv2, pending then running', async () => {
      const userData = Buffer.from('#!/bin/sh\necho hi\n').toString('base64');
      const out = await run({
        MinCount: 2,
        MaxCount: 2,
        UserData: userData,
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'skypool-cluster', Value: 'conf' },
              { Key: 'role', Value: 'worker' },
            ],
          },
        ],
      });
      expect(out.ReservationId).toMatch(/^r-/);
      expect(out.Instances!.map((i) => [i.State?.Name, i.AmiLaunchIndex, i.PrivateIpAddress])).toEqual([
        ['pending', 0, '10.42.0.4'],
        ['pending', 1, '10.42.0.5'],
      ]);
      expect(out.Instances![0]).toMatchObject({
        InstanceType: 't3.micro',
        SubnetId: subnetA,
        VpcId: vpcId,
        Placement: { AvailabilityZone: 'us-east-1a' },
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
      });
      const id = out.Instances![0]!.InstanceId!;
      const running = await until('running', async () =>
        (await describe1(id)).State?.Name === 'running' ? describe1(id) : undefined,
      );
      expect(running.State).toEqual({ Code: 16, Name: 'running' });
      expect(running.SecurityGroups).toEqual([{ GroupId: groupId, GroupName: 'swarm' }]);
      expect(running.Tags).toEqual([
        { Key: 'skypool-cluster', Value: 'conf' },
        { Key: 'role', Value: 'worker' },
      ]);
    });

    it('validates user data, addresses, counts, ids and parameters with the real codes', async () => {
      const big = Buffer.alloc(16 * 1024 + 1, 'a').toString('base64');
      expect(await failure(run({ UserData: big }))).toMatchObject({
        name: 'InvalidParameterValue',
        status: 400,
        message: expect.stringContaining('16384'),
      });
      expect(
        await failure(
          run({ UserData: Buffer.alloc(16 * 1024, 'a').toString('base64'), InstanceType: 'bogus.type' as never }),
        ),
      ).toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining('bogus.type') });
      expect(await failure(run({ UserData: '%%%not-base64' }))).toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('BASE64'),
      });
      expect(await failure(run({ PrivateIpAddress: '10.42.0.4' }))).toMatchObject({ name: 'InvalidIPAddress.InUse' });
      expect(await failure(run({ PrivateIpAddress: '10.99.0.4' }))).toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('subnet'),
      });
      expect(await failure(run({ PrivateIpAddress: '10.42.0.40', MaxCount: 2 }))).toMatchObject({
        name: 'InvalidParameterCombination',
      });
      expect(await failure(run({ MinCount: 3, MaxCount: 2 }))).toMatchObject({ name: 'InvalidParameterValue' });
      expect(await failure(run({ SubnetId: 'subnet-0123456789abcdef0' }))).toMatchObject({
        name: 'InvalidSubnetID.NotFound',
      });
      expect(await failure(run({ ImageId: 'img-1' }))).toMatchObject({ name: 'InvalidAMIID.Malformed' });
      expect(
        await failure(
          run({
            InstanceType: 'c5.large',
            SubnetId: undefined,
            Placement: { AvailabilityZone: 'us-east-1c' },
            SecurityGroupIds: undefined,
          }),
        ),
      ).toMatchObject({ name: 'Unsupported' });
      expect(await failure(run({ InstanceType: 't4g.micro' }))).toMatchObject({
        name: 'InvalidParameterValue',
        message: expect.stringContaining('architecture'),
      });
      expect(
        await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))),
      ).toMatchObject({ name: 'InvalidInstanceID.NotFound', status: 400 });
      expect(await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-xyz'] })))).toMatchObject({
        name: 'InvalidInstanceID.Malformed',
      });
      expect(
        await failure(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] }))),
      ).toMatchObject({ name: 'InvalidParameterValue' });
      expect(await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 3 })))).toMatchObject({
        name: 'InvalidParameterValue',
      });
      expect(
        await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: ['i-0123456789abcdef0'] }))),
      ).toMatchObject({ name: 'InvalidParameterCombination' });
      expect(
        await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'garbage' }))),
      ).toMatchObject({ name: 'InvalidPaginationToken' });
    });

    it('gives a fixed private address and launches into the default VPC when no subnet is named', async () => {
      const fixed = await run({ PrivateIpAddress: '10.42.0.77' });
      expect(fixed.Instances![0]!.PrivateIpAddress).toBe('10.42.0.77');
      const dflt = await ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          InstanceType: 't3.nano',
          MinCount: 1,
          MaxCount: 1,
          Placement: { AvailabilityZone: 'us-east-1b' },
        }),
      );
      expect(dflt.Instances![0]).toMatchObject({ Placement: { AvailabilityZone: 'us-east-1b' } });
      expect(dflt.Instances![0]!.PrivateIpAddress).toMatch(/^172\.31\.(1[6-9]|2\d|3[01])\./);
      await ec2.send(
        new TerminateInstancesCommand({
          InstanceIds: [fixed.Instances![0]!.InstanceId!, dflt.Instances![0]!.InstanceId!],
        }),
      );
      // The address is free again once the instance is terminated.
      const again = await run({ PrivateIpAddress: '10.42.0.77' });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [again.Instances![0]!.InstanceId!] }));
    });

    it('is idempotent per ClientToken and refuses the same token with other parameters', async () => {
      const first = await run({ ClientToken: 'conf-token-1', MinCount: 2, MaxCount: 2 });
      const second = await run({ ClientToken: 'conf-token-1', MinCount: 2, MaxCount: 2 });
      expect(second.ReservationId).toBe(first.ReservationId);
      expect(second.Instances!.map((i) => i.InstanceId)).toEqual(first.Instances!.map((i) => i.InstanceId));
      expect(second.Instances![0]!.ClientToken).toBe('conf-token-1');
      expect(await failure(run({ ClientToken: 'conf-token-1', MinCount: 3, MaxCount: 3 }))).toMatchObject({
        name: 'IdempotentParameterMismatch',
        status: 400,
      });
      expect(await failure(run({ ClientToken: 'x'.repeat(65) }))).toMatchObject({ name: 'InvalidParameterValue' });
      const byToken = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: ['conf-token-1'] }] }),
      );
      expect(byToken.Reservations!.flatMap((r) => r.Instances!)).toHaveLength(2);
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: first.Instances!.map((i) => i.InstanceId!) }));
    });

    it('launches from a launch template, with request fields over template fields', async () => {
      const lt = await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'conf-lt',
          LaunchTemplateData: {
            ImageId: imageId,
            InstanceType: 't3.small',
            SecurityGroupIds: [groupId],
            MetadataOptions: { HttpTokens: 'required' },
            UserData: Buffer.from('#!/bin/sh\n').toString('base64'),
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'from', Value: 'template' }] }],
          },
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: [{ Key: 'skypool-cluster', Value: 'conf' }] }],
        }),
      );
      const ltId = lt.LaunchTemplate!.LaunchTemplateId!;
      expect(lt.LaunchTemplate).toMatchObject({
        LaunchTemplateName: 'conf-lt',
        DefaultVersionNumber: 1,
        LatestVersionNumber: 1,
      });
      expect(
        await failure(
          ec2.send(
            new CreateLaunchTemplateCommand({
              LaunchTemplateName: 'conf-lt',
              LaunchTemplateData: { ImageId: imageId },
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidLaunchTemplateName.AlreadyExistsException' });
      const out = await ec2.send(
        new RunInstancesCommand({
          MinCount: 1,
          MaxCount: 1,
          SubnetId: subnetB,
          InstanceType: 't3.medium',
          LaunchTemplate: { LaunchTemplateName: 'conf-lt', Version: '$Latest' },
        }),
      );
      expect(out.Instances![0]).toMatchObject({
        InstanceType: 't3.medium',
        ImageId: imageId,
        SubnetId: subnetB,
        MetadataOptions: { HttpTokens: 'required' },
        Tags: [{ Key: 'from', Value: 'template' }],
      });
      const listed = await ec2.send(
        new DescribeLaunchTemplatesCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: ['conf'] }] }),
      );
      expect(listed.LaunchTemplates!.map((t) => t.LaunchTemplateId)).toEqual([ltId]);
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [out.Instances![0]!.InstanceId!] }));
    });

    it('fills MinCount..MaxCount from partial capacity, all or nothing below MinCount', async () => {
      sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1b', instanceType: 't3.micro', available: 3 });
      const strict = client(sim, { maxAttempts: 1 });
      try {
        const partial = await run({ SubnetId: subnetB, MinCount: 2, MaxCount: 5 });
        expect(partial.Instances).toHaveLength(3);
        const none = await failure(
          strict.send(
            new RunInstancesCommand({
              ImageId: imageId,
              InstanceType: 't3.micro',
              SubnetId: subnetB,
              MinCount: 4,
              MaxCount: 5,
            }),
          ),
        );
        expect(none).toMatchObject({
          name: 'InsufficientInstanceCapacity',
          status: 500,
          message: expect.stringContaining('us-east-1b'),
        });
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: partial.Instances!.map((i) => i.InstanceId!) }));
      } finally {
        sim.clearFaults();
        strict.destroy();
      }
    });

    it('fails an instance asynchronously when capacity runs out after launch', async () => {
      sim.addFault({ cloud: 'aws', kind: 'capacity', mode: 'async', times: 1 });
      try {
        const out = await run();
        const id = out.Instances![0]!.InstanceId!;
        expect(out.Instances![0]!.State!.Name).toBe('pending');
        const gone = await until('terminated', async () =>
          (await describe1(id)).State?.Name === 'terminated' ? describe1(id) : undefined,
        );
        expect(gone.StateReason).toMatchObject({ Code: 'Server.InsufficientInstanceCapacity' });
      } finally {
        sim.clearFaults();
      }
    });

    it('answers injected 5xx faults with InternalError, which the SDK retries', async () => {
      sim.meter.reset();
      sim.addFault({ cloud: 'aws', kind: 'server-error', times: 1 });
      const out = await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
      expect(out.$metadata.attempts).toBe(2);
      expect(calls(sim, 'DescribeVpcs', 'error')).toBe(1);
      expect(calls(sim, 'DescribeVpcs', 'ok')).toBe(1);
    });

    it('filters and pages DescribeInstances with stable NextTokens', async () => {
      const batch = await run({
        MinCount: 12,
        MaxCount: 12,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'batch', Value: 'paging' }] }],
      });
      const ids = batch.Instances!.map((i) => i.InstanceId!);
      await ec2.send(new CreateTagsCommand({ Resources: [ids[0]!], Tags: [{ Key: 'special', Value: 'yes' }] }));
      await ec2.send(new DeleteTagsCommand({ Resources: [ids[1]!], Tags: [{ Key: 'batch' }] }));

      const pages: string[][] = [];
      for await (const page of paginateDescribeInstances(
        { client: ec2, pageSize: 5 },
        { Filters: [{ Name: 'tag-key', Values: ['batch'] }] },
      )) {
        pages.push(page.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId!)));
      }
      expect(pages.map((p) => p.length)).toEqual([5, 5, 1]);
      expect(pages.flat()).toEqual(ids.filter((id) => id !== ids[1]));

      const special = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'tag:special', Values: ['y*'] }] }),
      );
      expect(special.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).toEqual([ids[0]]);
      const sibling = await describe1(ids[2]!);
      expect(sibling.Tags).toEqual([{ Key: 'batch', Value: 'paging' }]);
      const byId = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'instance-id', Values: [ids[3]!, ids[4]!] },
            { Name: 'instance-state-name', Values: ['pending', 'running'] },
          ],
        }),
      );
      expect(byId.Reservations!.flatMap((r) => r.Instances!).map((i) => i.InstanceId)).toEqual([ids[3], ids[4]]);

      const terminated = await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
      expect(terminated.TerminatingInstances!.every((t) => t.CurrentState?.Name === 'shutting-down')).toBe(true);
      await until('terminated', async () =>
        (await describe1(ids[0]!)).State?.Name === 'terminated' ? true : undefined,
      );
      const after = await describe1(ids[0]!);
      expect(after.PrivateIpAddress).toBeUndefined();
      expect(after.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
      const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [ids[0]!] }));
      expect(again.TerminatingInstances![0]!).toMatchObject({
        CurrentState: { Name: 'terminated' },
        PreviousState: { Name: 'terminated' },
      });
      const live = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'tag-key', Values: ['batch'] },
            { Name: 'instance-state-name', Values: ['running', 'pending'] },
          ],
        }),
      );
      expect(live.Reservations ?? []).toEqual([]);
    });

    it('launches an instant fleet across overrides and reports per-override errors', async () => {
      const lt = await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: 'conf-fleet',
          LaunchTemplateData: { ImageId: imageId, SecurityGroupIds: [groupId] },
        }),
      );
      const ltId = lt.LaunchTemplate!.LaunchTemplateId!;
      sim.addFault({ cloud: 'aws', kind: 'capacity', zone: 'us-east-1a' });
      try {
        const input = {
          Type: 'instant' as const,
          LaunchTemplateConfigs: [
            {
              LaunchTemplateSpecification: { LaunchTemplateId: ltId, Version: '1' },
              Overrides: [
                { InstanceType: 't3.micro' as const, SubnetId: subnetA, Priority: 1 },
                { InstanceType: 't3.small' as const, SubnetId: subnetB, Priority: 2 },
                { InstanceType: 't3.micro' as const, SubnetId: 'subnet-0123456789abcdef0', Priority: 3 },
              ],
            },
          ],
          TargetCapacitySpecification: { TotalTargetCapacity: 3, DefaultTargetCapacityType: 'on-demand' as const },
          OnDemandOptions: { AllocationStrategy: 'prioritized' as const },
          TagSpecifications: [{ ResourceType: 'instance' as const, Tags: [{ Key: 'fleet', Value: 'conf' }] }],
          ClientToken: 'fleet-token-1',
        };
        const fleet = await ec2.send(new CreateFleetCommand(input));
        expect(fleet.FleetId).toMatch(/^fleet-/);
        expect(
          fleet.Errors!.map((e) => [e.ErrorCode, e.LaunchTemplateAndOverrides?.Overrides?.SubnetId]).sort(),
        ).toEqual([
          ['InsufficientInstanceCapacity', subnetA],
          ['InvalidSubnetID.NotFound', 'subnet-0123456789abcdef0'],
        ]);
        expect(fleet.Instances).toHaveLength(1);
        expect(fleet.Instances![0]).toMatchObject({ InstanceType: 't3.small', Lifecycle: 'on-demand' });
        const ids = fleet.Instances![0]!.InstanceIds!;
        expect(ids).toHaveLength(3);
        expect((await describe1(ids[0]!)).Tags).toEqual([{ Key: 'fleet', Value: 'conf' }]);

        const replay = await ec2.send(new CreateFleetCommand(input));
        expect(replay.FleetId).toBe(fleet.FleetId);
        expect(replay.Instances![0]!.InstanceIds).toEqual(ids);
        expect(
          await failure(
            ec2.send(
              new CreateFleetCommand({
                ...input,
                TargetCapacitySpecification: { TotalTargetCapacity: 4, DefaultTargetCapacityType: 'on-demand' },
              }),
            ),
          ),
        ).toMatchObject({ name: 'IdempotentParameterMismatch' });

        const short = await ec2.send(
          new CreateFleetCommand({
            ...input,
            ClientToken: undefined,
            OnDemandOptions: { MinTargetCapacity: 3, SingleAvailabilityZone: true },
            LaunchTemplateConfigs: [
              {
                LaunchTemplateSpecification: { LaunchTemplateId: ltId, Version: '1' },
                Overrides: [{ InstanceType: 't3.micro', SubnetId: subnetA }],
              },
            ],
          }),
        );
        expect(short.Instances ?? []).toEqual([]);
        expect(short.Errors![0]!.ErrorCode).toBe('InsufficientInstanceCapacity');

        const described = await ec2.send(new DescribeFleetsCommand({ FleetIds: [fleet.FleetId!] }));
        expect(described.Fleets![0]).toMatchObject({
          FleetId: fleet.FleetId,
          FleetState: 'active',
          Type: 'instant',
          FulfilledCapacity: 3,
        });
        const deleted = await ec2.send(
          new DeleteFleetsCommand({
            FleetIds: [fleet.FleetId!, 'fleet-00000000-0000-4000-a000-000000000000'],
            TerminateInstances: true,
          }),
        );
        expect(deleted.SuccessfulFleetDeletions).toEqual([
          { FleetId: fleet.FleetId, CurrentFleetState: 'deleted_terminating', PreviousFleetState: 'active' },
        ]);
        expect(deleted.UnsuccessfulFleetDeletions![0]!.Error!.Code).toBe('fleetIdDoesNotExist');
        expect((await describe1(ids[0]!)).State!.Name).toBe('shutting-down');
      } finally {
        sim.clearFaults();
        await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: ltId }));
      }
    });
  });

  describe('wire format', () => {
    it('serves XML in the 2016-11-15 namespace with requestId and x-amzn-requestid', async () => {
      const res = await raw(
        sim,
        `Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=tag%3Askypool-cluster&Filter.1.Value.1=conf`,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
      const id = res.headers.get('x-amzn-requestid');
      const xml = await res.text();
      expect(xml).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8"\?>\s*<DescribeVpcsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/">/,
      );
      expect(xml).toContain(`<requestId>${id}</requestId>`);
      expect(xml).toContain(`<vpcSet><item><vpcId>${vpcId}</vpcId>`);

      const get = await fetch(
        await presignedEc2Url(sim, { Action: 'DescribeRegions', Version: '2016-11-15', 'RegionName.1': 'eu-west-1' }),
      );
      expect(await get.text()).toContain('<regionInfo><item><regionName>eu-west-1</regionName>');
    });

    it('answers bad requests with the EC2 error document and status, never crashing', async () => {
      const error = async (res: Response) => {
        const xml = await res.text();
        expect(xml).toMatch(
          /<Response><Errors><Error><Code>[^<]+<\/Code><Message>[^<]*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
        );
        return { status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(xml)![1] };
      };
      expect(await error(await raw(sim, 'Action=DescribeVpcs&Version=2016-11-15', 'unsigned'))).toEqual({
        status: 401,
        code: 'MissingAuthenticationToken',
      });
      expect(await error(await raw(sim, 'Action=DescribeVpcs&Version=2016-11-15', { region: 'mars-north-1' }))).toEqual(
        { status: 401, code: 'AuthFailure' },
      );
      expect(await error(await raw(sim, 'Action=LaunchRockets&Version=2016-11-15'))).toEqual({
        status: 400,
        code: 'InvalidAction',
      });
      expect(await error(await raw(sim, 'Action=DescribeVpcs&Version=2014-01-01'))).toEqual({
        status: 400,
        code: 'NoSuchVersion',
      });
      expect(await error(await raw(sim, 'Action=DescribeVpcs'))).toEqual({ status: 400, code: 'MissingParameter' });
      expect(await error(await raw(sim, 'Action=CreateVpc&Version=2016-11-15'))).toEqual({
        status: 400,
        code: 'MissingParameter',
      });
      expect(await error(await raw(sim, 'Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.1%2F16'))).toEqual({
        status: 400,
        code: 'InvalidParameterValue',
      });
      expect(await error(await raw(sim, 'Action=DescribeVpcs&Version=2016-11-15&Filter.x.Name=vpc-id'))).toEqual({
        status: 400,
        code: 'InvalidParameterValue',
      });
      expect(
        await error(
          await raw(sim, `Action=RunInstances&Version=2016-11-15&ImageId=${imageId}&MinCount=one&MaxCount=1`),
        ),
      ).toEqual({ status: 400, code: 'InvalidParameterValue' });
      expect(
        await error(await raw(sim, 'Action=CreateTags&Version=2016-11-15&ResourceId.1=nope-1&Tag.1.Key=a')),
      ).toEqual({ status: 400, code: 'InvalidID' });
      expect(
        await error(
          await raw(
            sim,
            `Action=CreateTags&Version=2016-11-15&ResourceId.1=${vpcId}&Tag.1.Key=aws%3Aname&Tag.1.Value=x`,
          ),
        ),
      ).toEqual({ status: 400, code: 'InvalidParameterValue' });
      expect(await error(await raw(sim, '%%%&&==Action=&Version'))).toEqual({ status: 400, code: 'MissingAction' });
    });
  });

  it('throttles a burst with RequestLimitExceeded (503), per action family', async () => {
    // Scale 0.02: RunInstances and unfiltered DescribeInstances hold 1 token, refilled in 25 s and 5 s (no refill mid-test).
    const tight = await startCloudSim({ bootTimeMs: 20, rateLimits: { aws: { scale: 0.02 } } });
    const strict = client(tight, { maxAttempts: 1 });
    try {
      // The rest of a burst of 4 is refused before anything launches.
      const image = (await strict.send(new DescribeImagesCommand({ Owners: ['099720109477'] }))).Images![0]!.ImageId!;
      const burst = await Promise.allSettled(
        [1, 2, 3, 4].map(() =>
          strict.send(new RunInstancesCommand({ ImageId: image, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })),
        ),
      );
      const refused = burst
        .filter((r) => r.status === 'rejected')
        .map((r) => (r as PromiseRejectedResult).reason as { name: string; $metadata: { httpStatusCode: number } });
      expect(refused.length).toBe(3);
      expect(refused.every((e) => e.name === 'RequestLimitExceeded' && e.$metadata.httpStatusCode === 503)).toBe(true);
      expect(calls(tight, 'RunInstances', 'throttled')).toBe(3);
      expect(tight.inventory().filter((r) => r.type === 'instance')).toHaveLength(1);
      // Unfiltered DescribeInstances has its own bucket; filtered calls take from the Describe* one and still pass.
      const unfiltered = await Promise.allSettled(
        [...Array(4)].map(() => strict.send(new DescribeInstancesCommand({}))),
      );
      expect(unfiltered.filter((r) => r.status === 'rejected').length).toBe(3);
      await expect(
        strict.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-type', Values: ['t3.micro'] }] })),
      ).resolves.toBeDefined();
    } finally {
      strict.destroy();
      await tight.stop();
    }
  });

  it('persists state to a file and carries on after a restart, ClientTokens included', async () => {
    const file = join(await stateDir, 'ec2-state.json');
    const first = await startCloudSim({ bootTimeMs: 20, stateFile: file });
    const c1 = client(first);
    const image = (await c1.send(new DescribeImagesCommand({ Owners: ['099720109477'] }))).Images![0]!.ImageId!;
    const vpc = (
      await c1.send(
        new CreateVpcCommand({
          CidrBlock: '10.7.0.0/16',
          TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'k', Value: 'v' }] }],
        }),
      )
    ).Vpc!.VpcId!;
    const subnet = (await c1.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.7.0.0/24' }))).Subnet!.SubnetId!;
    const launch = {
      ImageId: image,
      InstanceType: 't3.micro' as const,
      MinCount: 2,
      MaxCount: 2,
      SubnetId: subnet,
      ClientToken: 'persisted',
    };
    const launched = await c1.send(new RunInstancesCommand(launch));
    c1.destroy();
    await first.stop();

    const second = await startCloudSim({ bootTimeMs: 20, stateFile: file });
    const c2 = client(second);
    try {
      const replay = await c2.send(new RunInstancesCommand(launch));
      expect(replay.Instances!.map((i) => i.InstanceId)).toEqual(launched.Instances!.map((i) => i.InstanceId));
      const listed = await c2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'subnet-id', Values: [subnet] }] }),
      );
      const instances = listed.Reservations!.flatMap((r) => r.Instances!);
      expect(instances.map((i) => [i.State?.Name, i.PrivateIpAddress])).toEqual([
        ['running', '10.7.0.4'],
        ['running', '10.7.0.5'],
      ]);
      expect((await c2.send(new DescribeVpcsCommand({ VpcIds: [vpc] }))).Vpcs![0]!.Tags).toEqual([
        { Key: 'k', Value: 'v' },
      ]);
      const next = await c2.send(
        new RunInstancesCommand({ ...launch, MinCount: 1, MaxCount: 1, ClientToken: undefined }),
      );
      expect(next.Instances![0]!.PrivateIpAddress).toBe('10.7.0.6');
      await c2.send(
        new TerminateInstancesCommand({
          InstanceIds: [...instances.map((i) => i.InstanceId!), next.Instances![0]!.InstanceId!],
        }),
      );
      await until('instances gone', async () => {
        const out = await c2.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: 'subnet-id', Values: [subnet] },
              { Name: 'instance-state-name', Values: ['terminated'] },
            ],
          }),
        );
        return out.Reservations?.flatMap((r) => r.Instances!).length === 3 ? true : undefined;
      });
      await c2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
      await c2.send(new DeleteVpcCommand({ VpcId: vpc }));
      expect(second.inventory()).toEqual([]);
    } finally {
      c2.destroy();
      await second.stop();
    }
  });

  it('lists what is alive and counts calls on the admin endpoint, and cleans up to nothing', async () => {
    const inventory = (await (
      await fetch(`${sim.httpUrl}/_sim/inventory`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      resources: Array<{ cloud: string; type: string; id: string }>;
    };
    const aws = inventory.resources.filter((r) => r.cloud === 'aws');
    expect(aws.filter((r) => r.type === 'vpc').map((r) => r.id)).toEqual([vpcId]);
    expect(aws.filter((r) => r.type === 'launch-template')).toHaveLength(1);
    const counted = (await (
      await fetch(`${sim.httpUrl}/_sim/calls`, { headers: { authorization: `Bearer ${sim.adminToken}` } })
    ).json()) as {
      calls: Array<{ cloud: string; action: string; outcome: string; count: number }>;
    };
    expect(counted.calls.some((c) => c.cloud === 'aws' && c.action === 'DescribeInstances' && c.count > 0)).toBe(true);

    // Tear everything down through the API, in dependency order, as a client would.
    const live = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }] }),
    );
    const ids = (live.Reservations ?? []).flatMap((r) => r.Instances!.map((i) => i.InstanceId!));
    if (ids.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    expect(await failure(ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId })))).toMatchObject({
      name: 'DependencyViolation',
    });
    await until('instances terminated', async () =>
      sim.inventory().some((r) => r.type === 'instance') ? undefined : true,
    );
    for (const t of (await ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates ?? [])
      await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: t.LaunchTemplateId! }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetA }));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetB }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    expect(sim.inventory()).toEqual([]);
  });
});
