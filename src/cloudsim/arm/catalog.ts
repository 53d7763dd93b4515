/** Regions, zones and VM sizes the simulated Azure offers (a small, real subset). */
export const REGIONS = [
  'eastus',
  'eastus2',
  'centralus',
  'westus2',
  'westus3',
  'northeurope',
  'westeurope',
  'uksouth',
  'southeastasia',
  'japaneast',
] as const;
export const ZONES = ['1', '2', '3'] as const;

export interface VmSku {
  readonly name: string;
  readonly family: string;
  readonly vcpus: number;
  readonly memoryGB: number;
  /** Zones of every region where the size is restricted (NotAvailableForSubscription). */
  readonly restrictedZones?: readonly string[];
  /** Regions where the size is not offered at all; undefined = offered everywhere. */
  readonly onlyIn?: readonly string[];
}

const sku = (name: string, family: string, vcpus: number, memoryGB: number, extra: Partial<VmSku> = {}): VmSku => ({
  name,
  family,
  vcpus,
  memoryGB,
  ...extra,
});

export const VM_SKUS: readonly VmSku[] = [
  sku('Standard_B1s', 'standardBSFamily', 1, 1),
  sku('Standard_B2s', 'standardBSFamily', 2, 4),
  sku('Standard_B2ms', 'standardBSFamily', 2, 8),
  sku('Standard_B4ms', 'standardBSFamily', 4, 16),
  sku('Standard_F2s_v2', 'standardFSv2Family', 2, 4),
  sku('Standard_F4s_v2', 'standardFSv2Family', 4, 8),
  sku('Standard_F8s_v2', 'standardFSv2Family', 8, 16, { restrictedZones: ['3'] }),
  sku('Standard_D2s_v5', 'standardDSv5Family', 2, 8),
  sku('Standard_D4s_v5', 'standardDSv5Family', 4, 16),
  sku('Standard_D8s_v5', 'standardDSv5Family', 8, 32),
  sku('Standard_D16s_v5', 'standardDSv5Family', 16, 64),
  sku('Standard_D32s_v5', 'standardDSv5Family', 32, 128),
  sku('Standard_E2s_v5', 'standardESv5Family', 2, 16),
  sku('Standard_E4s_v5', 'standardESv5Family', 4, 32),
  sku('Standard_E8s_v5', 'standardESv5Family', 8, 64),
  sku('Standard_NC6s_v3', 'standardNCSv3Family', 6, 112, { onlyIn: ['westus2', 'westeurope'] }),
];

const byName = new Map(VM_SKUS.map((s) => [s.name.toLowerCase(), s]));

export function findSku(name: string): VmSku | undefined {
  return byName.get(name.toLowerCase());
}

export function isRegion(location: string): boolean {
  return (REGIONS as readonly string[]).includes(location);
}

/** ARM accepts display names ("East US") and is case-insensitive about locations. */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

export function skuOffered(s: VmSku, location: string): boolean {
  return !s.onlyIn || s.onlyIn.includes(location);
}

/** The wire shape of one `Microsoft.Compute/skus` entry (one per size and location, as ARM lists them). */
export function skuResource(s: VmSku, location: string): Record<string, unknown> {
  const size = s.name.replace(/^Standard_/, '');
  const zones = [...ZONES];
  return {
    resourceType: 'virtualMachines',
    name: s.name,
    tier: 'Standard',
    size,
    family: s.family,
    locations: [location],
    locationInfo: [{ location, zones, zoneDetails: [] }],
    capabilities: [
      { name: 'vCPUs', value: String(s.vcpus) },
      { name: 'vCPUsAvailable', value: String(s.vcpus) },
      { name: 'MemoryGB', value: String(s.memoryGB) },
      { name: 'MaxDataDiskCount', value: String(Math.min(64, s.vcpus * 4)) },
      { name: 'HyperVGenerations', value: 'V1,V2' },
      { name: 'CpuArchitectureType', value: 'x64' },
      { name: 'PremiumIO', value: 'True' },
      { name: 'AcceleratedNetworkingEnabled', value: String(s.vcpus >= 2) },
      { name: 'LowPriorityCapable', value: 'True' },
    ],
    restrictions: s.restrictedZones
      ? [
          {
            type: 'Zone',
            values: [location],
            restrictionInfo: { locations: [location], zones: [...s.restrictedZones] },
            reasonCode: 'NotAvailableForSubscription',
          },
        ]
      : [],
  };
}
