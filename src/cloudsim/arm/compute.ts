import { createHash } from 'node:crypto';
import {
  type ArmCall,
  type ArmReply,
  groupsInScope,
  isoTime,
  type Json,
  jsonBody,
  obj,
  requireGroup,
  str,
} from './call.js';
import { findSku, normalizeLocation, REGIONS, skuOffered, skuResource, VM_SKUS, ZONES } from './catalog.js';
import { formatIp, parseIp } from './cidr.js';
import {
  bodyLocation,
  checkName,
  checkSameLocation,
  deleteReply,
  page,
  properties,
  putReply,
  rawPage,
  tagsBody,
} from './common.js';
import { createOsDisk, osDiskName, releaseOsDisk } from './disks.js';
import {
  ArmError,
  allocationMessage,
  badRequest,
  conflict,
  invalidParameter,
  requiredProperty,
  resourceNotFound,
} from './errors.js';
import { operationHeaders } from './lro.js';
import { armNetworkKey } from './net-view.js';
import { findSubnet as findSubnetRef } from './network.js';
import { createPlatformNic, findNic, releaseIp } from './nic.js';
import { findPublicIp } from './public-ip.js';
import { parseId, resourceId } from './route.js';
import {
  derivedUuid,
  type NicRecord,
  provisioningState,
  type ResourceGroupRecord,
  type VmRecord,
  type VmssRecord,
} from './store.js';

/** Virtual machines, Flexible scale sets and resource SKUs (Microsoft.Compute). */
const COMPUTE = 'Microsoft.Compute';
export const VM_PAGE_SIZE = 50;
const MAX_CUSTOM_DATA = 65_535;

/** Marketplace images the simulator knows, as `publisher:offer:sku`. */
const IMAGES = new Map<string, string>([
  ['canonical:ubuntu-24_04-lts:server', '24.04.202411030'],
  ['canonical:ubuntu-24_04-lts:server-gen1', '24.04.202411030'],
  ['canonical:ubuntu-24_04-lts:minimal', '24.04.202411030'],
  ['canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2', '22.04.202411010'],
  ['debian:debian-12:12-gen2', '0.20241111.1928'],
]);

const seedOf = (call: ArmCall) => call.context.settings.seed;
const deleteMs = (call: ArmCall) => Math.max(1, Math.round(call.context.settings.bootTimeMs / 2));

function vmResourceId(call: ArmCall, rg: string, name: string): string {
  return resourceId(call.sub, rg, COMPUTE, 'virtualMachines', name);
}

// ---------- rendering ----------

function instanceView(call: ArmCall, vm: VmRecord): Json {
  const state = provisioningState(vm, call.now, vm.backingPending);
  const settling = state === 'Creating' || state === 'Updating';
  const power =
    vm.power === 'deallocated'
      ? settling
        ? 'deallocating'
        : 'deallocated'
      : vm.power === 'stopped'
        ? settling
          ? 'stopping'
          : 'stopped'
        : state === 'Succeeded'
          ? 'running'
          : state === 'Deleting'
            ? 'stopping'
            : state === 'Failed'
              ? 'stopped'
              : 'starting';
  const statuses: Json[] = [
    {
      code: `ProvisioningState/${state.toLowerCase()}`,
      level: state === 'Failed' ? 'Error' : 'Info',
      displayStatus: `Provisioning ${state.toLowerCase()}`,
      ...(state === 'Failed' && vm.failed ? { message: vm.failed.message } : {}),
    },
    { code: `PowerState/${power}`, level: 'Info', displayStatus: `VM ${power}` },
  ];
  return { computerName: vm.computerName, osName: 'ubuntu', osVersion: '24.04', hyperVGeneration: 'V2', statuses };
}

export function vmJson(call: ArmCall, rgName: string, vm: VmRecord, expandView = false): Json {
  const id = vmResourceId(call, rgName, vm.name);
  const [publisher, offer, sku, version] = vm.image.split(':') as [string, string, string, string];
  const diskName = osDiskName(seedOf(call), vm);
  const props: Json = {
    vmId: derivedUuid(seedOf(call), vm.seq),
    hardwareProfile: { vmSize: vm.size },
    storageProfile: {
      imageReference: {
        publisher,
        offer,
        sku,
        version,
        exactVersion: IMAGES.get(`${publisher}:${offer}:${sku}`.toLowerCase()) ?? version,
      },
      osDisk: {
        osType: 'Linux',
        name: diskName,
        createOption: 'FromImage',
        caching: 'ReadWrite',
        managedDisk: {
          storageAccountType:
            call.store.group(call.sub, rgName)?.disks.get(diskName.toLowerCase())?.sku ?? 'Premium_LRS',
          id: resourceId(call.sub, rgName.toUpperCase(), COMPUTE, 'disks', diskName),
        },
        deleteOption: vm.osDiskDelete ? 'Delete' : 'Detach',
        diskSizeGB: 30,
      },
      dataDisks: [],
    },
    osProfile: {
      computerName: vm.computerName,
      adminUsername: vm.adminUsername,
      linuxConfiguration: {
        disablePasswordAuthentication: vm.sshKeys !== undefined,
        ...(vm.sshKeys ? { ssh: { publicKeys: vm.sshKeys } } : {}),
        provisionVMAgent: true,
        patchSettings: { patchMode: 'ImageDefault', assessmentMode: 'ImageDefault' },
      },
      secrets: [],
      allowExtensionOperations: true,
      requireGuestProvisionSignal: true,
    },
    networkProfile: {
      networkInterfaces: vm.nics.map((nic, i) => ({
        id: nic,
        properties: { primary: i === 0, deleteOption: vm.nicDelete ? 'Delete' : 'Detach' },
      })),
    },
    provisioningState: provisioningState(vm, call.now, vm.backingPending),
    timeCreated: isoTime(vm.createdAt),
  };
  if (vm.vmssId) props.virtualMachineScaleSet = { id: vm.vmssId };
  if (expandView) props.instanceView = instanceView(call, vm);
  const out: Json = {
    name: vm.name,
    id,
    type: 'Microsoft.Compute/virtualMachines',
    location: vm.location,
    tags: vm.tags,
  };
  if (vm.zone) out.zones = [vm.zone];
  out.properties = props;
  return out;
}

// ---------- virtual machines ----------

interface VmInput {
  size: string;
  zone?: string;
  nics: NicRecord[];
  nicIds: string[];
  nicDelete: boolean;
  computerName?: string;
  adminUsername?: string;
  customData?: Buffer;
  customDataHash?: string;
  sshKeys?: { path: string; keyData: string }[];
  hasPassword: boolean;
  image?: string;
  osDiskDelete: boolean;
  osDiskSku?: string;
  vmssId?: string;
  /** NIC (and public IP) the VM PUT makes itself: networkProfile.networkInterfaceConfigurations. */
  inlineNic?: InlineNic;
}

