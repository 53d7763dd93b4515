import { DescribeSecurityGroupsCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { FirewallsClient } from '@google-cloud/compute';
import { createProvider as createAws } from '../providers/aws/index.js';
import { FABRIC_PORT } from '../providers/aws/network.js';
import { createClients } from '../providers/azure/clients.js';
import { createProvider as createAzure } from '../providers/azure/index.js';
import { names as azureNames } from '../providers/azure/network.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import { fabricFirewallName } from '../providers/gcp/naming.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import type { Provider } from '../src/providers/types.js';
import { simGceClientOptions } from './support/sim-providers.js';

/**
 * Provider.fabricFirewallProblem on every cloud (cloudsim, no VMs): undefined while the fabric's rule admits
 * 51820/udp, a sentence naming the rule once it is gone. The core adds it to the error of a node that did not join.
 */
const CLUSTER = 'fwp';
const SUB = '00000000-0000-4000-8000-0000000000fd';
const ADMIN = ['203.0.113.7/32'];

let sim: CloudSim;
const providers: Record<string, Provider> = {};
const azureCredential = () => ({
  getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

beforeAll(async () => {
  sim = await startCloudSim({ bootTimeMs: 20 });
  providers.aws = createAws({
    region: 'us-east-1',
    endpoint: sim.httpUrl,
    credentials: sim.credentials.aws,
    pollIntervalMs: 10,
    engineApiSources: ADMIN,
  });
  providers.gcp = createGcp({
    project: 'skypool-sim',
    region: 'us-central1',
    apiEndpoint: sim.host,
    port: sim.httpPort,
    protocol: 'http',
    accessToken: sim.credentials.gcp.accessToken,
    pollIntervalMs: 10,
    engineApiSources: ADMIN,
  });
  providers.azure = createAzure({
    subscriptionId: SUB,
    region: 'eastus',
    endpoint: sim.httpsUrl,
    caCertPem: sim.caCertPem,
    credential: azureCredential(),
    pollIntervalMs: 10,
    engineApiSources: ADMIN,
  });
}, 30_000);

afterAll(async () => {
  for (const provider of Object.values(providers)) {
    await provider.deleteNetwork(CLUSTER).catch(() => undefined);
    await provider.close?.();
  }
  await sim?.stop();
});

test('aws: the security group without its skypool-fabric rule is named', async () => {
  const aws = providers.aws!;
  await aws.ensureNetwork(CLUSTER);
  expect(await aws.fabricFirewallProblem!(CLUSTER)).toBeUndefined();
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
  try {
    const [group] =
      (
        await ec2.send(
          new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: [CLUSTER] }] }),
        )
      ).SecurityGroups ?? [];
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: group!.GroupId!,
        IpPermissions: [
          { IpProtocol: 'udp', FromPort: FABRIC_PORT, ToPort: FABRIC_PORT, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      }),
    );
    expect(await aws.fabricFirewallProblem!(CLUSTER)).toBe(
      `security group ${group!.GroupId} (skypool-${CLUSTER}) in us-east-1 lacks its ingress rule "skypool-fabric" (udp/51820 from 0.0.0.0/0): the fabric's WireGuard packets cannot reach the nodes there`,
    );
  } finally {
    ec2.destroy();
  }
});

test('gcp: a missing fabric firewall rule is named', async () => {
  const gcp = providers.gcp!;
  await gcp.ensureNetwork(CLUSTER);
  expect(await gcp.fabricFirewallProblem!(CLUSTER)).toBeUndefined();
  const firewalls = new FirewallsClient(simGceClientOptions(sim));
  try {
    await firewalls.delete({ project: 'skypool-sim', firewall: fabricFirewallName(CLUSTER) });
  } finally {
    await firewalls.close();
  }
  expect(await gcp.fabricFirewallProblem!(CLUSTER)).toMatch(
    new RegExp(
      `^the firewall rule skypool-${CLUSTER}-fabric \\(udp/51820 from 0\\.0\\.0\\.0/0\\) of network skypool-${CLUSTER} is missing`,
    ),
  );
});

test('azure: an NSG without its skypool-fabric rule is named', async () => {
  const azure = providers.azure!;
  await azure.ensureNetwork(CLUSTER);
  expect(await azure.fabricFirewallProblem!(CLUSTER)).toBeUndefined();
  const clients = createClients({
    subscriptionId: SUB,
    endpoint: sim.httpsUrl,
    caCertPem: sim.caCertPem,
    credential: azureCredential(),
  });
  await clients.network.securityRules.beginDeleteAndWait(
    azureNames.group(CLUSTER),
    azureNames.nsg(CLUSTER),
    azureNames.fabricRule,
    { updateIntervalInMs: 10 },
  );
  expect(await azure.fabricFirewallProblem!(CLUSTER)).toMatch(
    new RegExp(
      `^network security group ${CLUSTER}-nsg in eastus lacks its rule "skypool-fabric" \\(udp/51820 from any source\\)`,
    ),
  );
});
