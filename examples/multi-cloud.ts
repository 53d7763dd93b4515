/**
 * The multi-cloud spec of examples/multi-cloud.yaml planned against cloudsim, which speaks the EC2, Compute Engine
 * and ARM wire protocols on loopback: what `up` would create on each cloud, and what it would cost.
 */
import { fileURLToPath } from 'node:url';
import { Cluster, estimateCost } from 'skypool';
import { startCloudSim } from 'skypool/cloudsim';

const sim = await startCloudSim({ bootTimeMs: 100 });
const token = {
  getToken: async () => ({ token: sim.credentials.azure.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const cluster = await Cluster.load(fileURLToPath(new URL('../../examples/multi-cloud.yaml', import.meta.url)), {
  providers: {
    aws: { region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws },
    gcp: {
      project: 'example',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
    },
    azure: {
      subscriptionId: '00000000-0000-4000-8000-000000000001',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: token,
    },
  },
});
try {
  const plan = await cluster.plan();
  console.log(`${plan.creates.reduce((n, c) => n + c.names.length, 0)} nodes to create`);
  for (const pool of estimateCost(cluster.spec).pools)
    console.log(
      `${pool.provider}/${pool.region} ${pool.pool}: ${pool.count} × ${pool.instanceType} = $${pool.poolMonthlyUsd}/month`,
    );
} finally {
  await cluster.close();
  await sim.stop();
}