interface InlineNic {
  readonly name: string;
  readonly subnet: unknown;
  readonly deleteWithVm: boolean;
  readonly publicIp?: { readonly name: string; readonly sku: 'Basic' | 'Standard'; readonly deleteWithVm: boolean };
}

/**
 * `networkProfile.networkInterfaceConfigurations` (with `networkApiVersion`): the VM PUT creates its NIC, named
 * after the configuration, and the public IP its IP configuration names, in the VM's group; one write for all three.
 */
function readInlineNic(network: Json): InlineNic | undefined {
  const configs = Array.isArray(network.networkInterfaceConfigurations)
    ? (network.networkInterfaceConfigurations as unknown[]).map(obj)
    : [];
  if (configs.length === 0) return undefined;
  if (!str(network.networkApiVersion))
    throw invalidParameter(
      'networkProfile.networkApiVersion',
      "Required parameter 'networkApiVersion' is missing (null): networkInterfaceConfigurations create their NICs through Microsoft.Network.",
    );
  if (configs.length !== 1)
    throw invalidParameter(
      'networkProfile.networkInterfaceConfigurations',
      'cloudsim VMs take exactly one network interface configuration.',
    );
  const config = configs[0]!;
  const name = str(config.name);
  if (!name) throw requiredProperty('networkProfile.networkInterfaceConfigurations.name');
  const props = obj(config.properties);
  const ipConfigs = Array.isArray(props.ipConfigurations) ? (props.ipConfigurations as unknown[]).map(obj) : [];
  const ipProps = obj(obj(ipConfigs[0]).properties);
  const subnet = obj(ipProps.subnet).id;
  if (typeof subnet !== 'string') throw requiredProperty('networkInterfaceConfigurations.ipConfigurations.subnet.id');
  const pip =
    ipProps.publicIPAddressConfiguration === undefined ? undefined : obj(ipProps.publicIPAddressConfiguration);
  const pipName = pip ? str(pip.name) : undefined;
  if (pip && !pipName) throw requiredProperty('publicIPAddressConfiguration.name');
  const sku = pip ? (str(obj(pip.sku).name) ?? 'Standard') : 'Standard';
  if (sku !== 'Standard' && sku !== 'Basic')
    throw invalidParameter(
      'publicIPAddressConfiguration.sku.name',
      `The public IP SKU ${sku} is not valid; use Standard.`,
    );
  return {
    name,
    subnet,
    deleteWithVm: props.deleteOption === 'Delete',
    ...(pip && pipName
      ? { publicIp: { name: pipName, sku, deleteWithVm: obj(pip.properties).deleteOption === 'Delete' } }
      : {}),
  };
}

function parseImage(ref: Json): string {
  const publisher = str(ref.publisher);
  const offer = str(ref.offer);
  const sku = str(ref.sku);
  const version = str(ref.version) ?? 'latest';
  if (str(ref.id) || str(ref.sharedGalleryImageId) || str(ref.communityGalleryImageId)) {
    throw badRequest(
      'InvalidParameter',
      'cloudsim serves marketplace images only (publisher/offer/sku/version).',
      'imageReference',
    );
  }
  if (!publisher || !offer || !sku) throw requiredProperty('storageProfile.imageReference');
  const known = IMAGES.get(`${publisher}:${offer}:${sku}`.toLowerCase());
  if (!known || (version !== 'latest' && version !== known)) {
    throw new ArmError(
      404,
      'PlatformImageNotFound',
      `The platform image '${publisher}:${offer}:${sku}:${version}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile`,
      { target: 'imageReference' },
    );
  }
  return `${publisher}:${offer}:${sku}:${version}`;
}

function decodeCustomData(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  const bad = () =>
    invalidParameter(
      'customData',
      'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.',
    );
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw bad();
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length > MAX_CUSTOM_DATA) throw bad();
  return bytes;
}

