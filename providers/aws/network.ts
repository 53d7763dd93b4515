import { createHash } from 'node:crypto';
import type { IpPermission, Subnet, Tag, TagSpecification } from '@aws-sdk/client-ec2';
import { SkypoolError, TimeoutError } from '../../src/errors.js';
import { type NetworkRef, TAG_KEYS } from '../../src/providers/types.js';
import { addressesAt, inCidr } from '../../src/util/ipv4.js';
import { sleep } from '../../src/util/poll.js';
import type { Ec2Calls } from './calls.js';
import {
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  DeleteInternetGatewayCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstancesCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DetachInternetGatewayCommand,
  ModifySubnetAttributeCommand,
} from './sdk.js';
import { type ClaimSettings, claimVpc, clusterVpcs } from './vpc-claim.js';

/**
 * The cluster's network: a VPC (10.N.0.0/16) split into one subnet per zone (a /17 and two /18, so every
 * address of the VPC belongs to exactly one zone), an internet gateway with the default route (nodes pull
 * images and the SDK reaches the engine API on their public IP), and one security group. Everything carries
 * `skypool-cluster`, and is found again by it: the cloud is the only state.
 */

export interface NetworkSettings extends ClaimSettings {
  /** Who may reach the Docker engine API (2376/tcp, mTLS): the operator's address unless widened. */
  readonly engineApiCidrs: readonly string[];
  readonly pollIntervalMs: number;
  /** How long deleteNetwork waits for the cluster's instances to be gone. */
  readonly deleteTimeoutMs: number;
}

export interface ClusterNetwork {
  readonly ref: NetworkRef;
  readonly vpcId: string;
  readonly securityGroupId: string;
  /** Zone name → subnet. */
  readonly subnets: ReadonlyMap<string, { readonly id: string; readonly cidr: string; readonly zone: string }>;
}

const clusterFilter = (cluster: string) => ({ Name: `tag:${TAG_KEYS.cluster}`, Values: [cluster] });
const groupName = (cluster: string) => `skypool-${cluster}`;

function tagSpec(type: TagSpecification['ResourceType'], cluster: string, name: string): TagSpecification[] {
  const tags: Tag[] = [
    { Key: TAG_KEYS.cluster, Value: cluster },
    { Key: 'Name', Value: name },
  ];
  return [{ ResourceType: type, Tags: tags }];
}

/** 10.N.0.0/16 with N from the cluster name, so two clusters rarely share a range (VPCs are separate anyway). */
export function vpcCidr(cluster: string): string {
  const n = 1 + (createHash('sha256').update(cluster).digest()[0]! % 254);
  return `10.${n}.0.0/16`;
}

/** Subnet i of the VPC: /17 at .0.0, /18 at .128.0, /18 at .192.0. */
export function subnetCidr(vpc: string, index: number): string {
  const [a, b] = vpc.split('.');
  return [`${a}.${b}.0.0/17`, `${a}.${b}.128.0/18`, `${a}.${b}.192.0/18`][index]!;
}

export { inCidr };

/** AWS keeps the first four addresses and the last one of every subnet. */
function reservedOf(cidr: string): string[] {
  return addressesAt(cidr, [0, 1, 2, 3, -1]);
}

