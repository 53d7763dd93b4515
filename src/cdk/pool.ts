import { Annotations, Tags, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type OwnershipTags, tagsToRecord } from '../providers/types.js';
import type { NodePoolSpec } from '../spec/schema.js';

/** Everything an AWS pool needs that the cluster construct decides (resolved spec values, shared resources). */
export interface AwsNodePoolProps {
  readonly pool: NodePoolSpec;
  readonly tags: OwnershipTags;
  readonly instanceType: string;
  readonly userData: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly machineImage: ec2.IMachineImage;
  readonly rootVolumeGiB: number;
  /** The cluster-wide group every node is a member of (swarm traffic between members). */
  readonly clusterSecurityGroup: ec2.ISecurityGroup;
}

/**
 * One AWS pool: its own security group (engine API, and swarm management on managers) next to the cluster's
 * shared one, an instance role, a launch template carrying the pool's user-data with IMDSv2
 * required, and an Auto Scaling group holding exactly `count` nodes. Rules between pools and the role's
 * statements are added by `SkypoolCluster`, which knows every pool and secret.
 */
export class AwsNodePool extends Construct {
  readonly pool: NodePoolSpec;
  readonly securityGroup: ec2.SecurityGroup;
  readonly role: iam.Role;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The exact user-data bytes every node of the pool boots. */
  readonly userData: string;

  constructor(scope: Construct, id: string, props: AwsNodePoolProps) {
    super(scope, id);
    const { pool } = props;
    this.pool = pool;
    this.userData = props.userData;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `skypool ${props.tags.cluster}/${pool.name}: mTLS engine API${pool.role === 'manager' ? ', swarm management' : ''}`,
      allowAllOutbound: true, // package installs and the Secrets Manager / EC2 APIs over the internet gateway
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `skypool ${props.tags.cluster}/${pool.name} node`,
    });
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new ec2.InstanceType(props.instanceType),
      machineImage: props.machineImage,
      userData: ec2.UserData.custom(props.userData),
      role: this.role,
      securityGroup: this.securityGroup,
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      // 1 hop: containers behind the docker bridge cannot reach the node's credentials.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/sda1', // the root device of Ubuntu AMIs
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });

    this.launchTemplate.addSecurityGroup(props.clusterSecurityGroup);

    let vpcSubnets = props.vpcSubnets;
    if (pool.zones) {
      const known = props.vpc.availabilityZones;
      if (known.some((az) => Token.isUnresolved(az))) {
        Annotations.of(this).addWarningV2(
          'skypool:zonesIgnored',
          `pool "${pool.name}": zones ${pool.zones.join(', ')} are ignored because the VPC's availability zones are not known at synth; give the stack an account and region, or pass a VPC`,
        );
      } else {
        vpcSubnets = { ...vpcSubnets, availabilityZones: pool.zones };
      }
    }
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets,
      launchTemplate: this.launchTemplate,
      minCapacity: pool.count,
      maxCapacity: pool.count,
      desiredCapacity: pool.count,
    });
    Annotations.of(this.autoScalingGroup).acknowledgeWarning(
      '@aws-cdk/aws-autoscaling:desiredCapacitySet',
      'min = max = desired = the pool count on purpose: the spec is the source of truth for the pool size',
    );

    // On the group (propagated at launch), the launch template (instances and volumes), the role and the group's
    // security group: `skypool status` finds these nodes exactly like nodes the SDK launched.
    for (const [key, value] of Object.entries(tagsToRecord(props.tags))) {
      Tags.of(this).add(key, value, { applyToLaunchedInstances: true });
    }
    // Until the node tags itself Name=<cluster>-<pool>-<instance id> at boot (the launch template's default is its path).
    Tags.of(this.launchTemplate).add('Name', `${props.tags.cluster}-${pool.name}`, { priority: 200 });
  }
}