function readVmInput(
  call: ArmCall,
  body: Json,
  location: string,
  creating: boolean,
  vmId: string,
  withoutNics = false,
): VmInput {
  const props = properties(body);
  const hardware = obj(props.hardwareProfile);
  const size = str(hardware.vmSize);
  if (!size) throw requiredProperty('hardwareProfile.vmSize');
  const sku = findSku(size);
  if (!sku) {
    throw invalidParameter(
      'vmSize',
      `The value ${size} provided for the VM size is not valid. The valid sizes in the current region are: ${VM_SKUS.filter(
        (s) => skuOffered(s, location),
      )
        .map((s) => s.name)
        .join(',')}.`,
    );
  }
  const zonesRaw = body.zones;
  let zone: string | undefined;
  if (zonesRaw !== undefined && zonesRaw !== null) {
    if (
      !Array.isArray(zonesRaw) ||
      zonesRaw.length > 1 ||
      (zonesRaw.length === 1 && !(ZONES as readonly string[]).includes(String(zonesRaw[0])))
    ) {
      throw invalidParameter(
        'zones',
        `The zones ${JSON.stringify(zonesRaw)} are not valid: give one of ${ZONES.join(', ')} for location '${location}'.`,
      );
    }
    zone = zonesRaw.length === 1 ? String(zonesRaw[0]) : undefined;
  }
  if (!skuOffered(sku, location) || (zone && sku.restrictedZones?.includes(zone))) {
    throw conflict(
      'SkuNotAvailable',
      `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${sku.name}' is currently not available in location '${location}'${zone ? ` zones '${zone}'` : ''}. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.`,
    );
  }
  const storage = obj(props.storageProfile);
  const imageRef = storage.imageReference;
  if (creating && imageRef === undefined) throw requiredProperty('storageProfile.imageReference');
  const image = imageRef === undefined ? undefined : parseImage(obj(imageRef));
  const osDisk = obj(storage.osDisk);
  const os = props.osProfile === undefined ? undefined : obj(props.osProfile);
  if (creating && !os) throw requiredProperty('osProfile');
  const adminUsername = os ? str(os.adminUsername) : undefined;
  if (creating && !adminUsername) throw requiredProperty('osProfile.adminUsername');
  if (
    adminUsername &&
    (adminUsername.length > 64 ||
      ['admin', 'administrator', 'root', 'guest'].includes(adminUsername.toLowerCase()) ||
      !/^[a-z_][a-z0-9_.-]*$/i.test(adminUsername))
  ) {
    throw invalidParameter('adminUsername', `The Admin Username specified is not allowed.`);
  }
  const computerName = os ? str(os.computerName) : undefined;
  if (
    computerName !== undefined &&
    (computerName.length > 64 || !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(computerName))
  ) {
    throw invalidParameter(
      'osProfile.computerName',
      'Linux host name cannot exceed 64 characters in length or contain the following characters: ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : \' " , < > / ?.',
    );
  }
  const linux = obj(os?.linuxConfiguration);
  const keys = Array.isArray(obj(linux.ssh).publicKeys) ? (obj(linux.ssh).publicKeys as unknown[]).map(obj) : [];
  const sshKeys = keys.map((k) => ({
    path: str(k.path) ?? `/home/${adminUsername ?? 'azureuser'}/.ssh/authorized_keys`,
    keyData: str(k.keyData) ?? '',
  }));
  for (const k of sshKeys) {
    if (!/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(k.keyData)) {
      throw invalidParameter(
        'linuxConfiguration.ssh.publicKeys.keyData',
        'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.',
      );
    }
  }
  const hasPassword = typeof os?.adminPassword === 'string';
  if (creating && !hasPassword && sshKeys.length === 0) throw requiredProperty('adminPassword');
  if (creating && linux.disablePasswordAuthentication === true && sshKeys.length === 0) {
    throw invalidParameter(
      'linuxConfiguration',
      'Authentication using either SSH or by user name and password must be enabled in Linux profile.',
    );
  }
  const customData = decodeCustomData(os?.customData);
  const network = obj(props.networkProfile);
  const refs = Array.isArray(network.networkInterfaces) ? (network.networkInterfaces as unknown[]).map(obj) : [];
  const inlineNic = refs.length === 0 ? readInlineNic(network) : undefined;
  if (creating && refs.length === 0 && !inlineNic) throw requiredProperty('networkProfile');
  if (inlineNic && !findSubnetRef(call, inlineNic.subnet))
    throw badRequest(
      'InvalidResourceReference',
      `Resource ${String(inlineNic.subnet)} referenced by resource ${vmId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    );
  const nics: NicRecord[] = [];
  for (const ref of withoutNics ? [] : refs) {
    const nic = findNic(call, ref.id);
    if (!nic)
      throw new ArmError(400, 'InvalidParameter', `Resource ${String(ref.id)} not found.`, {
        target: 'networkProfile.networkInterfaces',
      });
    if (nic.location !== location) {
      throw invalidParameter(
        'networkProfile.networkInterfaces',
        `The network interface ${String(ref.id)} is in location '${nic.location}'; it must be in the VM's location '${location}'.`,
      );
    }
    if (nic.vmId && nic.vmId.toLowerCase() !== vmId.toLowerCase()) {
      throw badRequest(
        'NicInUse',
        `Network Interface ${String(ref.id)} is used by existing resource ${nic.vmId}. In order to use this network interface in a different VM, you need to delete the existing VM or detach the network interface from it.`,
      );
    }
    nics.push(nic);
  }
  const vmssRef = obj(props.virtualMachineScaleSet).id;
  return {
    size: sku.name,
    zone,
    nics,
    nicIds: refs.map((r) => call.store.intern.string(String(r.id))),
    nicDelete: refs.some((r) => obj(r.properties).deleteOption === 'Delete'),
    computerName,
    adminUsername,
    customData,
    customDataHash: customData ? createHash('sha1').update(customData).digest('base64').slice(0, 16) : undefined,
    sshKeys: sshKeys.length ? sshKeys : undefined,
    hasPassword,
    image,
    osDiskDelete: osDisk.deleteOption === 'Delete',
    osDiskSku: str(obj(osDisk.managedDisk).storageAccountType),
    vmssId: typeof vmssRef === 'string' ? vmssRef : undefined,
    ...(inlineNic ? { inlineNic } : {}),
  };
}

function changeNotAllowed(property: string): ArmError {
  return conflict('PropertyChangeNotAllowed', `Changing property '${property}' is not allowed.`, property);
}

/** A PUT on an existing VM may change size and tags; identity, image, user data and zone are immutable. */
function checkImmutable(vm: VmRecord, input: VmInput): void {
  if (input.computerName !== undefined && input.computerName !== vm.computerName)
    throw changeNotAllowed('osProfile.computerName');
  if (input.adminUsername !== undefined && input.adminUsername !== vm.adminUsername)
    throw changeNotAllowed('osProfile.adminUsername');
  if (input.customDataHash !== undefined && input.customDataHash !== vm.customDataHash)
    throw changeNotAllowed('osProfile.customData');
  if (input.image !== undefined && input.image.toLowerCase() !== vm.image.toLowerCase())
    throw changeNotAllowed('imageReference');
  if (input.zone !== vm.zone) throw changeNotAllowed('zones');
  if (
    input.nicIds.length > 0 &&
    input.nicIds.map((n) => n.toLowerCase()).join() !== vm.nics.map((n) => n.toLowerCase()).join()
  ) {
    throw conflict(
      'OperationNotAllowed',
      'Network interfaces of a running VM can only be changed while it is deallocated.',
      'networkProfile',
    );
  }
  if ((input.vmssId ?? '').toLowerCase() !== (vm.vmssId ?? '').toLowerCase() && input.vmssId !== undefined)
    throw changeNotAllowed('virtualMachineScaleSet');
}

function findVmss(call: ArmCall, ref: string, location: string): VmssRecord {
  const id = parseId(ref);
  const rg = id && call.store.group(id.subscription, id.resourceGroup);
  const vmss =
    id && id.rest.length === 2 && id.rest[0]!.toLowerCase() === 'virtualmachinescalesets'
      ? rg?.vmss.get(id.rest[1]!.toLowerCase())
      : undefined;
  if (!vmss || vmss.deleteAt !== undefined)
    throw invalidParameter('virtualMachineScaleSet.id', `The virtual machine scale set ${ref} was not found.`);
  if (vmss.location !== location)
    throw invalidParameter(
      'virtualMachineScaleSet.id',
      `The virtual machine scale set ${ref} is in location '${vmss.location}', not '${location}'.`,
    );
  return vmss;
}

/** Faults configured for the request: quota and sync capacity throw; async capacity marks the VM to fail. */
function allocationFault(
  call: ArmCall,
  location: string,
  size: string,
  zone: string | undefined,
): ArmError | undefined {
  const match = { cloud: 'azure' as const, region: location, zone, instanceType: size };
  const quota = call.context.takeFault({ ...match, kind: 'quota' });
  if (quota) {
    const sku = findSku(size)!;
    throw conflict(
      'OperationNotAllowed',
      `Operation could not be completed as it results in exceeding approved ${sku.family} Cores quota. Additional details - Deployment Model: Resource Manager, Location: ${location}, Current Limit: 10, Current Usage: 10, Additional Required: ${sku.vcpus}, (Minimum) New Limit Required: ${10 + sku.vcpus}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by specifying parameters listed in the ‘Details’ section for deployment to succeed.`,
    );
  }
  const capacity = call.context.takeFault({ ...match, kind: 'capacity' });
  if (!capacity) return undefined;
  const code = zone ? 'ZonalAllocationFailed' : 'AllocationFailed';
  const error = new ArmError(409, code, allocationMessage(zone !== undefined));
  if (capacity.mode === 'sync') throw error;
  return error;
}

