import { readFileSync } from 'node:fs';
import {
  Annotations,
  ArnFormat,
  Aws,
  CfnOutput,
  CfnRule,
  Fn,
  RemovalPolicy,
  SecretValue,
  Stack,
  Tags,
  Token,
} from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { SkypoolError, SpecError } from '../errors.js';
import { TAG_KEYS } from '../providers/types.js';
import { poolSpecHash } from '../spec/hash.js';
import { parseSpec, parseSpecYaml } from '../spec/load.js';
import type { ClusterSpec, ClusterSpecInput, NodePoolSpec } from '../spec/schema.js';
import { suppressNag } from './nag.js';
import { AwsNodePool } from './pool.js';
import { resolveAwsPools } from './resolve.js';

/** Public SSM parameter of the current Ubuntu 24.04 AMI: resolved by CloudFormation at deploy, no synth lookup. */
export const UBUNTU_AMI_PARAMETER =
  '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id';

/** Props of {@link SkypoolCluster}: the spec, and who may reach the engine API. */
export interface SkypoolClusterProps {
  /** The cluster spec: an object shaped like skypool.yaml (validated the same way), or the path of a YAML spec file. */
  readonly spec: ClusterSpecInput | string;
  /**
   * CIDR allowed to reach every node's Docker engine API on 2376 (mTLS only): where the skypool SDK or CLI runs,
   * e.g. `203.0.113.7/32`.
   */
  readonly engineApiCidr: string;
  /**
   * Accept an `engineApiCidr` of `0.0.0.0/0`: mTLS then is the only guard of the engine API. Synth warns.
   * @default false: a /0 engineApiCidr is refused
   */
  readonly allowEngineApiFromAnywhere?: boolean;
  /**
   * VPC for the AWS pools. Nodes need outbound internet (docker install, Secrets Manager and EC2 APIs) and the
   * managers a public address for the Elastic IP.
   * @default a new VPC: public subnets in 2 availability zones, no NAT gateways, rejected traffic flow logs
   */
  readonly vpc?: ec2.IVpc;
  /** @default public subnets of the created VPC; the VPC's default selection for a given VPC */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * CIDRs of the spec's nodes outside AWS (azure/gcp pools) allowed to reach the swarm ports of the AWS nodes.
   * @default none: non-AWS pools cannot join until you add them
   */
  readonly externalNodeCidrs?: readonly string[];
  /**
   * Name of an existing Secrets Manager secret holding the TLS material (`createCdkTlsSecret`, JSON).
   * @default the stack creates an empty `skypool/<cluster>/tls` that nodes wait for until you fill it
   */
  readonly tlsSecretName?: string;
  /**
   * Seconds a booting node waits for its TLS material, the join tokens and the swarm before it gives up.
   * @default 1800
   */
  readonly bootDeadlineSeconds?: number;
  /** @default Ubuntu 24.04 (amd64) from the public SSM parameter `UBUNTU_AMI_PARAMETER` */
  readonly machineImage?: ec2.IMachineImage;
  /** @default 20 */
  readonly rootVolumeGiB?: number;
}

/** IAM policy variable: the instance the role's credentials were delivered to. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a JavaScript template
const SOURCE_INSTANCE_ARN = '${ec2:SourceInstanceARN}';

/** Swarm traffic between any two nodes; 2377 (management) only goes to managers. */
const SWARM_PEER_PORTS: readonly { port: ec2.Port; what: string }[] = [
  { port: ec2.Port.tcp(7946), what: 'swarm gossip' },
  { port: ec2.Port.udp(7946), what: 'swarm gossip' },
  { port: ec2.Port.udp(4789), what: 'swarm overlay (VXLAN)' },
];
const SWARM_MANAGEMENT = ec2.Port.tcp(2377);

/**
 * The AWS side of a skypool cluster as CloudFormation, from the same spec and the same rendered user-data as the
 * SDK: nodes launched by the stack join the pool and show in `skypool status` like nodes the SDK launched.
 *
 * Per AWS pool: a security group, a least-privilege instance role, a launch template (IMDSv2 required) and an
 * Auto Scaling group of exactly `count` nodes tagged with the ownership tags. Shared: the join-token secret the
 * first manager publishes to, the TLS secret, an Elastic IP for the first manager (the `ManagerAddress` output).
 * Pools on other clouds are not deployed: synth warns about each, and `skypool up` attaches them to that address.
 */
