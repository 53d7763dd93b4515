import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { FirewallsClient } from '@google-cloud/compute';
import { createClients } from '../../providers/azure/clients.js';
import { names as azureNames } from '../../providers/azure/network.js';
import { networkName, networkTag } from '../../providers/gcp/naming.js';
import type { CloudSim } from '../../src/cloudsim/index.js';
import { backingVmName } from '../../src/cloudsim/local-backing.js';
import { pollUntil } from '../../src/util/poll.js';
import { simGceClientOptions } from './sim-providers.js';

/**
 * Probes of cloudsim's realistic network (src/cloudsim/network/README.md) and its local-backed VMs, shared by the
 * suites that run a pool across the simulated clouds (test/cloudsim-fabric.integration.test.ts,
 * test/cloudsim-slurm-fabric.integration.test.ts). Need root.
 */

export type SimCloudName = 'aws' | 'gcp' | 'azure';

/** The host's address on the sim's internet segment: the operator, to whom the engine API is open. */
export const OPERATOR = '198.19.255.1';
/** Host-mode published ports land on dynamic host ports (routingMesh false: this kernel has no IPVS). */
export const PUBLISHED = { from: 32768, to: 60999 };

const sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

const namespaces = (): string[] =>
  sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);

/** The VM's anchor process (`sleep infinity`, holding its namespaces) in a network namespace. */
function anchorIn(ns: string): string | undefined {
  return sh('ip', ['netns', 'pids', ns])
    .split('\n')
    .filter(Boolean)
    .find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\0infinity\0';
      } catch {
        return false;
      }
    });
}

/**
 * The anchor of a simulated VM, by its cloud's instance id (`backingVmName`), else by its hostname (the node
 * name: what status reports for Compute Engine and ARM, whose backing names come from numeric or resource ids).
 */
function simVmAnchor(cloud: SimCloudName, idOrName: string): string {
  const all = namespaces();
  const byId = all.find((n) => n.endsWith(`-${backingVmName(cloud, idOrName)}`));
  if (byId) {
    const anchor = anchorIn(byId);
    if (anchor) return anchor;
  }
  const host = idOrName.split('/').pop() ?? idOrName;
  for (const ns of all.filter((n) => n.includes(`-${cloud}-`))) {
    const anchor = anchorIn(ns);
    if (anchor && sh('nsenter', ['-t', anchor, '-u', '--', 'hostname']).trim() === host) return anchor;
  }
  throw new Error(`no namespace of ${cloud} VM ${idOrName}`);
}

/**
 * Runs a command in a simulated VM (its network, mount and UTS namespaces, via its anchor process), named by its
 * instance id or its hostname.
 */
export function inSimVm(
  cloud: SimCloudName,
  idOrName: string,
  argv: readonly string[],
  options: { readonly input?: string } = {},
): string {
  const anchor = simVmAnchor(cloud, idOrName);
  return execFileSync('nsenter', ['-t', anchor, '-m', '-n', '-u', '--', ...argv], {
    encoding: 'utf8',
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}

/** Runs the VM's docker CLI against its own dockerd. */
export function dockerInVm(cloud: SimCloudName, idOrName: string, args: readonly string[]): string {
  return inSimVm(cloud, idOrName, ['docker', '-H', 'unix:///var/run/docker.sock', ...args]);
}

/** True when a TCP connection to ip:port is accepted within the timeout. */
export function tcpOpen(ip: string, port: number, timeoutMs = 1_500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The sim's internet router namespace: a source on the internet segment that is not the operator. */
export function routerNetns(): string {
  const ns = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^cloudsim-[0-9a-f]+-inet$/.test(n));
  if (ns.length !== 1) throw new Error(`expected one sim router namespace, found ${ns.join(', ') || 'none'}`);
  return ns[0]!;
}

/** The edge namespace that NATs `publicIp`, and the names of the ingress chains of that VM. */
export function edgeOf(publicIp: string): { netns: string; chains: string[] } {
  for (const netns of sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^cloudsim-[0-9a-f]+-edge\d+$/.test(n))) {
    const rules = sh('ip', ['netns', 'exec', netns, 'iptables-save']);
    const priv = new RegExp(
      `-d ${publicIp.replace(/\./g, '\\.')}/32 (?:-i \\S+ )?-j DNAT --to-destination (\\S+)`,
    ).exec(rules)?.[1];
    if (!priv) continue;
    const chains = [
      ...rules.matchAll(new RegExp(`-A FORWARD -d ${priv.replace(/\./g, '\\.')}/32 -j (vm\\d+-in\\d+)`, 'g')),
    ].map((m) => m[1]!);
    return { netns, chains };
  }
  throw new Error(`no edge of the sim NATs ${publicIp}`);
}

/** Packets the VM's ingress chains dropped so far (every DROP rule: a deny rule or the default deny). */
function dropped(edge: { netns: string; chains: string[] }): number {
  return edge.chains
    .flatMap((chain) =>
      sh('ip', ['netns', 'exec', edge.netns, 'iptables', '-n', '-v', '-x', '-L', chain])
        .trim()
        .split('\n')
        .slice(2)
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields[2] === 'DROP')
        .map((fields) => Number(fields[0])),
    )
    .reduce((a, b) => a + b, 0);
}