export function putVm(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Compute/virtualMachines', 64);
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Compute/virtualMachines');
  const existing = rg.vms.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const id = vmResourceId(call, rg.name, existing?.name ?? name);
  if (existing?.deleteAt !== undefined)
    throw conflict(
      'OperationNotAllowed',
      `Operation 'PUT' is not allowed on VM '${existing.name}' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).`,
    );
  const input = readVmInput(call, body, location, !existing, id);
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const bootMs = call.context.settings.bootTimeMs;

  if (existing) {
    checkImmutable(existing, input);
    const retrying = existing.failed !== undefined && call.now >= existing.readyAt;
    const changed = retrying || input.size !== existing.size || tags !== existing.tags;
    if (changed) {
      const failure = retrying ? allocationFault(call, location, input.size, input.zone) : undefined;
      existing.gen = call.store.nextGen();
      existing.size = input.size;
      existing.tags = tags;
      existing.failed = failure?.body().error;
      existing.updating = !retrying;
      existing.readyAt = call.now + (retrying ? bootMs : Math.min(bootMs, call.networkOpMs * 2));
      call.store.vmsChanged(rg);
    }
    return putReply(call, 'compute', location, 'vm', [existing.name], existing, false, vmJson(call, rg.name, existing));
  }

  if (input.vmssId) findVmss(call, input.vmssId, location);
  const vm = insertVm(
    call,
    rg,
    name,
    location,
    tags,
    input.inlineNic ? createInlineNic(call, rg, location, tags, input) : input,
  );
  return putReply(call, 'compute', location, 'vm', [name], vm, true, vmJson(call, rg.name, vm));
}

/** Makes the NIC (and public IP) of a VM PUT with networkInterfaceConfigurations; returns the input with it. */
function createInlineNic(
  call: ArmCall,
  rg: ResourceGroupRecord,
  location: string,
  tags: VmRecord['tags'],
  input: VmInput,
): VmInput {
  const spec = input.inlineNic!;
  if (rg.nics.has(spec.name.toLowerCase()))
    throw badRequest(
      'NicAlreadyExists',
      `Network interface ${spec.name} of networkInterfaceConfigurations already exists in resource group ${rg.name}.`,
    );
  const nic = createPlatformNic(call, rg, spec.name, location, spec.subnet, tags);
  nic.tags = tags;
  if (spec.publicIp) {
    const pipId = resourceId(call.sub, rg.name, 'Microsoft.Network', 'publicIPAddresses', spec.publicIp.name);
    const existing = rg.publicIps.get(spec.publicIp.name.toLowerCase());
    if (existing?.ipConfigurationId)
      throw badRequest(
        'PublicIPAddressInUse',
        `Public IP address ${pipId} is already in use by ${existing.ipConfigurationId}.`,
      );
    const pip = existing ?? {
      name: spec.publicIp.name,
      location,
      tags,
      sku: spec.publicIp.sku,
      allocation: 'Static' as const,
      ...(input.zone ? { zones: [input.zone] } : {}),
      address: call.store.nextPublicAddress(call.context.settings.network === 'realistic'),
      seq: call.store.nextSeq(),
      gen: call.store.nextGen(),
      readyAt: call.now,
      createdAt: Date.now(),
    };
    rg.publicIps.set(pip.name.toLowerCase(), pip);
    const nicId = resourceId(call.sub, rg.name, 'Microsoft.Network', 'networkInterfaces', nic.name);
    pip.ipConfigurationId = `${nicId}/ipConfigurations/${nic.ipConfigName}`;
    nic.publicIpId = pipId;
    nic.publicIpDelete = spec.publicIp.deleteWithVm;
  }
  const nicId = resourceId(call.sub, rg.name, 'Microsoft.Network', 'networkInterfaces', nic.name);
  return { ...input, nics: [nic], nicIds: [call.store.intern.string(nicId)], nicDelete: spec.deleteWithVm };
}

/** Creates the VM record (allocation faults apply), attaches its NICs and starts its backing. */
function insertVm(
  call: ArmCall,
  rg: ResourceGroupRecord,
  name: string,
  location: string,
  tags: VmRecord['tags'],
  input: VmInput,
  /** The allocation outcome decided for a whole scale-set scale-out; undefined: decided here for this VM. */
  decided?: { readonly failure: ArmError | undefined },
): VmRecord {
  const failure = decided ? decided.failure : allocationFault(call, location, input.size, input.zone);
  const vm: VmRecord = {
    name,
    location: call.store.intern.string(location),
    tags,
    size: call.store.intern.string(input.size),
    zone: input.zone,
    nics: input.nicIds,
    nicDelete: input.nicDelete,
    computerName: input.computerName ?? name,
    adminUsername: call.store.intern.string(input.adminUsername!),
    customDataHash: input.customDataHash,
    sshKeys: input.sshKeys && internKeys(call, input.sshKeys),
    image: call.store.intern.string(input.image!),
    osDiskDelete: input.osDiskDelete,
    vmssId: input.vmssId && call.store.intern.string(input.vmssId),
    seq: call.store.nextSeq(),
    gen: call.store.nextGen(),
    readyAt: call.now + call.context.settings.bootTimeMs,
    createdAt: Date.now(),
    failed: failure?.body().error,
  };
  rg.vms.set(name.toLowerCase(), vm);
  call.store.vmsChanged(rg);
  const id = vmResourceId(call, rg.name, name);
  for (const nic of input.nics) nic.vmId = id;
  createOsDisk(call, rg, vm, id, input.osDiskSku);
  startBacking(call, vm, id, input);
  return vm;
}

/** PATCH (virtualMachines.update): tags and size; other properties as in a PUT must not change. */
export function patchVm(call: ArmCall, name: string): ArmReply {
  const { rg, vm } = findVm(call, name, true);
  if (vm.deleteAt !== undefined)
    throw conflict(
      'OperationNotAllowed',
      `Operation 'PATCH' is not allowed on VM '${vm.name}' since the VM is marked for deletion.`,
    );
  const body = jsonBody(call);
  const props = properties(body);
  const size = str(obj(props.hardwareProfile).vmSize);
  const sku = size === undefined ? undefined : findSku(size);
  if (size !== undefined && (!sku || !skuOffered(sku, vm.location)))
    throw invalidParameter(
      'vmSize',
      `The value ${size} provided for the VM size is not valid in location '${vm.location}'.`,
    );
  const os = obj(props.osProfile);
  if (str(os.adminUsername) !== undefined && os.adminUsername !== vm.adminUsername)
    throw changeNotAllowed('osProfile.adminUsername');
  if (str(os.computerName) !== undefined && os.computerName !== vm.computerName)
    throw changeNotAllowed('osProfile.computerName');
  if (os.customData !== undefined) throw changeNotAllowed('osProfile.customData');
  const tags = body.tags === undefined ? vm.tags : call.store.intern.tagsOf(tagsBody(body));
  if (tags !== vm.tags || (sku && sku.name !== vm.size)) {
    vm.gen = call.store.nextGen();
    vm.tags = tags;
    if (sku) vm.size = call.store.intern.string(sku.name);
    if (call.now >= vm.readyAt) {
      vm.updating = true;
      vm.readyAt = call.now + Math.min(call.context.settings.bootTimeMs, call.networkOpMs * 2);
    }
    call.store.vmsChanged(rg);
  }
  // Compute answers a PATCH with Azure-AsyncOperation only: clients then GET the VM itself when it is done.
  const { location: _monitor, ...headers } =
    putReply(call, 'compute', vm.location, 'vm', [vm.name], vm, false, undefined).headers ?? {};
  return { status: 200, body: vmJson(call, rg.name, vm), headers };
}

