import type { VirtualMachine } from '@azure/arm-compute';
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
  /** A NIC made before (a node with a fixed private address) ... */
  readonly nicId?: string;
  /** ... else the NIC (and public IP) the VM PUT makes itself, named so: one write for the three resources. */
  readonly inlineNic?: { readonly name: string; readonly subnetId: string; readonly publicIpName?: string };
}

/** Microsoft.Network api-version the VM PUT creates an inline NIC and public IP with. */
const NETWORK_API_VERSION = '2020-11-01';

function networkProfile(options: VmBodyOptions): VirtualMachine['networkProfile'] {
  if (options.nicId) return { networkInterfaces: [{ id: options.nicId, primary: true, deleteOption: 'Delete' }] };
  const nic = options.inlineNic!;
  return {
    networkApiVersion: NETWORK_API_VERSION,
    networkInterfaceConfigurations: [
      {
        name: nic.name,
        primary: true,
        deleteOption: 'Delete',
        ipConfigurations: [
          {
            name: 'ipconfig1',
            primary: true,
            subnet: { id: nic.subnetId },
            ...(nic.publicIpName
              ? {
                  publicIPAddressConfiguration: {
                    name: nic.publicIpName,
                    sku: { name: 'Standard', tier: 'Regional' },
                    deleteOption: 'Delete',
                    publicIPAllocationMethod: 'Static',
                  },
                }
              : {}),
          },
        ],
      },
    ],
  } as VirtualMachine['networkProfile'];
}

/** The VM resource for one node; the NIC and OS disk go away with the VM (deleteOption Delete). */
export function vmBody(request: LaunchRequest, node: NodeLaunch, options: VmBodyOptions): VirtualMachine {
  return {
    location: options.region,
    tags: tagsToRecord(request.tags),
    ...(request.zone ? { zones: [request.zone] } : {}),
    hardwareProfile: { vmSize: options.size },
    storageProfile: {
      imageReference: { ...UBUNTU_2404 },
      osDisk: {
        createOption: 'FromImage',
        deleteOption: 'Delete',
        managedDisk: { storageAccountType: 'StandardSSD_LRS' },
      },
    },
    osProfile: {
      computerName: node.name,
      adminUsername: options.adminUsername,
      customData: Buffer.from(request.userData, 'utf8').toString('base64'),
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: {
          publicKeys: [{ path: `/home/${options.adminUsername}/.ssh/authorized_keys`, keyData: options.sshPublicKey }],
        },
      },
    },
    networkProfile: networkProfile(options),
    // Managed boot diagnostics: the serial log where the node prints its identity (readConsole).
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
  } as VirtualMachine;
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
