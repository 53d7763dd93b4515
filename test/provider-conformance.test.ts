import { createProvider as createAzure } from '../providers/azure/index.js';
import { createProvider as createGcp } from '../providers/gcp/index.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { describeProviderConformance, simLeftovers } from './support/provider-conformance.js';

// The aws and local providers run this suite from their own test files; these are the other two clouds.
const ownedVms = (sim: CloudSim, cloud: 'gcp' | 'azure', type: string, cluster: string) =>
  sim
    .inventory()
    .filter(
      (r) =>
        r.cloud === cloud &&
        r.type === type &&
        r.tags?.['skypool-cluster'] === cluster &&
        r.state !== 'TERMINATED' &&
        r.state !== 'deleting',
    ).length;

describeProviderConformance(
  'gcp on cloudsim',
  async () => {
    const sim = await startCloudSim({ bootTimeMs: 50 });
    return {
      provider: createGcp({
        project: 'skypool-conformance',
        region: 'us-central1',
        apiEndpoint: sim.host,
        port: sim.httpPort,
        protocol: 'http',
        accessToken: sim.credentials.gcp.accessToken,
        pollIntervalMs: 20,
        listPageSize: 3,
      }),
      pool: { name: 'w', provider: 'gcp', count: 2, role: 'worker', instanceType: 'e2-small' },
      liveVms: async (cluster) => ownedVms(sim, 'gcp', 'instance', cluster),
      sim: { cloud: 'gcp', instance: sim },
      leftovers: async (cluster) => simLeftovers(sim, 'gcp', cluster),
      teardown: () => sim.stop(),
    };
  },
  { features: { faults: true, zones: ['us-central1-a', 'us-central1-b'], otherRegion: 'europe-west1', pageSpan: 4 } },
);

describeProviderConformance(
  'azure on cloudsim',
  async () => {
    const sim = await startCloudSim({ bootTimeMs: 50 });
    const credential = {
      getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    return {
      provider: createAzure({
        subscriptionId: '6c1f0f4e-2b8d-4f57-a3a6-1d2e3f4a5b6c',
        region: 'eastus',
        endpoint: sim.httpsUrl,
        caCertPem: sim.caCertPem,
        credential,
        pollIntervalMs: 10,
      }),
      pool: { name: 'w', provider: 'azure', count: 2, role: 'worker', instanceType: 'Standard_D2s_v5' },
      liveVms: async (cluster) => ownedVms(sim, 'azure', 'Microsoft.Compute/virtualMachines', cluster),
      sim: { cloud: 'azure', instance: sim },
      leftovers: async (cluster) => simLeftovers(sim, 'azure', cluster),
      teardown: () => sim.stop(),
    };
    // The sim pages ARM's VM listing by 50: 51 VMs span two pages.
  },
  { features: { faults: true, zones: ['1', '2'], otherRegion: 'westeurope', pageSpan: 51 } },
);
