import { createHash } from 'node:crypto';
import type { VirtualMachine, VirtualMachineScaleSet } from '@azure/arm-compute';
import type { NetworkInterface, PublicIPAddress } from '@azure/arm-network';
import {
  type Instance,
  type InstanceState,
  type LaunchRequest,
  type NodeLaunch,
  tagsFromRecord,
  tagsToRecord,
} from '../../src/providers/types.js';

/** Ubuntu 24.04 LTS, URN `Canonical:ubuntu-24_04-lts:server:latest`. */
export const UBUNTU_2404 = {
  publisher: 'Canonical',
  offer: 'ubuntu-24_04-lts',
  sku: 'server',
  version: 'latest',
} as const;

export interface VmBodyOptions {
  readonly region: string;
  readonly size: string;
  readonly adminUsername: string;
  readonly sshPublicKey: string;
  /** The NIC made before the VM (a node with a fixed private address). */
  readonly nicId: string;
}

/** Microsoft.Network api-version a scale set creates its VMs' NICs and public IPs with. */
const NETWORK_API_VERSION = '2020-11-01';

const osDisk = {
  createOption: 'FromImage',
  deleteOption: 'Delete',
  managedDisk: { storageAccountType: 'StandardSSD_LRS' },
} as const;

function linuxConfiguration(options: Pick<VmBodyOptions, 'adminUsername' | 'sshPublicKey'>) {
  return {
    disablePasswordAuthentication: true,
    ssh: {
      publicKeys: [{ path: `/home/${options.adminUsername}/.ssh/authorized_keys`, keyData: options.sshPublicKey }],
    },
  };
}

/** The VM resource for one node; the NIC and OS disk go away with the VM (deleteOption Delete). */
export function vmBody(request: LaunchRequest, node: NodeLaunch, options: VmBodyOptions): VirtualMachine {
  return {
    location: options.region,
    tags: tagsToRecord(request.tags),
    ...(request.zone ? { zones: [request.zone] } : {}),
    hardwareProfile: { vmSize: options.size },
    storageProfile: { imageReference: { ...UBUNTU_2404 }, osDisk: { ...osDisk } },
    osProfile: {
      computerName: node.name,
      adminUsername: options.adminUsername,
      customData: Buffer.from(request.userData, 'utf8').toString('base64'),
      linuxConfiguration: linuxConfiguration(options),
    },
    networkProfile: { networkInterfaces: [{ id: options.nicId, primary: true, deleteOption: 'Delete' }] },
    // Managed boot diagnostics: the serial log where the node prints its identity (readConsole).
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
  } as VirtualMachine;
}

/** A Flexible scale set holds at most this many VMs (cloud-apis.md). */
export const SCALE_SET_MAX = 1000;

const digestOf = (token: string, part: string) => createHash('sha256').update(`${token}\n${part}`).digest('hex');

/**
 * The scale set of one launch (one part of at most SCALE_SET_MAX nodes): named from its idempotency token, so the
 * same launch PUTs the same scale set again (ARM's idempotency is the resource name) and a zone failover, whose token
 * differs, makes another. `<cluster>-<pool>-<8 hex>`: at most 24 + 20 + 10 characters, and its VMs' names
 * (`<scale set>_<8 hex>`) stay within ARM's 64.
 */
export function scaleSetName(request: Pick<LaunchRequest, 'cluster' | 'pool' | 'idempotencyToken'>, part: number) {
  return `${request.cluster}-${request.pool.name}-${digestOf(request.idempotencyToken, String(part)).slice(0, 8)}`;
}

/**
 * Computer names of the scale set's VMs: Azure appends 6 characters to this prefix, and the VM names its node after
 * its hostname. The letter after the pool's name keeps a node name from ever reading as an ordinal
 * (`<cluster>-<pool>-<n>`), and the batch's 4 hex digits keep two scale sets of a pool from naming two VMs alike.
 */
export function computerNamePrefix(
  request: Pick<LaunchRequest, 'cluster' | 'pool' | 'idempotencyToken'>,
  part: number,
): string {
  return `${request.cluster}-${request.pool.name}-v${digestOf(request.idempotencyToken, `prefix\n${part}`).slice(0, 4)}`;
}

export interface ScaleSetOptions {
  readonly region: string;
  readonly size: string;
  readonly adminUsername: string;
  readonly sshPublicKey: string;
  readonly subnetId: string;
  readonly publicIp: boolean;
  readonly capacity: number;
  readonly computerNamePrefix: string;
}

/**
 * A Flexible scale set of `capacity` VMs for one launch: the same image, user-data and size as `vmBody`, each VM
 * with its own NIC (and Standard public IP) made by the scale set, all deleted with the VM.
 */
