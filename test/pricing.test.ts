/**
 * The bundled price catalog and the one instance-type selection: plan's cost table, and agreement between what
 * `plan` shows, what the CDK synthesizer writes and what each SDK adapter launches (reading the type listing of
 * cloudsim's EC2, Compute Engine and ARM through the official SDKs).
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2Calls } from '../providers/aws/calls.js';
import { listInstanceTypes, pickInstanceType } from '../providers/aws/catalog.js';
import { createClients, staticTokenCredential } from '../providers/azure/clients.js';
import { SizeCatalog } from '../providers/azure/sizes.js';
import { GceApi } from '../providers/gcp/api.js';
import { GcePlacement } from '../providers/gcp/placement.js';
import { instanceTypeForSize } from '../src/cdk/instance-types.js';
import { renderCost } from '../src/cli/render-cost.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { estimateCost } from '../src/pricing/cost.js';
import { chooseInstanceType, hourlyPrice, PRICE_CATALOG, type PricedCloud } from '../src/pricing/select.js';
import { parseSpec } from '../src/spec/load.js';
import type { NodePoolSpec, NodeSize } from '../src/spec/schema.js';

const SIZES: readonly NodeSize[] = [
  { cpus: 1, memoryGiB: 0.5 },
  { cpus: 1, memoryGiB: 1 },
  { cpus: 2, memoryGiB: 2 },
  { cpus: 2, memoryGiB: 4 },
  { cpus: 2, memoryGiB: 8 },
  { cpus: 2, memoryGiB: 16 },
  { cpus: 4, memoryGiB: 8 },
  { cpus: 4, memoryGiB: 16 },
  { cpus: 8, memoryGiB: 16 },
  { cpus: 8, memoryGiB: 32 },
  { cpus: 12, memoryGiB: 8 },
  { cpus: 16, memoryGiB: 64 },
  { cpus: 32, memoryGiB: 128 },
  { cpus: 96, memoryGiB: 384 },
];

describe('price catalog', () => {
  it('is dated and prices every type in its reference region', () => {
    expect(PRICE_CATALOG.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const cloud of Object.keys(PRICE_CATALOG.clouds) as PricedCloud[]) {
      const { referenceRegion, types } = PRICE_CATALOG.clouds[cloud];
      for (const t of types) expect(hourlyPrice(cloud, referenceRegion, t.name)).toBeGreaterThan(0);
    }
    expect(hourlyPrice('aws', 'us-east-1', 't3.medium')).toBe(0.0416);
    expect(hourlyPrice('aws', 'eu-west-1', 't3.medium')).toBeGreaterThan(0.0416);
    expect(hourlyPrice('aws', 'mars-north-1', 't3.medium')).toBeUndefined();
    expect(hourlyPrice('aws', 'us-east-1', 'x9.huge')).toBeUndefined();
  });

  it('chooses the cheapest fitting type and says why', () => {
    const choice = chooseInstanceType('aws', 'us-east-1', { cpus: 2, memoryGiB: 4 });
    expect(choice).toMatchObject({ instanceType: 't3.medium', hourlyUsd: 0.0416 });
    expect(choice?.reason).toMatch(/^cheapest of \d+ types with ≥2 vCPU and ≥4 GiB in us-east-1$/);
    expect(chooseInstanceType('gcp', 'us-central1', { cpus: 2, memoryGiB: 4 })?.instanceType).toBe('e2-medium');
    expect(chooseInstanceType('azure', 'eastus', { cpus: 2, memoryGiB: 4 })?.instanceType).toBe('Standard_B2s');
    expect(chooseInstanceType('aws', 'us-east-1', { cpus: 500, memoryGiB: 1 })).toBeUndefined();
  });

  it('falls back to the smallest fitting type where the catalog has no price, and says so', () => {
    const choice = chooseInstanceType('aws', 'mars-north-1', { cpus: 2, memoryGiB: 4 });
    expect(choice?.hourlyUsd).toBeUndefined();
    expect(choice?.reason).toContain('no list price for mars-north-1');
  });
});

describe('plan cost estimate', () => {
  const spec = parseSpec({
    name: 'costs',
    engine: 'swarm',
    pools: [
      { name: 'mgr', provider: 'aws', region: 'us-east-1', size: { cpus: 2, memoryGiB: 4 }, count: 1, role: 'manager' },
      { name: 'gw', provider: 'gcp', region: 'europe-west4', instanceType: 'e2-standard-4', count: 2, role: 'worker' },
      {
        name: 'odd',
        provider: 'azure',
        region: 'eastus',
        instanceType: 'Standard_HB120rs_v3',
        count: 1,
        role: 'worker',
      },
      { name: 'lab', provider: 'local', count: 2, role: 'worker' },
    ],
  });

  it('prices each pool hourly and monthly (730 h), totals the known ones, and marks unknown prices n/a', () => {
    const cost = estimateCost(spec);
    const [mgr, gw, odd, lab] = cost.pools;
    expect(mgr).toMatchObject({
      instanceType: 't3.medium',
      hourlyUsd: 0.0416,
      monthlyUsd: 30.368,
      poolMonthlyUsd: 30.368,
    });
    expect(gw?.hourlyUsd).toBe(hourlyPrice('gcp', 'europe-west4', 'e2-standard-4'));
    expect(gw?.poolHourlyUsd).toBeCloseTo(2 * gw!.hourlyUsd!, 4);
    expect(odd?.hourlyUsd).toBeUndefined();
    expect(odd?.note).toContain('no list price for Standard_HB120rs_v3 in eastus');
    expect(lab).toMatchObject({ hourlyUsd: 0, poolMonthlyUsd: 0 });
    expect(cost.complete).toBe(false);
    expect(cost.totalHourlyUsd).toBeCloseTo(mgr!.poolHourlyUsd! + gw!.poolHourlyUsd!, 4);
    expect(cost.totalMonthlyUsd).toBeCloseTo(cost.totalHourlyUsd * 730, 1);

    const text = renderCost(cost);
    expect(text).toMatch(/mgr\s+aws\s+us-east-1\s+t3\.medium\s+1\s+\$0\.0416\s+\$30\.37\s+\$30\.37\s+cheapest of/);
    expect(text).toMatch(/odd\s+azure\s+eastus\s+Standard_HB120rs_v3\s+1\s+n\/a\s+n\/a\s+n\/a/);
    expect(text).toContain(`as of ${PRICE_CATALOG.date}`);
    expect(text).toContain('+ pools marked n/a');
  });
});

describe('one selection for plan, the CDK synthesizer and the SDK adapters (against cloudsim)', () => {
  let sim: CloudSim;
  const closers: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 1 });
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await sim?.stop();
  });

  const planned = (cloud: PricedCloud, region: string, size: NodeSize) =>
    chooseInstanceType(cloud, region, size)?.instanceType;
  const orNone = (pick: () => Promise<string>) => pick().catch(() => undefined);

  it.each(['us-east-1', 'eu-west-1'])('aws %s: adapter = plan = CDK for every size', async (region) => {
    const client = new EC2Client({
      region,
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
    });
    closers.push(() => client.destroy());
    const types = await listInstanceTypes(new Ec2Calls(client, region));
    const rows = SIZES.map((size) => {
      const adapter = (() => {
        try {
          return pickInstanceType(types, size, region);
        } catch {
          return undefined;
        }
      })();
      return { size, adapter, plan: planned('aws', region, size), cdk: instanceTypeForSize(size, region) };
    });
    for (const row of rows)
      expect({ size: row.size, picks: [row.adapter, row.cdk] }).toEqual({
        size: row.size,
        picks: [row.plan, row.plan],
      });
    expect(rows.filter((r) => r.plan).length).toBe(SIZES.length);
  });

  it.each(['us-central1', 'europe-west4'])('gcp %s: adapter = plan for every size', async (region) => {
    const api = new GceApi({
      project: 'skypool-test',
      region,
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
    });
    closers.push(() => api.close());
    const placement = new GcePlacement(api);
    const zone = `${region}-b`;
    for (const size of SIZES) {
      const pool: NodePoolSpec = { name: 'p', provider: 'gcp', region, size, count: 1, role: 'worker' };
      expect({ size, pick: await orNone(() => placement.machineTypeFor(pool, zone)) }).toEqual({
        size,
        pick: planned('gcp', region, size),
      });
    }
  });

  it.each(['eastus', 'westeurope'])('azure %s: adapter = plan for every size', async (region) => {
    const { compute } = createClients({
      subscriptionId: '00000000-0000-4000-8000-000000000001',
      credential: staticTokenCredential(sim.credentials.azure.accessToken),
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
    });
    const catalog = new SizeCatalog(compute);
    for (const size of SIZES) {
      expect({ size, pick: await orNone(() => catalog.pickSize(region, size)) }).toEqual({
        size,
        pick: planned('azure', region, size),
      });
    }
  });
});
