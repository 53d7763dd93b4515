import { vpcCidr } from '../../providers/aws/index.js';
import { defaultSubnetCidr } from '../../providers/gcp/naming.js';

/**
 * A flat cloudsim with the local backing puts each simulated network on this host as a bridge and its route, and
 * jest runs two suites at once: two suites whose clouds hand out one range collide ("overlaps the host route").
 * So each such suite owns a slot, and every private range it uses has its second octet ≡ slot (mod 8): its EC2 VPC
 * (10.N.0.0/16, N from the cluster name), its GCE subnet and its Azure address space. The second octets of the
 * fixed GCE and Azure ranges, and the local provider's own 10.213, are never a VPC.
 */
export const FLAT_SIM_SLOTS = {
  console: 0,
  'local-backing': 1,
  migrate: 2,
  'slurm-migrate': 3,
  'chaos-engine': 4,
} as const;
export type FlatSimSuite = keyof typeof FLAT_SIM_SLOTS;

const LOCAL_PROVIDER_OCTET = 213;
const secondOctet = (cidr: string): number => Number(cidr.split('.')[1]);
const fixedOctet = (octet: number): boolean =>
  (octet >= 128 && octet < 136) || (octet >= 240 && octet < 248) || octet === LOCAL_PROVIDER_OCTET;

export interface FlatSimRanges {
  /** The GCE subnet to give the gcp adapter (`subnetCidr`) in us-central1. */
  readonly gceSubnet: string;
  /** The Azure virtual network's address space (`addressSpace`). */
  readonly azureSpace: string;
  /**
   * A fresh cluster name (`prefix` + random) whose EC2 VPC is in the slot and not another name's of this suite; with
   * `gceDefault`, the GCE subnet skypool derives from the name when no `subnetCidr` is set (a CLI run) is too.
   */
  clusterName(prefix: string, options?: { gceDefault?: boolean }): string;
}

export function flatSimRanges(suite: FlatSimSuite): FlatSimRanges {
  const slot = FLAT_SIM_SLOTS[suite];
  // Names made by one suite (the chaos trials make several) never share a range either.
  const taken = new Set<number>();
  const inSlot = (octet: number) => octet % 8 === slot && !fixedOctet(octet) && !taken.has(octet);
  return {
    gceSubnet: `10.${128 + slot}.0.0/20`,
    azureSpace: `10.${240 + slot}.0.0/16`,
    clusterName(prefix, options = {}) {
      for (;;) {
        const name = `${prefix}${process.pid % 1000}${Math.random().toString(36).slice(2, 6)}`;
        const vpc = secondOctet(vpcCidr(name));
        if (!inSlot(vpc)) continue;
        const gce = secondOctet(defaultSubnetCidr(name, 'us-central1'));
        if (options.gceDefault && (!inSlot(gce) || gce === vpc)) continue;
        taken.add(vpc);
        if (options.gceDefault) taken.add(gce);
        return name;
      }
    },
  };
}
