import type { Cidr } from './cidr.js';
import type { Tags } from './tags.js';

/** The simulated EC2 resources. Records are plain data so that persistence is a JSON round trip. */

export interface Vpc {
  readonly id: string;
  readonly region: string;
  readonly cidr: Cidr;
  readonly isDefault: boolean;
  readonly defaultGroupId: string;
  tags: Tags;
}

export interface Subnet {
  readonly id: string;
  readonly region: string;
  readonly vpcId: string;
  readonly zone: string;
  readonly cidr: Cidr;
  readonly isDefault: boolean;
  mapPublicIp: boolean;
  /** Addresses handed out (numbers, see cidr.ts) and where the next search starts. */
  readonly used: Set<number>;
  next: number;
  tags: Tags;
}

export interface Permission {
  readonly id: string;
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  readonly cidr?: string;
  readonly groupId?: string;
  readonly description?: string;
}

export interface SecurityGroup {
  readonly id: string;
  readonly region: string;
  readonly vpcId: string;
  readonly name: string;
  readonly description: string;
  readonly ingress: Permission[];
  readonly egress: Permission[];
  tags: Tags;
}

export interface InternetGateway {
  readonly id: string;
  readonly region: string;
  vpcId?: string;
  readonly isDefault: boolean;
  tags: Tags;
}

export interface RouteTable {
  readonly id: string;
  readonly region: string;
  readonly vpcId: string;
  readonly main: boolean;
  readonly routes: Array<{ destination: string; gatewayId: string }>;
  tags: Tags;
}

export interface MetadataOptions {
  readonly httpTokens: 'optional' | 'required';
  readonly httpEndpoint: 'enabled' | 'disabled';
  readonly hopLimit: number;
  readonly instanceMetadataTags: 'enabled' | 'disabled';
}

/** What a launch template holds (the subset RunInstances/CreateFleet use). */
export interface LaunchTemplateData {
  readonly imageId?: string;
  readonly instanceType?: string;
  readonly userData?: string;
  readonly groupIds?: readonly string[];
  readonly subnetId?: string;
  readonly associatePublicIp?: boolean;
  readonly metadata?: Partial<MetadataOptions>;
  readonly instanceTags?: Tags;
  /** PrivateDnsNameOptions.HostnameType: the guest hostname is `ip-a-b-c-d` (default) or the instance id. */
  readonly hostnameType?: HostnameType;
  /** TagSpecification ResourceType=volume: tags of the volumes made with each instance. */
  readonly volumeTags?: Tags;
  /** BlockDeviceMapping.N with Ebs; without one, the AMI's root device (8 GiB gp3, deleted on termination). */
  readonly blockDevices?: readonly BlockDevice[];
}

/** One EBS volume a launch creates per instance. */
export interface BlockDevice {
  readonly device: string;
  readonly sizeGiB: number;
  readonly volumeType: string;
  readonly deleteOnTermination: boolean;
}

/**
 * An EBS volume. Volumes made with an instance follow it lazily (no timer): attached while it lives; when it is
 * terminated they are gone (DeleteOnTermination) or `available`, detached, until DeleteVolume.
 */
export interface Volume {
  readonly id: string;
  readonly region: string;
  readonly zone: string;
  readonly sizeGiB: number;
  readonly volumeType: string;
  readonly deleteOnTermination: boolean;
  readonly device: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** The instance it was created with and is attached to, until that instance is purged from the store. */
  instanceId?: string;
  /** Set when its instance ended and was purged: the state the volume settled in. */
  settled?: 'available' | 'deleted';
  tags: Tags;
}

export type HostnameType = 'ip-name' | 'resource-name';

export interface LaunchTemplate {
  readonly id: string;
  readonly region: string;
  readonly name: string;
  readonly createdAt: number;
  readonly data: LaunchTemplateData;
  tags: Tags;
}

/** Everything instances launched by one call share; one object per reservation keeps each instance small. */
export interface Launch {
  readonly reservationId: string;
  readonly region: string;
  readonly zone: string;
  readonly vpcId: string;
  readonly subnetId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly groupIds: readonly string[];
  /** Base64 as sent. */
  readonly userData?: string;
  readonly clientToken?: string;
  readonly metadata: MetadataOptions;
  readonly tags: Tags;
  /** Absent = `ip-name` (also for launches saved before the field existed). */
  readonly hostnameType?: HostnameType;
  readonly launchTemplate?: { readonly id: string; readonly version: string };
  readonly fleetId?: string;
  readonly volumeTags?: Tags;
  readonly blockDevices?: readonly BlockDevice[];
  /** The primary interface gets an auto-assigned public address (subnet MapPublicIpOnLaunch or the launch's own). */
  readonly autoPublicIp?: boolean;
}

export interface Ec2Instance {
  readonly id: string;
  /** Creation order, for stable paging. */
  readonly seq: number;
  readonly launch: Launch;
  readonly index: number;
  ip: number;
  publicIp?: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Set by TerminateInstances (or an asynchronous capacity failure): the instance is shutting down from then on. */
  endedAt?: number;
  /** State reason code, e.g. `Client.UserInitiatedShutdown` or `Server.InsufficientInstanceCapacity`. */
  reason?: string;
  /** Local backing: pending until the host VM has started. */
  backingPending?: boolean;
  /** Set by StopInstances: stopping, then stopped once the boot time has passed (and the local VM is off). */
  stoppedAt?: number;
  /** Local backing: stopping until the host VM is off. */
  backingStopping?: boolean;
  /** Set by StartInstances: pending again from then on until the boot time has passed. */
  startedAt?: number;
  tags: Tags;
}

/** Result of a ClientToken-carrying call, replayed when the same token comes again with the same parameters. */
export interface IdempotencyRecord {
  readonly action: string;
  readonly fingerprint: string;
  readonly result: string;
}

/** An instant fleet: kept so DescribeFleets / DeleteFleets can find it and its instances. */
export interface Fleet {
  readonly id: string;
  readonly region: string;
  readonly createdAt: number;
  readonly clientToken?: string;
  readonly total: number;
  readonly instanceIds: readonly string[];
  state: 'active' | 'deleted_terminating';
  tags: Tags;
}

/** An Elastic IP (VPC domain). Its address comes from the same reserved range as auto-assigned public addresses. */
export interface ElasticIp {
  /** The allocation id (`eipalloc-...`): named `id` like every other resource, for lookups and inventory. */
  readonly id: string;
  readonly region: string;
  readonly publicIp: number;
  association?: {
    readonly id: string;
    readonly instanceId: string;
    /** The instance's public address before the association, handed back on disassociation. */
    readonly previousPublicIp?: number;
  };
  tags: Tags;
}