const keyCache = new WeakMap<object, Map<string, readonly { path: string; keyData: string }[]>>();

/** Every VM of a cluster carries the same key list: share one array. */
function internKeys(
  call: ArmCall,
  keys: { path: string; keyData: string }[],
): readonly { path: string; keyData: string }[] {
  let cache = keyCache.get(call.store);
  if (!cache) keyCache.set(call.store, (cache = new Map()));
  const key = JSON.stringify(keys);
  let shared = cache.get(key);
  if (!shared) cache.set(key, (shared = Object.freeze(keys.map((k) => Object.freeze({ ...k })))));
  return shared;
}

/** `local` backing: the VM becomes a real local VM running its customData; it is Succeeded once that started. */
function startBacking(call: ArmCall, vm: VmRecord, id: string, input: VmInput): void {
  const backing = call.context.backing;
  if (call.context.settings.backing !== 'local' || !backing || vm.failed) return;
  vm.backingPending = true;
  const nic = input.nics[0];
  backing
    .start({
      cloud: 'azure',
      id,
      name: vm.computerName,
      privateIp: nic ? formatIp(nic.ip) : undefined,
      subnetCidr: nic && findSubnetRef(call, nic.subnetId)?.subnet.addressPrefix,
      userData: input.customData?.toString('utf8') ?? '',
      tags: vm.tags,
      network: nic && armNetworkKey(nic.subnetId),
    })
    .then(
      ({ privateIp }) => {
        vm.backingPending = false;
        // As EC2 and GCE do with a flat backing: the VM's public address is where the host reaches it.
        const pip = nic && findPublicIp(call, nic.publicIpId);
        const ip = parseIp(privateIp);
        if (pip && ip !== undefined && call.context.settings.network !== 'realistic') pip.address = ip;
      },
      (error: Error) => {
        vm.backingPending = false;
        vm.failed = {
          code: 'OSProvisioningClientError',
          message: `OS provisioning failed for VM '${vm.name}': ${error.message}`,
        };
      },
    );
}

/**
 * virtualMachines powerOff / deallocate / start (POST, long-running). powerOff stops the VM and keeps it
 * allocated (its addresses stay); deallocate also releases the hardware and a Dynamic public IP (a Static one
 * stays); start boots it again, a released Dynamic public IP coming back as a new address. With the local
 * backing the VM powers off keeping its disk and boots again from it (per-boot scripts, no customData).
 */
export function powerVm(call: ArmCall, name: string, action: 'powerOff' | 'deallocate' | 'start'): ArmReply {
  const { rg, vm } = findVm(call, name, true);
  const state = provisioningState(vm, call.now, vm.backingPending);
  if (vm.deleteAt !== undefined || state === 'Creating' || vm.failed)
    throw conflict(
      'OperationNotAllowed',
      `Operation '${action}' is not allowed on VM '${vm.name}' since the VM is ${vm.deleteAt !== undefined ? 'marked for deletion' : state === 'Creating' ? 'being created' : 'in a failed state'}.`,
    );
  if (vm.backingPending)
    throw conflict(
      'OperationNotAllowed',
      `Operation '${action}' is not allowed on VM '${vm.name}' since another power operation is in progress.`,
    );
  const id = vmResourceId(call, rg.name, vm.name);
  const backing = call.context.settings.backing === 'local' ? call.context.backing : undefined;
  const nic = vm.nics[0] === undefined ? undefined : findNic(call, vm.nics[0]);
  const pip = nic && findPublicIp(call, nic.publicIpId);
  const was = vm.power ?? 'running';
  vm.gen = call.store.nextGen();
  vm.updating = true;
  const settle = (work: Promise<void> | undefined, onError?: () => void) => {
    if (!work) return;
    vm.backingPending = true;
    work
      .catch(() => onError?.())
      .finally(() => {
        vm.backingPending = false;
        call.store.vmsChanged(rg);
      });
  };
  if (action === 'start') {
    vm.readyAt = call.now + call.context.settings.bootTimeMs;
    if (was !== 'running') {
      vm.power = undefined;
      if (pip?.released) {
        pip.address = call.store.nextPublicAddress(call.context.settings.network === 'realistic');
        pip.released = false;
        pip.gen = call.store.nextGen();
      }
      const subnetCidr = nic && findSubnetRef(call, nic.subnetId)?.subnet.addressPrefix;
      settle(
        subnetCidr
          ? backing?.powerOn?.({ cloud: 'azure', id, subnetCidr, network: armNetworkKey(nic.subnetId) })
          : undefined,
        () => {
          vm.power = 'stopped';
        },
      );
    }
  } else {
    vm.readyAt = call.now + deleteMs(call);
    if (action === 'deallocate' && pip?.allocation === 'Dynamic' && !pip.released) {
      pip.released = true;
      pip.gen = call.store.nextGen();
    }
    vm.power = action === 'deallocate' || was === 'deallocated' ? 'deallocated' : 'stopped';
    if (was === 'running') settle(backing?.powerOff?.({ cloud: 'azure', id }));
  }
  call.store.vmsChanged(rg);
  const ref = { op: 'put', kind: 'vm', rg: rg.name, names: [vm.name], gen: vm.gen, started: Date.now() } as const;
  return { status: 202, headers: operationHeaders(call, 'compute', vm.location, ref, vm.readyAt - call.now) };
}

function findVm(call: ArmCall, name: string, writing = false): { rg: ResourceGroupRecord; vm: VmRecord } {
  const rg = requireGroup(call, writing);
  const vm = rg.vms.get(name.toLowerCase());
  if (!vm) throw resourceNotFound('Microsoft.Compute/virtualMachines', name, rg.name);
  return { rg, vm };
}

export function getVm(call: ArmCall, name: string): ArmReply {
  const { rg, vm } = findVm(call, name);
  const expand = call.request.url.searchParams.get('$expand');
  return { status: 200, body: vmJson(call, rg.name, vm, expand?.toLowerCase() === 'instanceview') };
}

export function getVmInstanceView(call: ArmCall, name: string): ArmReply {
  const { vm } = findVm(call, name);
  return { status: 200, body: instanceView(call, vm) };
}