export class SkypoolCluster extends Construct {
  readonly spec: ClusterSpec;
  readonly vpc?: ec2.IVpc;
  /** The AWS pools, in spec order. */
  readonly pools: readonly AwsNodePool[];
  /** The spec's pools on other clouds, which this stack does not deploy. */
  readonly externalPools: readonly NodePoolSpec[];
  /** Manager join token, manager address and the Elastic IP: read by managers only. */
  readonly joinSecret?: secretsmanager.Secret;
  /** Worker join token and manager address: what workers may read. */
  readonly workerJoinSecret?: secretsmanager.Secret;
  readonly tlsSecretName: string;
  /** The first manager's public address (Elastic IP), a deploy-time token. */
  readonly managerAddress?: string;

  constructor(scope: Construct, id: string, props: SkypoolClusterProps) {
    super(scope, id);
    const where = `construct ${this.node.path}`;
    const spec = loadSpec(props.spec, where);
    this.spec = spec;
    this.externalPools = spec.pools.filter((p) => p.provider !== 'aws');
    this.tlsSecretName = props.tlsSecretName ?? `skypool/${spec.name}/tls`;
    const joinSecretName = `skypool/${spec.name}/swarm-join`;
    const workerJoinSecretName = `${joinSecretName}-worker`;

    const stackRegion = Stack.of(this).region;
    const {
      issues,
      pools: resolved,
      region,
    } = resolveAwsPools(spec, {
      engineApiCidr: props.engineApiCidr,
      externalNodeCidrs: props.externalNodeCidrs ?? [],
      stackRegion: Token.isUnresolved(stackRegion) ? undefined : stackRegion,
      deadlineSeconds: props.bootDeadlineSeconds ?? 1800,
      joinSecretName,
      workerJoinSecretName,
      tlsSecretName: this.tlsSecretName,
      engineApiFromAnywhere: props.allowEngineApiFromAnywhere === true,
    });
    if (issues.length > 0) throw new SpecError(issues, where);
    if (/\/0$/.test(props.engineApiCidr)) {
      Annotations.of(this).addWarningV2(
        'skypool:engineApiFromAnywhere',
        `engineApiCidr ${props.engineApiCidr} opens the Docker engine API (2376) of every node to the whole internet; ` +
          'mutual TLS is its only guard. Narrow it to the address skypool runs from.',
      );
    }

    for (const pool of this.externalPools) {
      Annotations.of(this).addWarningV2(
        `skypool:externalPool:${pool.name}`,
        `pool "${pool.name}" (${pool.provider}${pool.region ? `, ${pool.region}` : ''}, ${pool.count} ${pool.role}s) is not deployed by this stack: ` +
          `after deploy, run \`skypool up\` with the same spec to attach it to the ManagerAddress output` +
          (props.externalNodeCidrs?.length
            ? ''
            : ', and pass externalNodeCidrs so its nodes may reach the swarm ports'),
      );
    }
    if (resolved.length === 0) {
      Annotations.of(this).addWarningV2(
        'skypool:noAwsPools',
        `cluster "${spec.name}" has no AWS pool: this construct creates nothing`,
      );
      this.pools = [];
      return;
    }

    if (Token.isUnresolved(stackRegion)) {
      new CfnRule(this, 'RegionRule', {
        assertions: [
          {
            assert: Fn.conditionEquals(Aws.REGION, region),
            assertDescription: `skypool cluster ${spec.name}: deploy this stack to ${region}, the region of its AWS pools`,
          },
        ],
      });
    }
    const vpc = props.vpc ?? this.createVpc();
    this.vpc = vpc;
    const vpcSubnets = props.vpcSubnets ?? (props.vpc ? undefined : { subnetType: ec2.SubnetType.PUBLIC });
    const machineImage =
      props.machineImage ??
      ec2.MachineImage.fromSsmParameter(UBUNTU_AMI_PARAMETER, { os: ec2.OperatingSystemType.LINUX });

    const address = new ec2.CfnEIP(this, 'ManagerAddress', { domain: 'vpc' });
    Tags.of(address).add(TAG_KEYS.cluster, spec.name);
    this.managerAddress = address.attrPublicIp;
    // Managers put the address in their certificate; the first one associates it with itself.
    const joinSecret = new secretsmanager.Secret(this, 'JoinSecret', {
      secretName: joinSecretName,
      description: `skypool ${spec.name}: swarm join tokens and manager address, published by the first manager at boot`,
      secretObjectValue: {
        eipAllocationId: SecretValue.unsafePlainText(address.attrAllocationId),
        eipAddress: SecretValue.unsafePlainText(address.attrPublicIp),
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.joinSecret = joinSecret;
    suppressRotation(
      joinSecret,
      'the swarm rotates join tokens itself (`docker swarm join-token --rotate`) and skypool republishes them here.',
    );
    // The worker token alone, for the worker roles: a worker must not be able to join as a manager.
    const workerJoinSecret = new secretsmanager.Secret(this, 'WorkerJoinSecret', {
      secretName: workerJoinSecretName,
      description: `skypool ${spec.name}: swarm worker join token and manager address, published by the first manager at boot`,
      secretStringValue: SecretValue.unsafePlainText('{}'),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.workerJoinSecret = workerJoinSecret;
    suppressRotation(
      workerJoinSecret,
      'the swarm rotates join tokens itself (`docker swarm join-token --rotate`) and skypool republishes them here.',
    );
    let tlsSecretArn: string;
    if (props.tlsSecretName) {
      // Imported by name: policies must match the 6-character suffix Secrets Manager appends to the ARN.
      tlsSecretArn = Stack.of(this).formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${props.tlsSecretName}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    } else {
      const tls = new secretsmanager.Secret(this, 'TlsSecret', {
        secretName: this.tlsSecretName,
        description: `skypool ${spec.name}: cluster CA certificate and server-only node issuer; fill it with createCdkTlsSecret() output`,
        secretStringValue: SecretValue.unsafePlainText('{}'),
        removalPolicy: RemovalPolicy.DESTROY,
      });
      tlsSecretArn = tls.secretArn;
      suppressRotation(
        tls,
        'the issuer is re-made from the cluster CA, which only the skypool user holds; re-run createCdkTlsSecret to rotate.',
      );
    }

    // One membership group for all nodes keeps the rules O(pools), not O(pools²) (60 rules per group at most).
    const nodes = new ec2.SecurityGroup(this, 'NodesSecurityGroup', {
      vpc,
      description: `skypool ${spec.name}: every node; swarm gossip and overlay between members`,
      allowAllOutbound: true,
    });
    Tags.of(nodes).add(TAG_KEYS.cluster, spec.name);
    this.pools = resolved.map(({ pool, instanceType, userData }) => {
      const node = new AwsNodePool(this, `Pool-${pool.name}`, {
        pool,
        tags: { cluster: spec.name, pool: pool.name, role: pool.role, specHash: poolSpecHash(spec, pool) },
        instanceType,
        userData,
        vpc,
        vpcSubnets,
        machineImage,
        rootVolumeGiB: props.rootVolumeGiB ?? 20,
        clusterSecurityGroup: nodes,
      });
      this.grantNode(node, { manager: joinSecret, worker: workerJoinSecret }, tlsSecretArn, address);
      return node;
    });
    this.openSwarmPorts(nodes, props);

    new CfnOutput(this, 'ManagerAddressOutput', {
      value: address.attrPublicIp,
      description: `skypool ${spec.name}: public address of the first swarm manager (attach non-AWS pools here)`,
    });
    new CfnOutput(this, 'JoinSecretOutput', {
      value: joinSecretName,
      description: `skypool ${spec.name}: secret with the swarm join tokens`,
    });
    new CfnOutput(this, 'TlsSecretOutput', {
      value: this.tlsSecretName,
      description: `skypool ${spec.name}: secret the nodes read their TLS issuer from`,
    });
  }

  private createVpc(): ec2.Vpc {
    return new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'nodes', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
  }

  /** Only what the engine needs: swarm ports between the nodes (and given external CIDRs), 2376 from the SDK. */
  private openSwarmPorts(nodes: ec2.SecurityGroup, props: SkypoolClusterProps): void {
    const external = (props.externalNodeCidrs ?? []).map((cidr) => ec2.Peer.ipv4(cidr));
    for (const { port, what } of SWARM_PEER_PORTS) {
      nodes.addIngressRule(nodes, port, `${what} between nodes`);
      for (const peer of external) nodes.addIngressRule(peer, port, `${what} from nodes outside AWS`);
    }
    for (const { securityGroup, pool } of this.pools) {
      securityGroup.addIngressRule(
        ec2.Peer.ipv4(props.engineApiCidr),
        ec2.Port.tcp(2376),
        'Docker engine API, mTLS only, for skypool',
      );
      if (pool.role !== 'manager') continue;
      securityGroup.addIngressRule(nodes, SWARM_MANAGEMENT, 'swarm management from nodes');
      for (const peer of external)
        securityGroup.addIngressRule(peer, SWARM_MANAGEMENT, 'swarm management from nodes outside AWS');
    }
  }

  /**
   * Least privilege: a node reads its own role's join secret (workers never the manager token) and the TLS
   * secret, names its own instance and, once booted, turns off its own metadata endpoint (so its role, and with
   * it the TLS issuer, is out of reach from then on); managers also publish the join tokens (only the first
   * one's write succeeds) and take the cluster's Elastic IP. Instance statements apply to the calling instance
   * only: `aws:ARN` (the instance acted on) must equal `ec2:SourceInstanceARN` (the instance the role's
   * credentials were delivered to).
   */
  private grantNode(
    node: AwsNodePool,
    join: { manager: secretsmanager.Secret; worker: secretsmanager.Secret },
    tlsSecretArn: string,
    address: ec2.CfnEIP,
  ): void {
    const stack = Stack.of(this);
    const manager = node.pool.role === 'manager';
    const clusterTag = { [`aws:ResourceTag/${TAG_KEYS.cluster}`]: this.spec.name };
    const ownInstance = { StringEquals: { ...clusterTag, 'aws:ARN': SOURCE_INSTANCE_ARN } };
    const anyInstance = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    const add = (statement: iam.PolicyStatementProps): void =>
      void node.role.addToPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'ReadClusterSecrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [(manager ? join.manager : join.worker).secretArn, tlsSecretArn],
    });
    add({
      sid: 'NameOwnInstance',
      actions: ['ec2:CreateTags'],
      resources: [anyInstance],
      conditions: { ...ownInstance, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Name'] } },
    });
    add({
      sid: 'DropOwnCredentials',
      actions: ['ec2:ModifyInstanceMetadataOptions'],
      resources: [anyInstance],
      // The request may change one option, the endpoint, and only to "disabled": never back on.
      conditions: {
        StringEquals: { ...ownInstance.StringEquals, 'ec2:Attribute/HttpEndpoint': 'disabled' },
        'ForAllValues:StringEquals': { 'ec2:Attribute': ['HttpEndpoint'] },
        Null: { 'ec2:Attribute': 'false' },
      },
    });
    if (manager) {
      add({
        sid: 'PublishJoinTokens',
        actions: ['secretsmanager:PutSecretValue'],
        resources: [join.manager.secretArn, join.worker.secretArn],
      });
      // AssociateAddress is authorized on the address and on the instance: one statement each, so the
      // own-instance condition is not applied to the address.
      add({
        sid: 'TakeManagerAddress',
        actions: ['ec2:AssociateAddress'],
        resources: [
          stack.formatArn({ service: 'ec2', resource: 'elastic-ip', resourceName: address.attrAllocationId }),
        ],
        conditions: { StringEquals: clusterTag },
      });
      add({
        sid: 'TakeManagerAddressForSelf',
        actions: ['ec2:AssociateAddress'],
        resources: [anyInstance],
        conditions: ownInstance,
      });
    }
    suppressNag(
      node.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'the instance id is known only at boot; each statement allows only the calling instance (aws:ARN = ec2:SourceInstanceARN), tagged with this cluster.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:ec2:[^:]+:<AWS::AccountId>:instance\\/\\*$/' }],
        },
      ],
      true,
    );
    suppressNag(node.autoScalingGroup, [
      {
        id: 'AwsSolutions-AS3',
        reason:
          'node health is watched through the engine (`skypool status`); scaling notifications would duplicate it.',
      },
    ]);
  }
}

/** Secrets Manager rotation needs a Lambda; neither secret can be rotated by one. */
function suppressRotation(secret: secretsmanager.Secret, reason: string): void {
  suppressNag(secret, [{ id: 'AwsSolutions-SMG4', reason }]);
}

/** Parses the spec (object or YAML file); SpecError messages name the construct path (and the file). */
function loadSpec(spec: ClusterSpecInput | string, where: string): ClusterSpec {
  if (typeof spec !== 'string') return parseSpec(spec, where);
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (cause) {
    throw new SkypoolError(
      'SPEC_NOT_FOUND',
      `${where}: cannot read the cluster spec ${spec}: ${(cause as Error).message}`,
      { exitCode: 2, cause },
    );
  }
  return parseSpecYaml(text, `${where} (${spec})`);
}