/** Ingress the engine needs: swarm control 2377/tcp, gossip 7946/tcp+udp, overlay 4789/udp within the group; API 2376/tcp from outside. */
function ingress(groupId: string, engineApiCidrs: readonly string[]): IpPermission[] {
  const self = [{ GroupId: groupId, Description: 'skypool cluster members' }];
  return [
    { IpProtocol: 'tcp', FromPort: 2377, ToPort: 2377, UserIdGroupPairs: self },
    { IpProtocol: 'tcp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: self },
    { IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: self },
    { IpProtocol: 'udp', FromPort: 4789, ToPort: 4789, UserIdGroupPairs: self },
    {
      IpProtocol: 'tcp',
      FromPort: 2376,
      ToPort: 2376,
      IpRanges: engineApiCidrs.map((CidrIp) => ({ CidrIp, Description: 'Docker engine API (mTLS)' })),
    },
    {
      IpProtocol: 'udp',
      FromPort: FABRIC_PORT,
      ToPort: FABRIC_PORT,
      IpRanges: [{ CidrIp: '0.0.0.0/0', Description: FABRIC_RULE_DESCRIPTION }],
    },
  ];
}

/** The fabric's WireGuard port: open to the world (nodes of other clouds peer over their public addresses). */
export const FABRIC_PORT = 51820;
/** Description of the fabric's ingress rule, so it can be found (and revoked) by name. */
export const FABRIC_RULE_DESCRIPTION = 'skypool-fabric';

const covers = (have: readonly IpPermission[], want: IpPermission) =>
  have.some(
    (p) =>
      p.IpProtocol === want.IpProtocol &&
      p.FromPort === want.FromPort &&
      p.ToPort === want.ToPort &&
      (want.UserIdGroupPairs ?? []).every((g) => p.UserIdGroupPairs?.some((h) => h.GroupId === g.GroupId)) &&
      (want.IpRanges ?? []).every((r) => p.IpRanges?.some((h) => h.CidrIp === r.CidrIp)),
  );

/** Finds or creates every piece; each step looks before it creates, so a crash half-way is repaired by the next call. */
export async function ensureClusterNetwork(
  ec2: Ec2Calls,
  cluster: string,
  settings: NetworkSettings,
): Promise<ClusterNetwork> {
  for (let attempt = 1; ; attempt++) {
    const vpc = await claimVpc(
      ec2,
      cluster,
      { cidr: vpcCidr(cluster), tags: tagSpec('vpc', cluster, `skypool-${cluster}`) },
      settings,
    );
    try {
      return await buildNetwork(ec2, cluster, vpc, settings);
    } catch (error) {
      // The VPC went away under us (a crash's unclaimed leftover removed by another process, or a destroy): again.
      if (codeOf(error) !== 'InvalidVpcID.NotFound' || attempt >= 3) throw error;
    }
  }
}

/**
 * Another process may build the same pieces at the same moment (two operators, or a rerun beside a stuck one):
 * a create that meets the other's resource (InvalidSubnet.Conflict, InvalidGroup.Duplicate,
 * InvalidPermission.Duplicate, RouteAlreadyExists, a gateway already attached) looks again and uses what is there.
 */
async function buildNetwork(
  ec2: Ec2Calls,
  cluster: string,
  vpc: { id: string; cidr: string },
  settings: NetworkSettings,
): Promise<ClusterNetwork> {
  const vpcFilter = { Name: 'vpc-id', Values: [vpc.id] };

  const zones = await ec2.call(
    'DescribeAvailabilityZones',
    new DescribeAvailabilityZonesCommand({
      Filters: [
        { Name: 'zone-type', Values: ['availability-zone'] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  const zoneNames = (zones.AvailabilityZones ?? [])
    .map((z) => z.ZoneName!)
    .filter(Boolean)
    .sort()
    .slice(0, 3);
  const existing =
    (await ec2.call('DescribeSubnets', new DescribeSubnetsCommand({ Filters: [vpcFilter] }))).Subnets ?? [];
  const subnets = new Map<string, { id: string; cidr: string; zone: string }>();
  for (const [i, zone] of zoneNames.entries()) {
    const cidr = subnetCidr(vpc.cidr, i);
    let subnet: Subnet | undefined = existing.find((s) => s.CidrBlock === cidr);
    if (!subnet) {
      try {
        subnet = (
          await ec2.call(
            'CreateSubnet',
            new CreateSubnetCommand({
              VpcId: vpc.id,
              CidrBlock: cidr,
              AvailabilityZone: zone,
              TagSpecifications: tagSpec('subnet', cluster, `skypool-${cluster}-${zone}`),
            }),
          )
        ).Subnet!;
      } catch (error) {
        if (codeOf(error) !== 'InvalidSubnet.Conflict') throw error;
        const now =
          (await ec2.call('DescribeSubnets', new DescribeSubnetsCommand({ Filters: [vpcFilter] }))).Subnets ?? [];
        subnet = now.find((s) => s.CidrBlock === cidr);
        if (!subnet) throw error;
      }
    }
    if (!subnet.MapPublicIpOnLaunch) {
      await ec2.call(
        'ModifySubnetAttribute',
        new ModifySubnetAttributeCommand({ SubnetId: subnet.SubnetId!, MapPublicIpOnLaunch: { Value: true } }),
      );
    }
    subnets.set(subnet.AvailabilityZone!, { id: subnet.SubnetId!, cidr, zone: subnet.AvailabilityZone! });
  }

  const igwId = await ensureGateway(ec2, cluster, vpc.id);
  const tables =
    (
      await ec2.call(
        'DescribeRouteTables',
        new DescribeRouteTablesCommand({ Filters: [vpcFilter, { Name: 'association.main', Values: ['true'] }] }),
      )
    ).RouteTables ?? [];
  const main = tables[0];
  if (main && !main.Routes?.some((r) => r.DestinationCidrBlock === '0.0.0.0/0')) {
    await ec2
      .call(
        'CreateRoute',
        new CreateRouteCommand({
          RouteTableId: main.RouteTableId!,
          DestinationCidrBlock: '0.0.0.0/0',
          GatewayId: igwId,
        }),
      )
      .catch((error: unknown) => {
        if (codeOf(error) !== 'RouteAlreadyExists') throw error;
      });
  }

  const groupId = await ensureGroup(ec2, cluster, vpc.id, settings.engineApiCidrs);

  const primary = [...subnets.values()].sort((a, b) => a.cidr.localeCompare(b.cidr));
  return {
    // Nodes with fixed addresses get them anywhere in the VPC; the address decides the subnet (and zone).
    ref: { id: vpc.id, cidr: vpc.cidr, reservedAddresses: primary.flatMap((s) => reservedOf(s.cidr)) },
    vpcId: vpc.id,
    securityGroupId: groupId,
    subnets,
  };
}

const codeOf = (error: unknown) =>
  SkypoolError.isInstance(error) ? (error.details.code as string | undefined) : undefined;

/** The internet gateway attached to the VPC: found, or made and attached; a gateway another process attached first wins. */
async function ensureGateway(ec2: Ec2Calls, cluster: string, vpcId: string): Promise<string> {
  const describe = async () =>
    (
      await ec2.call(
        'DescribeInternetGateways',
        new DescribeInternetGatewaysCommand({ Filters: [clusterFilter(cluster)] }),
      )
    ).InternetGateways ?? [];
  const gateways = await describe();
  const attached = gateways.find((g) => g.Attachments?.some((a) => a.VpcId === vpcId));
  if (attached) return attached.InternetGatewayId!;
  const spare = gateways.find((g) => !g.Attachments?.length);
  const made = !spare;
  const igw =
    spare ??
    (
      await ec2.call(
        'CreateInternetGateway',
        new CreateInternetGatewayCommand({
          TagSpecifications: tagSpec('internet-gateway', cluster, `skypool-${cluster}`),
        }),
      )
    ).InternetGateway!;
  try {
    await ec2.call(
      'AttachInternetGateway',
      new AttachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId!, VpcId: vpcId }),
    );
    return igw.InternetGatewayId!;
  } catch (error) {
    const code = codeOf(error);
    // Resource.AlreadyAssociated: another process attached this spare; InvalidParameterValue: the VPC has another.
    if (code !== 'Resource.AlreadyAssociated' && code !== 'InvalidParameterValue') throw error;
    const winner = (await describe()).find((g) => g.Attachments?.some((a) => a.VpcId === vpcId));
    if (!winner) throw error;
    if (made && winner.InternetGatewayId !== igw.InternetGatewayId)
      await ec2
        .call('DeleteInternetGateway', new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId! }))
        .catch(() => undefined); // an unattached gateway of the cluster is removed by destroy anyway
    return winner.InternetGatewayId!;
  }
}

/** The cluster's security group in the VPC with every ingress rule, whoever creates them first. */
async function ensureGroup(
  ec2: Ec2Calls,
  cluster: string,
  vpcId: string,
  engineApiCidrs: readonly string[],
): Promise<string> {
  const describe = async () =>
    (
      await ec2.call(
        'DescribeSecurityGroups',
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: [groupName(cluster)] },
          ],
        }),
      )
    ).SecurityGroups?.[0];
  let group = await describe();
  if (!group) {
    try {
      const made = await ec2.call(
        'CreateSecurityGroup',
        new CreateSecurityGroupCommand({
          GroupName: groupName(cluster),
          Description: `skypool cluster ${cluster}`,
          VpcId: vpcId,
          TagSpecifications: tagSpec('security-group', cluster, groupName(cluster)),
        }),
      );
      group = { GroupId: made.GroupId!, IpPermissions: [] };
    } catch (error) {
      if (codeOf(error) !== 'InvalidGroup.Duplicate') throw error;
      group = await describe();
      if (!group) throw error;
    }
  }
  const groupId = group.GroupId!;
  // EC2 adds none of a request's rules when one is a duplicate: look again and add what is still missing.
  for (let attempt = 1; ; attempt++) {
    const missing = ingress(groupId, engineApiCidrs).filter((p) => !covers(group?.IpPermissions ?? [], p));
    if (!missing.length) return groupId;
    try {
      await ec2.call(
        'AuthorizeSecurityGroupIngress',
        new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: missing }),
      );
      return groupId;
    } catch (error) {
      if (codeOf(error) !== 'InvalidPermission.Duplicate' || attempt >= 3) throw error;
      group = await describe();
    }
  }
}
const GONE = new Set([
  'InvalidGroup.NotFound',
  'InvalidSubnetID.NotFound',
  'InvalidVpcID.NotFound',
  'InvalidInternetGatewayID.NotFound',
  'Gateway.NotAttached',
]);