/** Marks the VM Deleting; it disappears (with its deleteOption=Delete NICs) once the delete time has passed. */
function beginVmDelete(call: ArmCall, rg: ResourceGroupRecord, vm: VmRecord): void {
  if (vm.deleteAt !== undefined) return;
  vm.gen = call.store.nextGen();
  vm.deleteAt = call.now + deleteMs(call);
  const id = vmResourceId(call, rg.name, vm.name);
  const backing = call.context.settings.backing === 'local' ? call.context.backing : undefined;
  call.defer(vm.deleteAt, () => {
    if (rg.vms.get(vm.name.toLowerCase()) !== vm) return;
    rg.vms.delete(vm.name.toLowerCase());
    call.store.vmsChanged(rg);
    for (const nicId of vm.nics) {
      const nic = findNic(call, nicId);
      if (!nic || nic.vmId?.toLowerCase() !== id.toLowerCase()) continue;
      nic.vmId = undefined;
      if (vm.nicDelete) detachAndDeleteNic(call, nicId, nic);
    }
    releaseOsDisk(call, rg, vm);
    if (backing) void backing.stop({ cloud: 'azure', id }).catch(() => undefined);
  });
}

function detachAndDeleteNic(call: ArmCall, nicId: string, nic: NicRecord): void {
  const ref = parseId(nicId);
  const rg = ref && call.store.group(ref.subscription, ref.resourceGroup);
  if (!rg) return;
  rg.nics.delete(nic.name.toLowerCase());
  releaseIp(call.store, nic);
  // A public IP made inline with deleteOption Delete goes with its NIC.
  const pip = nic.publicIpDelete ? parseId(nic.publicIpId ?? '') : undefined;
  if (pip) rg.publicIps.delete(pip.rest[1]!.toLowerCase());
}

export function deleteVm(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const vm = rg.vms.get(name.toLowerCase());
  if (!vm) return { status: 204 };
  beginVmDelete(call, rg, vm);
  return deleteReply(call, 'compute', vm.location, 'vm', [vm.name], vm.gen, vm.deleteAt! - call.now);
}

/**
 * A VM as JSON text. Once a VM has settled (no pending create/update/delete) its JSON only changes with a new
 * generation, so it is cached on the record: list pages are then string joins instead of serializations.
 */
function vmText(call: ArmCall, rgName: string, vm: VmRecord, scope: string): string {
  if (vm.json !== undefined && vm.jsonGen === vm.gen && vm.jsonScope === scope) return vm.json;
  const text = JSON.stringify(vmJson(call, rgName, vm));
  if (vm.deleteAt === undefined && !vm.backingPending && call.now >= vm.readyAt) {
    vm.json = text;
    vm.jsonGen = vm.gen;
    vm.jsonScope = scope;
  }
  return text;
}

/**
 * `$filter` of a group's VM listing: ARM takes only `virtualMachineScaleSet/id eq '<id>'`; `$expand=instanceView`
 * only with it. Returns the lower-cased scale set id, or undefined without a filter.
 */
function scaleSetFilter(call: ArmCall): string | undefined {
  const params = call.request.url.searchParams;
  const filter = params.get('$filter');
  const expand = params.get('$expand');
  if (expand !== null && expand.toLowerCase() !== 'instanceview')
    throw invalidParameter(
      '$expand',
      `The value '${expand}' of $expand is not valid; the allowed value is 'instanceView'.`,
    );
  if (filter === null) {
    if (expand !== null)
      throw invalidParameter('$expand', '$expand=instanceView can only be specified together with a valid $filter.');
    return undefined;
  }
  const m = /^\s*virtualMachineScaleSet\/id\s+eq\s+'([^']+)'\s*$/i.exec(filter);
  if (!m)
    throw invalidParameter(
      '$filter',
      `The $filter '${filter}' is not valid. Allowed value is 'virtualMachineScaleSet/id' eq '/subscriptions/{subId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmssName}'.`,
    );
  return m[1]!.toLowerCase();
}

export function listVms(call: ArmCall): ArmReply {
  if (call.route.resourceGroup) {
    const rg = requireGroup(call, false);
    const scope = `${call.sub}/${rg.name}`;
    const scaleSet = scaleSetFilter(call);
    if (scaleSet !== undefined) {
      const expand = call.request.url.searchParams.get('$expand') !== null;
      const inSet = call.store.listVms(rg).filter((vm) => vm.vmssId?.toLowerCase() === scaleSet);
      return rawPage(
        call,
        inSet,
        (vm) => (expand ? JSON.stringify(vmJson(call, rg.name, vm, true)) : vmText(call, rg.name, vm, scope)),
        VM_PAGE_SIZE,
      );
    }
    return rawPage(call, call.store.listVms(rg), (vm) => vmText(call, rg.name, vm, scope), VM_PAGE_SIZE);
  }
  if (call.request.url.searchParams.get('statusOnly')?.toLowerCase() === 'true') {
    // Run-time status only: each VM's identity and instance view, not its model.
    return rawPage(
      call,
      call.store.listAllVms(call.sub),
      ([rg, vm]) =>
        JSON.stringify({
          name: vm.name,
          id: vmResourceId(call, rg.name, vm.name),
          type: 'Microsoft.Compute/virtualMachines',
          location: vm.location,
          properties: { instanceView: instanceView(call, vm) },
        }),
      VM_PAGE_SIZE,
    );
  }
  return rawPage(
    call,
    call.store.listAllVms(call.sub),
    ([rg, vm]) => vmText(call, rg.name, vm, `${call.sub}/${rg.name}`),
    VM_PAGE_SIZE,
  );
}

// ---------- Flexible scale sets ----------

function vmssId(call: ArmCall, rgName: string, name: string): string {
  return resourceId(call.sub, rgName, COMPUTE, 'virtualMachineScaleSets', name);
}

/** VMs of the group that belong to the scale set and are not being deleted. */
function members(call: ArmCall, rg: ResourceGroupRecord, s: VmssRecord): VmRecord[] {
  const id = vmssId(call, rg.name, s.name).toLowerCase();
  return [...rg.vms.values()].filter((vm) => vm.deleteAt === undefined && vm.vmssId?.toLowerCase() === id);
}

function vmssJson(call: ArmCall, rg: ResourceGroupRecord, s: VmssRecord): Json {
  const out: Json = {
    name: s.name,
    id: vmssId(call, rg.name, s.name),
    type: 'Microsoft.Compute/virtualMachineScaleSets',
    location: s.location,
    tags: s.tags,
  };
  if (s.sku) out.sku = { ...s.sku, capacity: members(call, rg, s).length };
  if (s.zones) out.zones = s.zones;
  const props: Json = {
    orchestrationMode: 'Flexible',
    platformFaultDomainCount: s.faultDomains,
    singlePlacementGroup: s.singlePlacementGroup ?? false,
    provisioningState: provisioningState(s, call.now),
    uniqueId: derivedUuid(seedOf(call), s.seq, 41),
    timeCreated: isoTime(s.createdAt),
  };
  if (s.profile) {
    // customData and passwords are write-only in ARM.
    const { customData: _c, adminPassword: _p, ...os } = obj(s.profile.osProfile);
    props.virtualMachineProfile = { ...s.profile, osProfile: os };
  }
  out.properties = props;
  return out;
}

