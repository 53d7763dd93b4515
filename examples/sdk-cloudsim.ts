/**
 * skypool from code: start cloudsim (simulated EC2, no root needed), point the aws provider at it, and ask a
 * cluster for its plan and its cost. `node dist/examples/sdk-cloudsim.js` after `npm run build:examples`.
 */
import { Cluster, estimateCost } from 'skypool';
import { startCloudSim } from 'skypool/cloudsim';

const sim = await startCloudSim({ bootTimeMs: 100 });
const cluster = Cluster.fromSpec(
  {
    name: 'example',
    engine: 'swarm',
    pools: [
      {
        name: 'managers',
        provider: 'aws',
        region: 'us-east-1',
        size: { cpus: 2, memoryGiB: 4 },
        count: 1,
        role: 'manager',
      },
    ],
  },
  {
    providers: {
      aws: {
        region: 'us-east-1',
        endpoint: sim.httpUrl,
        credentials: sim.credentials.aws,
      },
    },
  },
);
try {
  const plan = await cluster.plan();
  const cost = estimateCost(cluster.spec);
  for (const create of plan.creates) console.log(`create ${create.names.join(', ')} (${create.pool.provider})`);
  for (const pool of cost.pools)
    console.log(`${pool.pool}: ${pool.instanceType} at $${pool.hourlyUsd}/hour (${pool.reason})`);
  console.log(`total $${cost.totalMonthlyUsd}/month at list prices of ${cost.catalogDate}`);
} finally {
  await cluster.close();
  await sim.stop();
}