export function scaleSetBody(request: LaunchRequest, options: ScaleSetOptions): VirtualMachineScaleSet {
  return {
    location: options.region,
    tags: tagsToRecord(request.tags),
    ...(request.zone ? { zones: [request.zone] } : {}),
    sku: { name: options.size, capacity: options.capacity },
    orchestrationMode: 'Flexible',
    platformFaultDomainCount: 1,
    virtualMachineProfile: {
      storageProfile: { imageReference: { ...UBUNTU_2404 }, osDisk: { ...osDisk } },
      osProfile: {
        computerNamePrefix: options.computerNamePrefix,
        adminUsername: options.adminUsername,
        customData: Buffer.from(request.userData, 'utf8').toString('base64'),
        linuxConfiguration: linuxConfiguration(options),
      },
      networkProfile: {
        networkApiVersion: NETWORK_API_VERSION,
        networkInterfaceConfigurations: [
          {
            name: 'nic',
            primary: true,
            deleteOption: 'Delete',
            ipConfigurations: [
              {
                name: 'ipconfig1',
                primary: true,
                subnet: { id: options.subnetId },
                ...(options.publicIp
                  ? {
                      publicIPAddressConfiguration: {
                        name: 'ip',
                        sku: { name: 'Standard', tier: 'Regional' },
                        deleteOption: 'Delete',
                      },
                    }
                  : {}),
              },
            ],
          },
        ],
      },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    },
  } as VirtualMachineScaleSet;
}

/**
 * The VM with its scale set's tags when it carries no ownership tags of its own: the ownership tags go on the scale
 * set, and nothing here relies on Azure copying them to the VMs it makes.
 */
export function withScaleSetTags(
  vm: VirtualMachine,
  tagsOfSet: (scaleSet: string) => Record<string, string> | undefined,
): VirtualMachine {
  if (tagsFromRecord(vm.tags ?? {})) return vm;
  const set = vm.name ? scaleSetOfVm(vm.name) : undefined;
  const tags = set ? tagsOfSet(set.toLowerCase()) : undefined;
  return tags ? { ...vm, tags } : vm;
}

/** The scale set a VM of a Flexible scale set was made by, from its name (`<scale set>_<8 hex>`). */
export function scaleSetOfVm(vmName: string): string | undefined {
  const m = /^(.+)_[0-9a-f]{8}$/i.exec(vmName);
  return m?.[1];
}

export function stateOf(provisioningState: string | undefined): InstanceState | undefined {
  switch (provisioningState) {
    case 'Succeeded':
      return 'running';
    case 'Creating':
    case 'Updating':
    case 'Migrating':
      return 'pending';
    case 'Deleting':
      return 'stopping';
    default:
      return undefined; // Failed / Canceled: not a usable instance
  }
}

/** Lookups by lower-cased resource id. */
export interface Addresses {
  readonly nics: ReadonlyMap<string, NetworkInterface>;
  readonly publicIps: ReadonlyMap<string, PublicIPAddress>;
}

/**
 * The power state of a VM (`running`, `deallocated`, ...) from its instance view, as `statusOnly` listings carry it:
 * the model's provisioningState stays `Succeeded` while a VM is stopped or deallocated.
 */
export function powerStateOf(vm: VirtualMachine): string | undefined {
  const code = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code;
  return code?.slice('PowerState/'.length).toLowerCase();
}

const POWERED_OFF = new Set(['stopping', 'stopped', 'deallocating', 'deallocated']);

/**
 * VM + its NIC (+ public IP) → the provider-neutral Instance; undefined if not a skypool VM or failed. With its
 * power state known, a powered-off VM whose model has settled is `stopped`.
 */
export function toInstance(vm: VirtualMachine, addresses: Addresses, powerState?: string): Instance | undefined {
  const tags = tagsFromRecord(vm.tags ?? {});
  const modelState = stateOf(vm.provisioningState);
  const state = modelState === 'running' && powerState && POWERED_OFF.has(powerState) ? 'stopped' : modelState;
  if (!tags || !state || !vm.id || !vm.name) return undefined;
  const nicId = vm.networkProfile?.networkInterfaces?.[0]?.id;
  const ipConfig = nicId ? addresses.nics.get(nicId.toLowerCase())?.ipConfigurations?.[0] : undefined;
  const privateIp = ipConfig?.privateIPAddress;
  const pipId = ipConfig?.publicIPAddress?.id;
  const publicIp = pipId ? addresses.publicIps.get(pipId.toLowerCase())?.ipAddress : undefined;
  return {
    id: vm.id,
    name: vm.osProfile?.computerName ?? vm.name,
    provider: 'azure',
    region: vm.location,
    zone: vm.zones?.[0],
    instanceType: vm.hardwareProfile?.vmSize,
    state,
    ...(privateIp ? { privateIp } : {}),
    ...(publicIp ? { publicIp } : {}),
    tags,
    ...(vm.timeCreated ? { launchedAt: new Date(vm.timeCreated).toISOString() } : {}),
  };
}

/** `{ group, name }` of a VM resource id. */
export function parseVmId(id: string): { group: string; name: string } | undefined {
  const m =
    /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(
      id,
    );
  return m ? { group: m[1]!, name: m[2]! } : undefined;
}