interface MemberTemplate {
  readonly subnet: unknown;
  body(name: string, zone: string | undefined, vmssRef: string, tags: unknown, computerName: string): Json;
}

/** `config` (a NIC or public IP configuration of the profile) named for one member: `<vm name>-<config name>`. */
function namedFor(vmName: string, config: Json): Json {
  return { ...config, name: `${vmName}-${str(config.name) ?? 'nic'}` };
}

/**
 * How to build a member of a profile-based Flexible scale set: the subnet of its NIC and its VM body. Each member's
 * NIC (and public IP, if the IP configuration has a publicIPAddressConfiguration) is made from the profile's
 * configuration as a VM PUT makes an inline one, named after the member, and goes away with it.
 */
function memberTemplate(profile: Json, size: string | undefined, location: string): MemberTemplate {
  if (!size) throw requiredProperty('sku.name');
  const network = obj(profile.networkProfile);
  const networkApiVersion = str(network.networkApiVersion);
  if (!networkApiVersion) {
    throw invalidParameter(
      'virtualMachineProfile.networkProfile.networkApiVersion',
      "Required parameter 'networkApiVersion' is missing (null): a Flexible scale set with a virtualMachineProfile creates its NICs through Microsoft.Network.",
    );
  }
  const configs = Array.isArray(network.networkInterfaceConfigurations)
    ? (network.networkInterfaceConfigurations as unknown[]).map(obj)
    : [];
  if (configs.length !== 1)
    throw invalidParameter(
      'virtualMachineProfile.networkProfile.networkInterfaceConfigurations',
      'cloudsim scale sets take exactly one network interface configuration.',
    );
  const nicConfig = configs[0]!;
  const nicProps = obj(nicConfig.properties);
  const ipConfigs = Array.isArray(nicProps.ipConfigurations) ? (nicProps.ipConfigurations as unknown[]).map(obj) : [];
  const ipConfig = obj(ipConfigs[0]);
  const ipProps = obj(ipConfig.properties);
  const subnet = obj(ipProps.subnet).id;
  const { computerNamePrefix: prefix, ...os } = obj(profile.osProfile);
  if (typeof prefix !== 'string' || !prefix)
    throw requiredProperty('virtualMachineProfile.osProfile.computerNamePrefix');
  if (prefix.length > 58 || !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(prefix))
    throw invalidParameter(
      'virtualMachineProfile.osProfile.computerNamePrefix',
      `Computer name prefix '${prefix}' is not valid: 1 to 58 letters, digits and hyphens, not starting with a hyphen.`,
    );
  return {
    subnet,
    body: (name, zone, vmssRef, tags, computerName) => {
      const pip = ipProps.publicIPAddressConfiguration;
      const member = namedFor(name, nicConfig);
      // A member's NIC and public IP go with it unless the profile says otherwise, as its OS disk does.
      member.properties = {
        deleteOption: 'Delete',
        ...nicProps,
        ipConfigurations: [
          {
            ...ipConfig,
            properties: {
              ...ipProps,
              ...(pip === undefined
                ? {}
                : {
                    publicIPAddressConfiguration: {
                      ...namedFor(name, obj(pip)),
                      properties: { deleteOption: 'Delete', ...obj(obj(pip).properties) },
                    },
                  }),
            },
          },
        ],
      };
      return {
        location,
        tags,
        ...(zone ? { zones: [zone] } : {}),
        properties: {
          hardwareProfile: { vmSize: size },
          // Members of a Flexible scale set delete their OS disk with them unless the profile says otherwise.
          storageProfile: {
            ...obj(profile.storageProfile),
            osDisk: { deleteOption: 'Delete', ...obj(obj(profile.storageProfile).osDisk) },
          },
          osProfile: { ...os, computerName },
          networkProfile: { networkApiVersion, networkInterfaceConfigurations: [member] },
          ...(profile.diagnosticsProfile === undefined ? {} : { diagnosticsProfile: profile.diagnosticsProfile }),
          virtualMachineScaleSet: { id: vmssRef },
        },
      };
    },
  };
}

/** The allocation outcome of growing `s` to `capacity`: one decision for the whole scale-out (sync faults throw). */
function scaleOutFault(
  call: ArmCall,
  rg: ResourceGroupRecord,
  s: Pick<VmssRecord, 'location' | 'zones' | 'profile' | 'sku'> & Partial<VmssRecord>,
  capacity: number,
): { readonly failure: ArmError | undefined } {
  const current = s.name ? members(call, rg, s as VmssRecord).length : 0;
  if (capacity <= current || !s.sku?.name) return { failure: undefined };
  return { failure: allocationFault(call, s.location, findSku(s.sku.name)?.name ?? s.sku.name, s.zones?.[0]) };
}

/**
 * Scales a profile-based Flexible scale set to `capacity`: new members get a NIC (and public IP) and a VM, computer
 * names unique in the set; scale-in removes the newest. An asynchronous capacity failure fails the scale set's
 * operation and the members it made.
 */
function scaleTo(
  call: ArmCall,
  rg: ResourceGroupRecord,
  s: VmssRecord,
  capacity: number,
  decided: { readonly failure: ArmError | undefined },
): void {
  const current = members(call, rg, s);
  if (current.length > capacity) {
    for (const vm of current.sort((a, b) => b.seq - a.seq).slice(0, current.length - capacity))
      beginVmDelete(call, rg, vm);
    return;
  }
  if (current.length === capacity) return;
  const template = memberTemplate(s.profile!, s.sku?.name, s.location);
  const ref = vmssId(call, rg.name, s.name);
  const prefix = str(obj(s.profile!.osProfile).computerNamePrefix)!;
  const taken = new Set(current.map((vm) => vm.computerName.toLowerCase()));
  for (let i = current.length; i < capacity; i++) {
    let name: string;
    do name = `${s.name}_${derivedUuid(seedOf(call), call.store.nextSeq(), 51).slice(0, 8)}`;
    while (taken.has(`${prefix}${name.slice(-6)}`.toLowerCase()) || rg.vms.has(name.toLowerCase()));
    const computerName = `${prefix}${name.slice(-6)}`;
    taken.add(computerName.toLowerCase());
    const zone = s.zones?.length ? s.zones[i % s.zones.length] : undefined;
    const input = readVmInput(
      call,
      template.body(name, zone, ref, s.tags, computerName),
      s.location,
      true,
      vmResourceId(call, rg.name, name),
    );
    insertVm(call, rg, name, s.location, s.tags, createInlineNic(call, rg, s.location, s.tags, input), decided);
  }
  if (decided.failure) s.failed = decided.failure.body().error;
  s.readyAt = Math.max(s.readyAt, call.now + call.context.settings.bootTimeMs);
}

