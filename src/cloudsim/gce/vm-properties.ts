import { IMAGES, MACHINE_TYPE_BY_NAME, regionOf } from './catalog.js';
import { invalidField, notFound, required } from './errors.js';
import { usableNetwork, usableSubnet } from './network.js';
import { link, parseRef, refName } from './refs.js';
import type { GceRuntime } from './runtime.js';
import type { SubnetRec, VmProps } from './state.js';
import { int64, ipToInt, objectField, str, validLabels, validMetadata, validName } from './validate.js';

/** Instance / InstanceProperties bodies validated into the props the VMs of one call share. */

export interface Parsed {
  readonly props: VmProps;
  readonly subnet: SubnetRec;
  /** Requested primary internal address (insert only). */
  readonly networkIP?: number;
}

function resolveImage(ref: string, project: string, field: string): string {
  const { project: p, segments } = parseRef(ref, project);
  if (segments[0] === 'global' && segments[1] === 'images') {
    const image =
      segments[2] === 'family'
        ? IMAGES.find((i) => i.project === p && i.family === segments[3])
        : IMAGES.find((i) => i.project === p && i.name === segments[2]);
    if (image) return link(`projects/${image.project}/global/images/${image.name}`);
    throw notFound(`projects/${p}/global/images/${segments.slice(2).join('/')}`);
  }
  throw invalidField(field, ref, 'The URL is malformed.');
}

