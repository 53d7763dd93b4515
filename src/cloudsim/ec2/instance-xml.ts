import { ACCOUNT_ID, instanceType } from './catalog.js';
import { formatIp } from './cidr.js';
import type { Ec2Instance, Launch } from './model.js';
import type { Ec2Store, InstanceState } from './store.js';
import type { Tags } from './tags.js';
import { escapeXml, RawXml } from './xml.js';

/**
 * An instance's `<item>` content as one string. DescribeInstances pages are the simulator's hot path (the
 * benchmark lists 10,000 VMs), so the parts instances of one launch share are rendered once per launch, and
 * tag sets once per (shared) tag list.
 */

interface LaunchXml {
  readonly image: string;
  readonly placement: string;
  readonly network: string;
  readonly groups: string;
  readonly tail: string;
  readonly metadataPending: string;
  readonly metadataApplied: string;
  readonly launchTime: string;
  readonly launchTimeMs: number;
}

const launchCache = new WeakMap<Launch, LaunchXml>();
const tagCache = new WeakMap<Tags, string>();

function launchXml(store: Ec2Store, l: Launch, createdAt: number): LaunchXml {
  let cached = launchCache.get(l);
  if (cached) return cached;
  const groups = l.groupIds
    .map(
      (id) =>
        `<item><groupId>${id}</groupId><groupName>${escapeXml(store.groups.get(id)?.name ?? id)}</groupName></item>`,
    )
    .join('');
  const metadata = (state: string) =>
    `<metadataOptions><state>${state}</state><httpTokens>${l.metadata.httpTokens}</httpTokens><httpPutResponseHopLimit>${l.metadata.hopLimit}</httpPutResponseHopLimit>` +
    `<httpEndpoint>${l.metadata.httpEndpoint}</httpEndpoint><httpProtocolIpv6>disabled</httpProtocolIpv6><instanceMetadataTags>${l.metadata.instanceMetadataTags}</instanceMetadataTags></metadataOptions>`;
  cached = {
    image: `<imageId>${l.imageId}</imageId>`,
    placement: `<instanceType>${l.instanceType}</instanceType>`,
    network: `<subnetId>${l.subnetId}</subnetId><vpcId>${l.vpcId}</vpcId>`,
    groups,
    tail:
      `<architecture>${instanceType(l.instanceType)?.arch ?? 'x86_64'}</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/sda1</rootDeviceName>` +
      `<blockDeviceMapping/><virtualizationType>hvm</virtualizationType><clientToken>${escapeXml(l.clientToken ?? '')}</clientToken>`,
    metadataPending: metadata('pending'),
    metadataApplied: metadata('applied'),
    launchTime: new Date(createdAt).toISOString(),
    launchTimeMs: createdAt,
  };
  launchCache.set(l, cached);
  return cached;
}