export function putVmss(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  checkName(name, 'Microsoft.Compute/virtualMachineScaleSets', 64);
  const body = jsonBody(call);
  const location = bodyLocation(body, 'Microsoft.Compute/virtualMachineScaleSets');
  const existing = rg.vmss.get(name.toLowerCase());
  checkSameLocation(existing, location, name, rg.name);
  const props = properties(body);
  const mode = str(props.orchestrationMode) ?? 'Flexible';
  if (mode !== 'Flexible')
    throw invalidParameter('orchestrationMode', `cloudsim simulates Flexible orchestration mode only; got '${mode}'.`);
  const faultDomains = props.platformFaultDomainCount;
  if (faultDomains === undefined) throw requiredProperty('platformFaultDomainCount');
  if (typeof faultDomains !== 'number' || !Number.isInteger(faultDomains) || faultDomains < 1 || faultDomains > 5) {
    throw invalidParameter(
      'platformFaultDomainCount',
      `The value ${String(faultDomains)} of platformFaultDomainCount is not valid; use 1 to 5.`,
    );
  }
  const sku = body.sku === undefined ? undefined : obj(body.sku);
  const capacity = sku?.capacity;
  if (
    capacity !== undefined &&
    (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 0 || capacity > 1000)
  ) {
    throw invalidParameter(
      'sku.capacity',
      `The value ${String(capacity)} of sku.capacity is not valid; a Flexible scale set holds 0 to 1000 VMs.`,
    );
  }
  const profile = props.virtualMachineProfile === undefined ? undefined : obj(props.virtualMachineProfile);
  if (typeof capacity === 'number' && capacity > 0 && !profile && !existing?.profile) {
    throw invalidParameter(
      'sku.capacity',
      'A Flexible scale set without virtualMachineProfile cannot have a capacity; add VMs with properties.virtualMachineScaleSet.id.',
    );
  }
  if (existing?.deleteAt !== undefined)
    throw conflict(
      'OperationNotAllowed',
      `Operation 'PUT' is not allowed on scale set '${existing.name}' since it is marked for deletion.`,
    );
  if (existing && existing.faultDomains !== faultDomains) throw changeNotAllowed('platformFaultDomainCount');
  const zones = Array.isArray(body.zones) ? (body.zones as unknown[]).map(String) : undefined;
  const skuName = str(sku?.name) ?? existing?.sku?.name;
  if (profile) {
    // The whole profile (size, image, OS profile, subnet) is checked before any member is created.
    const template = memberTemplate(profile, skuName, location);
    if (!findSubnetRef(call, template.subnet))
      throw badRequest(
        'InvalidResourceReference',
        `Resource ${String(template.subnet)} referenced by scale set ${name} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    readVmInput(call, template.body(`${name}_check00`, zones?.[0], '', {}, 'check00'), location, true, '', true);
  }
  // Quota and synchronous capacity faults refuse the PUT before anything changes.
  const decided =
    typeof capacity === 'number'
      ? scaleOutFault(call, rg, existing ?? { location, zones, profile, sku: { name: skuName } }, capacity)
      : { failure: undefined };
  const tags = call.store.intern.tagsOf(tagsBody(body));
  const gen = call.store.nextGen();
  let record = existing;
  if (record) {
    Object.assign(record, { gen, tags, updating: true, readyAt: call.now + call.networkOpMs });
    if (profile) record.profile = profile;
    if (sku) record.sku = { name: skuName, tier: str(sku.tier) ?? record.sku?.tier, capacity: 0 };
  } else {
    record = {
      name,
      location,
      tags,
      faultDomains,
      zones,
      singlePlacementGroup: props.singlePlacementGroup === true,
      sku: sku && { name: skuName, tier: str(sku.tier), capacity: 0 },
      profile,
      seq: call.store.nextSeq(),
      gen,
      readyAt: call.now + call.networkOpMs,
      createdAt: Date.now(),
    };
    rg.vmss.set(name.toLowerCase(), record);
  }
  if (record.profile && typeof capacity === 'number') scaleTo(call, rg, record, capacity, decided);
  return putReply(call, 'compute', location, 'vmss', [name], record, !existing, vmssJson(call, rg, record));
}

export function getVmss(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, false);
  const s = rg.vmss.get(name.toLowerCase());
  if (!s) throw resourceNotFound('Microsoft.Compute/virtualMachineScaleSets', name, rg.name);
  return { status: 200, body: vmssJson(call, rg, s) };
}

export function listVmss(call: ArmCall): ArmReply {
  const groups = groupsInScope(call);
  const all = groups.flatMap((rg) => [...rg.vmss.values()].map((s) => [rg, s] as const));
  return page(call, all, ([rg, s]) => vmssJson(call, rg, s), VM_PAGE_SIZE);
}

/** Deleting a Flexible scale set deletes its VMs too. */
export function deleteVmss(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, true);
  const s = rg.vmss.get(name.toLowerCase());
  if (!s) return { status: 204 };
  if (s.deleteAt === undefined) {
    const id = resourceId(call.sub, rg.name, COMPUTE, 'virtualMachineScaleSets', s.name).toLowerCase();
    for (const group of call.store.groups(call.sub).values()) {
      for (const vm of group.vms.values()) if (vm.vmssId?.toLowerCase() === id) beginVmDelete(call, group, vm);
    }
    s.gen = call.store.nextGen();
    s.deleteAt = call.now + deleteMs(call);
    call.defer(s.deleteAt, () => {
      if (rg.vmss.get(s.name.toLowerCase()) === s) rg.vmss.delete(s.name.toLowerCase());
    });
  }
  return deleteReply(call, 'compute', s.location, 'vmss', [s.name], s.gen, s.deleteAt! - call.now);
}

// ---------- resource SKUs ----------

/** `locations/{location}/vmSizes` (virtualMachineSizes.list): the sizes offered in a region. */
export function listVmSizes(_call: ArmCall, location: string): ArmReply {
  const where = normalizeLocation(location);
  if (!REGIONS.includes(where as (typeof REGIONS)[number]))
    throw new ArmError(
      404,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${location}'.`,
    );
  const value = VM_SKUS.filter((s) => skuOffered(s, where)).map((s) => ({
    name: s.name,
    numberOfCores: s.vcpus,
    osDiskSizeInMB: 1_047_552,
    resourceDiskSizeInMB: 0,
    memoryInMB: s.memoryGB * 1024,
    maxDataDiskCount: Math.min(64, s.vcpus * 4),
  }));
  return { status: 200, body: { value } };
}

export function listSkus(call: ArmCall): ArmReply {
  const filter = call.request.url.searchParams.get('$filter') ?? '';
  const match = /location\s+eq\s+'([^']+)'/i.exec(filter);
  const locations = match ? [normalizeLocation(match[1]!)] : [...REGIONS];
  const value: Json[] = [];
  for (const location of locations)
    for (const s of VM_SKUS) if (skuOffered(s, location)) value.push(skuResource(s, location));
  return { status: 200, body: { value } };
}

export { beginVmDelete };
