/**
 * The bundled price catalog: on-demand list prices in USD per hour (Linux, no discounts, no disks or traffic) for the
 * instance types skypool can pick on AWS, Compute Engine and Azure, in the regions it knows. Like SkyPilot's
 * catalogs it is a dated snapshot shipped with the package: prices change, so every figure shown to a user carries
 * the catalog's date.
 *
 * Reference-region prices are the providers' published list prices. Other regions apply the published regional
 * premium of that region to the reference price, rounded to 0.0001 USD. The snapshot was compiled offline from the
 * public price pages; refresh it by editing this file (and its date) when the providers change their prices.
 */

/** Shape of one instance type: what a pool's `size` is compared with. */
export interface TypeShape {
  /** The cloud's name of the type, e.g. `t3.medium`, `e2-standard-2`, `Standard_D2s_v5`. */
  readonly name: string;
  /** vCPUs the guest sees. */
  readonly cpus: number;
  /** Memory in GiB. */
  readonly memoryGiB: number;
}

/** One cloud's part of the catalog. */
export interface CloudPrices {
  /** Region whose prices `hourlyUsd` holds as published. */
  readonly referenceRegion: string;
  /** Types skypool may pick when a pool gives `size`, with their reference-region hourly price. */
  readonly types: readonly (TypeShape & { readonly hourlyUsd: number })[];
  /** Price of a region relative to the reference region (1 = same price). A region not listed has no price. */
  readonly regionFactors: Readonly<Record<string, number>>;
}

/** The catalog: its date, where its figures come from, and the prices of each cloud. */
export interface PriceCatalog {
  /** Day the prices were taken (ISO date); every price shown says "list price as of" this date. */
  readonly date: string;
  /** Where the figures come from. */
  readonly source: string;
  readonly currency: 'USD';
  readonly clouds: {
    readonly aws: CloudPrices;
    readonly gcp: CloudPrices;
    readonly azure: CloudPrices;
  };
}

const family = (
  prefix: string,
  sizes: readonly [suffix: string, cpus: number, memoryGiB: number, hourlyUsd: number][],
): CloudPrices['types'] =>
  sizes.map(([suffix, cpus, memoryGiB, hourlyUsd]) => ({ name: `${prefix}${suffix}`, cpus, memoryGiB, hourlyUsd }));

/** GCE families are priced per vCPU count in steps: `perTwo` is the price of the 2-vCPU shape. */
const gceFamily = (prefix: string, memPerCpu: number, perCpu: number, cpus: readonly number[]): CloudPrices['types'] =>
  cpus.map((n) => ({
    name: `${prefix}-${n}`,
    cpus: n,
    memoryGiB: n * memPerCpu,
    hourlyUsd: Math.round(perCpu * n * 1e5) / 1e5,
  }));

/** The catalog as of December 2026 (list prices; see the module comment for how regional prices are derived). */
export const PRICE_CATALOG_2026_12: PriceCatalog = {
  date: '2026-12-01',
  source:
    'AWS EC2 On-Demand pricing (Linux), Google Compute Engine VM instance pricing, Azure Linux Virtual Machines pricing (pay as you go)',
  currency: 'USD',
  clouds: {
    aws: {
      referenceRegion: 'us-east-1',
      types: [
        ...family('t3.', [
          ['nano', 2, 0.5, 0.0052],
          ['micro', 2, 1, 0.0104],
          ['small', 2, 2, 0.0208],
          ['medium', 2, 4, 0.0416],
          ['large', 2, 8, 0.0832],
          ['xlarge', 4, 16, 0.1664],
          ['2xlarge', 8, 32, 0.3328],
        ]),
        ...family('m5.', [
          ['large', 2, 8, 0.096],
          ['xlarge', 4, 16, 0.192],
          ['2xlarge', 8, 32, 0.384],
          ['4xlarge', 16, 64, 0.768],
        ]),
        ...family('m6i.', [
          ['large', 2, 8, 0.096],
          ['xlarge', 4, 16, 0.192],
          ['2xlarge', 8, 32, 0.384],
          ['4xlarge', 16, 64, 0.768],
          ['8xlarge', 32, 128, 1.536],
          ['12xlarge', 48, 192, 2.304],
          ['16xlarge', 64, 256, 3.072],
          ['24xlarge', 96, 384, 4.608],
          ['32xlarge', 128, 512, 6.144],
        ]),
        ...family('c5.', [
          ['large', 2, 4, 0.085],
          ['xlarge', 4, 8, 0.17],
          ['2xlarge', 8, 16, 0.34],
        ]),
        ...family('r5.', [
          ['large', 2, 16, 0.126],
          ['xlarge', 4, 32, 0.252],
        ]),
      ],
      regionFactors: {
        'us-east-1': 1,
        'us-east-2': 1,
        'us-west-2': 1,
        'eu-west-1': 1.1,
        'eu-central-1': 1.15,
        'ap-southeast-1': 1.25,
      },
    },
    gcp: {
      referenceRegion: 'us-central1',
      types: [
        ...family('e2-', [
          ['micro', 2, 1, 0.00838],
          ['small', 2, 2, 0.01675],
          ['medium', 2, 4, 0.03351],
        ]),
        ...gceFamily('e2-standard', 4, 0.033505, [2, 4, 8, 16, 32]),
        ...gceFamily('e2-highcpu', 1, 0.024735, [2, 4, 8, 16, 32]),
        ...gceFamily('e2-highmem', 8, 0.0452, [2, 4, 8, 16]),
        ...gceFamily('n2-standard', 4, 0.048559, [2, 4, 8, 16, 32, 48, 64, 80, 96, 128]),
        ...gceFamily('n2-highmem', 8, 0.065507, [2, 4, 8, 16, 32, 48, 64, 80, 96, 128]),
        ...gceFamily('c3-standard', 4, 0.050402, [4, 8, 22, 44, 88, 176]),
      ],
      regionFactors: {
        'us-central1': 1,
        'us-east1': 1,
        'europe-west1': 1.1,
        'europe-west4': 1.1,
        'asia-northeast1': 1.29,
      },
    },
    azure: {
      referenceRegion: 'eastus',
      types: [
        ...family('Standard_', [
          ['B1s', 1, 1, 0.0104],
          ['B2s', 2, 4, 0.0416],
          ['B2ms', 2, 8, 0.0832],
          ['B4ms', 4, 16, 0.166],
          ['F2s_v2', 2, 4, 0.0846],
          ['F4s_v2', 4, 8, 0.169],
          ['F8s_v2', 8, 16, 0.338],
          ['D2s_v5', 2, 8, 0.096],
          ['D4s_v5', 4, 16, 0.192],
          ['D8s_v5', 8, 32, 0.384],
          ['D16s_v5', 16, 64, 0.768],
          ['D32s_v5', 32, 128, 1.536],
          ['E2s_v5', 2, 16, 0.126],
          ['E4s_v5', 4, 32, 0.252],
          ['E8s_v5', 8, 64, 0.504],
        ]),
      ],
      regionFactors: {
        eastus: 1,
        eastus2: 1,
        centralus: 1.05,
        westus2: 1,
        westus3: 1,
        northeurope: 1.1,
        westeurope: 1.15,
        uksouth: 1.15,
        southeastasia: 1.2,
        japaneast: 1.3,
      },
    },
  },
};