function tagsXml(tags: Tags): string {
  if (tags.length === 0) return '';
  let cached = tagCache.get(tags);
  if (cached === undefined) {
    cached = `<tagSet>${tags.map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`).join('')}</tagSet>`;
    tagCache.set(tags, cached);
  }
  return cached;
}

const dashed = (ip: string) => ip.replace(/\./g, '-');

/** What an instance's rendering depends on besides its immutable fields and launch, and the bytes rendered from it. */
interface Rendered {
  readonly state: InstanceState;
  readonly tags: Tags;
  readonly ip: number;
  readonly publicIp: number | undefined;
  readonly endedAt: number | undefined;
  readonly reason: string | undefined;
  readonly xml: RawXml;
}

// Kept aside (not on the instance) so snapshots stay plain data; only instances someone listed pay for it
// (one flat string, about 2.7 KB: pre-encoded Buffers cost more, as small ones share 8 KB pool slabs by two).
const rendered = new WeakMap<Ec2Instance, Rendered>();

/**
 * `renderInstanceXml`, reused until anything the rendering reads changes. State is derived from the clock, so it
 * is part of the key: a pending→running transition renders again without any timer.
 */
export function instanceXml(store: Ec2Store, i: Ec2Instance, state: InstanceState): RawXml {
  const r = rendered.get(i);
  if (
    r &&
    r.state === state &&
    r.tags === i.tags &&
    r.ip === i.ip &&
    r.publicIp === i.publicIp &&
    r.endedAt === i.endedAt &&
    r.reason === i.reason
  )
    return r.xml;
  const xml = RawXml.measured(renderInstanceXml(store, i, state));
  rendered.set(i, { state, tags: i.tags, ip: i.ip, publicIp: i.publicIp, endedAt: i.endedAt, reason: i.reason, xml });
  return xml;
}

/** Renders without the cache (exported so tests can compare the two). */
export function renderInstanceXml(store: Ec2Store, i: Ec2Instance, state: InstanceState): string {
  const l = i.launch;
  const lx = launchXml(store, l, i.createdAt);
  const gone = state.name === 'terminated';
  const ip = gone ? undefined : formatIp(i.ip);
  const publicIp = i.publicIp !== undefined && state.name === 'running' ? formatIp(i.publicIp) : undefined;
  const domain = l.region === 'us-east-1' ? 'ec2.internal' : `${l.region}.compute.internal`;
  const privateDns = !ip ? '' : l.hostnameType === 'resource-name' ? `${i.id}.${domain}` : `ip-${dashed(ip)}.${domain}`;
  const publicDns = publicIp ? `ec2-${dashed(publicIp)}.compute-1.amazonaws.com` : '';
  const launchTime = i.createdAt === lx.launchTimeMs ? lx.launchTime : new Date(i.createdAt).toISOString();
  const userShutdown = i.reason === 'Client.UserInitiatedShutdown';
  const reason = userShutdown
    ? `User initiated (${new Date(i.endedAt ?? i.stoppedAt!).toISOString().replace('T', ' ').slice(0, 19)} GMT)`
    : '';
  const stateReason = i.reason
    ? `<stateReason><code>${i.reason}</code><message>${i.reason}: ${userShutdown ? 'User initiated shutdown' : i.reason === 'Server.InternalError' ? 'Internal error on launch' : 'Insufficient capacity.'}</message></stateReason>`
    : state.name === 'pending'
      ? '<stateReason><code>pending</code><message>pending</message></stateReason>'
      : '';
  const eniId = i.id.slice(2);
  const association = publicIp
    ? `<association><publicIp>${publicIp}</publicIp><publicDnsName>${publicDns}</publicDnsName><ipOwnerId>amazon</ipOwnerId></association>`
    : '';
  const eni = gone
    ? '<networkInterfaceSet/>'
    : `<networkInterfaceSet><item><networkInterfaceId>eni-${eniId}</networkInterfaceId>${lx.network}<description/><ownerId>${ACCOUNT_ID}</ownerId><status>in-use</status>` +
      `<privateIpAddress>${ip}</privateIpAddress><privateDnsName>${privateDns}</privateDnsName><sourceDestCheck>true</sourceDestCheck><groupSet>${lx.groups}</groupSet>` +
      `<attachment><attachmentId>eni-attach-${eniId}</attachmentId><deviceIndex>0</deviceIndex><status>attached</status><attachTime>${launchTime}</attachTime>` +
      `<deleteOnTermination>true</deleteOnTermination><networkCardIndex>0</networkCardIndex></attachment>${association}` +
      `<privateIpAddressesSet><item><privateIpAddress>${ip}</privateIpAddress><privateDnsName>${privateDns}</privateDnsName><primary>true</primary>${association}</item></privateIpAddressesSet>` +
      `<ipv6AddressesSet/><interfaceType>interface</interfaceType></item></networkInterfaceSet>`;
  return (
    `<instanceId>${i.id}</instanceId>${lx.image}<instanceState><code>${state.code}</code><name>${state.name}</name></instanceState>` +
    `<privateDnsName>${privateDns}</privateDnsName><dnsName>${publicDns}</dnsName><reason>${reason}</reason><amiLaunchIndex>${i.index}</amiLaunchIndex>` +
    `<productCodes/>${lx.placement}<launchTime>${launchTime}</launchTime><placement><availabilityZone>${l.zone}</availabilityZone><groupName/><tenancy>default</tenancy></placement>` +
    `<monitoring><state>disabled</state></monitoring>${gone ? '' : lx.network}${ip ? `<privateIpAddress>${ip}</privateIpAddress>` : ''}` +
    `${publicIp ? `<ipAddress>${publicIp}</ipAddress>` : ''}<sourceDestCheck>true</sourceDestCheck><groupSet>${lx.groups}</groupSet>${stateReason}` +
    `${lx.tail}${tagsXml(i.tags)}<hypervisor>xen</hypervisor>${eni}<ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport>` +
    `${state.name === 'pending' ? lx.metadataPending : lx.metadataApplied}<privateDnsNameOptions><hostnameType>${l.hostnameType ?? 'ip-name'}</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord><enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptions><platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances</usageOperation>`
  );
}