/**
 * Sends datagrams from the host to ip:port and says whether the VM's firewall dropped them (its default-deny
 * counter grew by as many): a UDP port that admits nothing from the host cannot be told apart otherwise.
 */
export async function udpDroppedFromHost(ip: string, port: number, count = 10): Promise<boolean> {
  const edge = edgeOf(ip);
  const before = dropped(edge);
  const socket = createSocket('udp4');
  try {
    for (let k = 0; k < count; k++)
      await new Promise<void>((resolve, reject) =>
        socket.send(Buffer.from('skypool-probe'), port, ip, (e) => (e ? reject(e) : resolve())),
      );
  } finally {
    socket.close();
  }
  try {
    await pollUntil(async () => (dropped(edge) - before >= count ? true : undefined), {
      deadline: Date.now() + 3_000,
      intervalMs: 50,
      what: `the firewall of ${ip} to drop ${count} datagrams to ${port}/udp`,
    });
    return true;
  } catch {
    return false;
  }
}

/** True when a TCP connection from the sim's internet router (not the operator) to ip:port is accepted. */
export function openFromInternet(ip: string, port: number): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', routerNetns(), 'busybox', 'nc', '-w', '2', ip, String(port)], {
      input: '',
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

export interface PublishedPortsOptions {
  readonly gcpProject: string;
  /** The Azure subscription of the cluster; leave out when the cluster has no Azure pool. */
  readonly azureSubscription?: string;
}

/**
 * Opens the host ports of host-mode published services to the operator on every cloud, as an operator does by
 * hand today: the spec has no way to say which ports a service publishes, so no adapter opens them.
 */
export async function openPublishedPorts(
  sim: CloudSim,
  cluster: string,
  options: PublishedPortsOptions,
): Promise<void> {
  const source = `${OPERATOR}/32`;
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
  try {
    const groups = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: [cluster] }] }),
    );
    if (!groups.SecurityGroups?.length) throw new Error(`no security group of cluster ${cluster}`);
    for (const group of groups.SecurityGroups)
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: group.GroupId!,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: PUBLISHED.from, ToPort: PUBLISHED.to, IpRanges: [{ CidrIp: source }] },
          ],
        }),
      );
  } finally {
    ec2.destroy();
  }
  const firewalls = new FirewallsClient(simGceClientOptions(sim) as never);
  try {
    await firewalls.insert({
      project: options.gcpProject,
      firewallResource: {
        name: `${networkName(cluster)}-published`,
        network: `projects/${options.gcpProject}/global/networks/${networkName(cluster)}`,
        direction: 'INGRESS',
        allowed: [{ IPProtocol: 'tcp', ports: [`${PUBLISHED.from}-${PUBLISHED.to}`] }],
        sourceRanges: [source],
        targetTags: [networkTag(cluster)],
      },
    });
  } finally {
    await firewalls.close();
  }
  if (!options.azureSubscription) return;
  const azure = createClients({
    subscriptionId: options.azureSubscription,
    endpoint: sim.httpsUrl,
    caCertPem: sim.caCertPem,
    credential: {
      getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
  });
  await azure.network.securityRules.beginCreateOrUpdateAndWait(
    azureNames.group(cluster),
    azureNames.nsg(cluster),
    'published',
    {
      priority: 300,
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      sourceAddressPrefix: source,
      sourcePortRange: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: `${PUBLISHED.from}-${PUBLISHED.to}`,
    },
    { updateIntervalInMs: 50 },
  );
}

/** Removes what openPublishedPorts added outside the cluster's own resources (GCE rules outlive the network). */
export async function closePublishedPorts(sim: CloudSim, cluster: string, gcpProject: string): Promise<void> {
  const firewalls = new FirewallsClient(simGceClientOptions(sim) as never);
  try {
    await firewalls
      .delete({ project: gcpProject, firewall: `${networkName(cluster)}-published` })
      .catch(() => undefined);
  } finally {
    await firewalls.close();
  }
}