/**
 * A delete that may meet `DependencyViolation` while EC2 still releases the network interfaces of terminated
 * instances: try again until the deadline. Already gone counts as done (another teardown got there first).
 */
async function remove(
  run: () => Promise<unknown>,
  deadline: number,
  settings: Omit<NetworkSettings, 'engineApiCidrs'>,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    try {
      await run();
      return;
    } catch (error) {
      const code = codeOf(error);
      if (code && GONE.has(code)) return;
      if (code !== 'DependencyViolation' || Date.now() > deadline) throw error;
      await sleep(settings.pollIntervalMs, signal);
    }
  }
}

/**
 * Deletes the cluster's network in dependency order. Instances still shutting down keep their network
 * interfaces (and so subnet and group) in use: wait for them first, within `deleteTimeoutMs`.
 */
/**
 * Why the cluster's security group does not admit the fabric's port from anywhere (its rule described
 * `skypool-fabric` was revoked), or undefined when it does (or the cluster has no group here).
 */
export async function fabricFirewallProblem(ec2: Ec2Calls, cluster: string): Promise<string | undefined> {
  const groups =
    (
      await ec2.call(
        'DescribeSecurityGroups',
        new DescribeSecurityGroupsCommand({
          Filters: [clusterFilter(cluster), { Name: 'group-name', Values: [groupName(cluster)] }],
        }),
      )
    ).SecurityGroups ?? [];
  const group = groups[0];
  if (!group) return undefined;
  const open = (group.IpPermissions ?? []).some(
    (p) =>
      (p.IpProtocol === 'udp' || p.IpProtocol === '-1') &&
      (p.IpProtocol === '-1' || ((p.FromPort ?? 0) <= FABRIC_PORT && FABRIC_PORT <= (p.ToPort ?? 0))) &&
      (p.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0'),
  );
  return open
    ? undefined
    : `security group ${group.GroupId} (${group.GroupName}) in ${ec2.region} lacks its ingress rule "${FABRIC_RULE_DESCRIPTION}" (udp/${FABRIC_PORT} from 0.0.0.0/0): the fabric's WireGuard packets cannot reach the nodes there`;
}

export async function deleteClusterNetwork(
  ec2: Ec2Calls,
  cluster: string,
  settings: Omit<NetworkSettings, 'engineApiCidrs'>,
  signal?: AbortSignal,
): Promise<void> {
  // Every VPC tagged with the cluster: a race or a crash may have left more than one.
  const vpcs = (await clusterVpcs(ec2, cluster)).map((v) => v.id);
  const gateways =
    (
      await ec2.call(
        'DescribeInternetGateways',
        new DescribeInternetGatewaysCommand({ Filters: [clusterFilter(cluster)] }),
      )
    ).InternetGateways ?? [];
  const deadline = Date.now() + settings.deleteTimeoutMs;
  const del = (run: () => Promise<unknown>) => remove(run, deadline, settings, signal);
  for (const vpc of vpcs) {
    for (;;) {
      const live = await ec2.call(
        'DescribeInstances',
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpc] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
          ],
        }),
      );
      const ids = (live.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId);
      if (ids.length === 0) break;
      if (Date.now() > deadline)
        throw new TimeoutError(
          `instances ${ids.join(', ')} still use the network of cluster ${cluster}: terminate them first`,
          { cluster, ids },
        );
      await sleep(settings.pollIntervalMs, signal);
    }
    const vpcFilter = { Name: 'vpc-id', Values: [vpc] };
    const groups =
      (await ec2.call('DescribeSecurityGroups', new DescribeSecurityGroupsCommand({ Filters: [vpcFilter] })))
        .SecurityGroups ?? [];
    for (const g of groups)
      if (g.GroupName !== 'default')
        await del(() => ec2.call('DeleteSecurityGroup', new DeleteSecurityGroupCommand({ GroupId: g.GroupId! })));
    for (const igw of gateways) {
      if (igw.Attachments?.some((a) => a.VpcId === vpc)) {
        await del(() =>
          ec2.call(
            'DetachInternetGateway',
            new DetachInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId!, VpcId: vpc }),
          ),
        );
      }
    }
    const subnets =
      (await ec2.call('DescribeSubnets', new DescribeSubnetsCommand({ Filters: [vpcFilter] }))).Subnets ?? [];
    for (const s of subnets)
      await del(() => ec2.call('DeleteSubnet', new DeleteSubnetCommand({ SubnetId: s.SubnetId! })));
  }
  for (const igw of gateways) {
    // A gateway of this cluster attached elsewhere is not ours to detach; one left unattached by a crash is.
    if (igw.Attachments?.some((a) => a.VpcId && !vpcs.includes(a.VpcId))) continue;
    await del(() =>
      ec2.call(
        'DeleteInternetGateway',
        new DeleteInternetGatewayCommand({ InternetGatewayId: igw.InternetGatewayId! }),
      ),
    );
  }
  for (const vpc of vpcs) await del(() => ec2.call('DeleteVpc', new DeleteVpcCommand({ VpcId: vpc })));
}