/** Validates an Instance (insert) or InstanceProperties (bulkInsert, templates) body into shared VM props. */
export function parseProperties(
  rt: GceRuntime,
  project: string,
  zone: string,
  b: Record<string, unknown>,
  prefix: string,
  allowNetworkIp: boolean,
): Parsed {
  const region = regionOf(zone)!.name;
  const mtRef = str(b.machineType);
  if (!mtRef) throw required(`${prefix}.machineType`);
  const mtName = refName(mtRef, project, 'machineTypes')?.name ?? '';
  if (!MACHINE_TYPE_BY_NAME.has(mtName))
    throw invalidField(
      `${prefix}.machineType`,
      mtRef,
      `Machine type with name '${mtName || mtRef}' does not exist in zone '${zone}'.`,
    );

  const labels = validLabels(`${prefix}.labels`, b.labels);
  const metadata = validMetadata(`${prefix}.metadata`, b.metadata);
  const tagItems = (b.tags as { items?: unknown } | undefined)?.items;
  if (tagItems !== undefined && tagItems !== null && !Array.isArray(tagItems))
    throw invalidField(`${prefix}.tags.items`, tagItems, 'Must be a list.');
  const tags = ((tagItems as unknown[] | undefined) ?? []).map((t, i) => validName(`${prefix}.tags.items[${i}]`, t));

  const nics = b.networkInterfaces;
  if (!Array.isArray(nics) || nics.length === 0)
    throw invalidField(`${prefix}.networkInterfaces`, '', 'At least one network interface must be specified.');
  const nic = objectField(nics[0], `${prefix}.networkInterfaces[0]`);
  let subnet: SubnetRec;
  if (str(nic.subnetwork)) {
    subnet = usableSubnet(rt, project, region, str(nic.subnetwork), `${prefix}.networkInterfaces[0].subnetwork`);
    if (str(nic.network)) {
      const network = usableNetwork(rt, project, nic.network, `${prefix}.networkInterfaces[0].network`);
      if (network.name !== subnet.network)
        throw invalidField(
          `${prefix}.networkInterfaces[0].subnetwork`,
          str(nic.subnetwork),
          `Subnetwork does not belong to network '${network.name}'.`,
        );
    }
  } else {
    const network = usableNetwork(
      rt,
      project,
      str(nic.network) || 'global/networks/default',
      `${prefix}.networkInterfaces[0].network`,
    );
    if (!network.autoCreateSubnetworks)
      throw invalidField(
        `${prefix}.networkInterfaces[0].subnetwork`,
        '',
        'Subnetwork should be specified for custom subnetmode network',
      );
    subnet = usableSubnet(
      rt,
      project,
      region,
      `regions/${region}/subnetworks/${network.name}`,
      `${prefix}.networkInterfaces[0].subnetwork`,
    );
  }
  let networkIP: number | undefined;
  if (nic.networkIP !== undefined && nic.networkIP !== null && nic.networkIP !== '') {
    if (!allowNetworkIp)
      throw invalidField(
        `${prefix}.networkInterfaces[0].networkIP`,
        nic.networkIP,
        'A fixed internal IP cannot be set for several instances.',
      );
    networkIP = ipToInt(str(nic.networkIP));
    if (networkIP === undefined)
      throw invalidField(`${prefix}.networkInterfaces[0].networkIP`, nic.networkIP, 'Invalid IPv4 address.');
    if (networkIP < subnet.base || networkIP >= subnet.base + subnet.size) {
      throw invalidField(
        `${prefix}.networkInterfaces[0].networkIP`,
        nic.networkIP,
        `Requested internal IP is outside the subnetwork CIDR range ${subnet.cidr}.`,
      );
    }
  }
  const access = nic.accessConfigs;
  const externalIp =
    Array.isArray(access) &&
    access.some((a) => str((a as { type?: unknown } | null)?.type || 'ONE_TO_ONE_NAT') === 'ONE_TO_ONE_NAT');

  const disks = b.disks;
  if (!Array.isArray(disks) || disks.length === 0)
    throw invalidField(`${prefix}.disks`, '', 'At least one disk must be specified.');
  const boots = disks.filter((d) => (d as { boot?: unknown } | null)?.boot === true);
  if (boots.length !== 1) throw invalidField(`${prefix}.disks`, '', 'Exactly one boot disk must be specified.');
  const boot = boots[0] as {
    initializeParams?: { sourceImage?: unknown; diskSizeGb?: unknown; labels?: unknown };
    source?: unknown;
    autoDelete?: unknown;
  };
  const sourceImageRef = str(boot.initializeParams?.sourceImage);
  if (!sourceImageRef) {
    if (str(boot.source)) throw notFound(parseRef(str(boot.source), project).segments.join('/'));
    throw required(`${prefix}.disks[0].initializeParams.sourceImage`);
  }
  const sourceImage = resolveImage(sourceImageRef, project, `${prefix}.disks[0].initializeParams.sourceImage`);
  const size = int64(`${prefix}.disks[0].initializeParams.diskSizeGb`, boot.initializeParams?.diskSizeGb, 10)!;
  if (size < 10)
    throw invalidField(
      `${prefix}.disks[0].initializeParams.diskSizeGb`,
      String(size),
      'Requested disk size cannot be smaller than the image size (10 GB)',
    );

  return {
    subnet,
    networkIP,
    props: {
      project,
      zone,
      machineType: mtName,
      labels,
      metadata,
      tags,
      network: subnet.network,
      subnetRegion: subnet.region,
      subnet: subnet.name,
      externalIp,
      sourceImage,
      diskSizeGb: String(size),
      description: str(b.description),
      canIpForward: b.canIpForward === true,
      bootAutoDelete: boot.autoDelete === true,
      diskLabels: diskLabelsOf(boot.initializeParams?.labels),
    },
  };
}

/** Merges a template's properties under the request's own (request fields win). */
export function withTemplate(
  rt: GceRuntime,
  project: string,
  ref: string | undefined,
  own: Record<string, unknown>,
): Record<string, unknown> {
  if (!ref) return own;
  const parsed = refName(ref, project, 'instanceTemplates');
  if (!parsed) throw invalidField('sourceInstanceTemplate', ref, 'The URL is malformed.');
  const template = rt.state.templates.get(`${parsed.project}/${parsed.name}`);
  if (!template) throw notFound(`projects/${parsed.project}/global/instanceTemplates/${parsed.name}`);
  return {
    ...template.properties,
    ...Object.fromEntries(
      Object.entries(own).filter(
        ([, v]) => v !== undefined && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0),
      ),
    ),
  };
}

/** `initializeParams.labels` of the boot disk: string values only, as the API keeps them. */
function diskLabelsOf(raw: unknown): Readonly<Record<string, string>> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const entries = Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v ?? '')] as const);
  return entries.length ? Object.fromEntries(entries) : undefined;
}
