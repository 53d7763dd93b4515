import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { FirewallsClient } from '@google-cloud/compute';
import { OAuth2Client } from 'google-auth-library';
import { createClients } from '../../providers/azure/clients.js';
import { names as azureNames } from '../../providers/azure/network.js';
import { networkName, networkTag } from '../../providers/gcp/naming.js';
import type { CloudSim } from '../../src/cloudsim/index.js';
import { backingVmName } from '../../src/cloudsim/local-backing.js';

/**
 * What the suites on cloudsim's realistic network (backing 'local') share: commands inside a simulated VM, the
 * sim's own namespaces, and the firewall openings an operator makes by hand for host-mode published ports.
 */

/** The host's address on the sim's internet segment: the operator, to whom the engine API is open. */
export const OPERATOR = '198.19.255.1';
/** Host-mode published ports land on dynamic host ports (routingMesh false: this kernel has no IPVS). */
export const PUBLISHED = { from: 32768, to: 60999 };

export const sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

const netnsList = (): string[] =>
  sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);

/** Runs a command inside a simulated VM (its network and mount namespaces, via its anchor process). */
export function inVm(cloud: 'aws' | 'gcp' | 'azure', instanceId: string, argv: readonly string[]): string {
  const node = backingVmName(cloud, instanceId);
  const ns = netnsList().find((n) => n.endsWith(`-${node}`));
  if (!ns) throw new Error(`no namespace of ${cloud} VM ${instanceId}`);
  const anchor = sh('ip', ['netns', 'pids', ns])
    .split('\n')
    .filter(Boolean)
    .find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\0infinity\0';
      } catch {
        return false;
      }
    });
  if (!anchor) throw new Error(`no anchor process in ${ns}`);
  return sh('nsenter', ['-t', anchor, '-m', '-n', '--', ...argv]);
}

/** Runs the VM's docker CLI against its own dockerd. */
export const dockerInVm = (cloud: 'aws' | 'gcp' | 'azure', instanceId: string, args: readonly string[]): string =>
  inVm(cloud, instanceId, ['docker', '-H', 'unix:///var/run/docker.sock', ...args]);

/** The sim's internet router namespace: a source on the internet segment that is not the operator. */
export function routerNetns(): string {
  const ns = netnsList().filter((n) => /^cloudsim-[0-9a-f]+-inet$/.test(n));
  if (ns.length !== 1) throw new Error(`expected one sim router namespace, found ${ns.join(', ') || 'none'}`);
  return ns[0]!;
}

export function gceFirewalls(sim: CloudSim): FirewallsClient {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: sim.credentials.gcp.accessToken, expiry_date: Date.now() + 3_600_000 });
  return new FirewallsClient({
    fallback: true,
    apiEndpoint: sim.host,
    port: sim.httpPort,
    protocol: 'http',
    authClient: auth as never,
  });
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
  const firewalls = gceFirewalls(sim);
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
  const firewalls = gceFirewalls(sim);
  try {
    await firewalls
      .delete({ project: gcpProject, firewall: `${networkName(cluster)}-published` })
      .catch(() => undefined);
  } finally {
    await firewalls.close();
  }
}
