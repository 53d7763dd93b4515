// `skypool plan` and `skypool status` of a 10,000-VM cluster spread over the three cloudsims (virtual backing), from
// the CLI in a child process: wall time and peak RSS of that child. The VMs are filled through the sims' own APIs
// (no bulk seed exists that bypasses them): EC2 RunInstances per VM (the Name tag differs per VM and goes in the
// create call), GCE instances.bulkInsert with perInstanceProperties (one call per pool), an ARM Flexible scale set
// per pool (its VMs make their NICs and public IPs), as the Azure provider launches nodes without fixed addresses. The fill runs with rate limits off; the sim's state is then persisted and a fresh sim with its
// default limits loads it, so plan and status meet the limits a user meets.
//
// The cluster: 12 worker pools (4 per cloud, ≤ 1,000 per pool as the spec allows) holding 10,000 VMs, plus a
// manager pool whose VM is not there: a manager VM on the virtual backing has an address off this machine, and
// probing it would send packets out. So plan finds no engine (every VM is a stray to replace: 10,000 deletes and
// 10,001 creates, the largest plan output) and status lists 10,000 VMs without engine nodes. The state dir holds
// the cluster's PKI, so status takes the path that looks for a manager.
//
// Run after `npx tsc`: node bench/inventory.mjs   (BENCH_VMS, BENCH_RUNS; BENCH_KEEP_BEFORE=0 to reset `before`;
// BENCH_BASELINE_CLI=<another build's dist/src/cli/main.js> to measure it once in the same run, as `baseline`;
// BENCH_CPU_PROF=<dir> for a CPU profile of each CLI call)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARM_LINUX_CONFIGURATION, median, root, signEc2Post, verdict, writeResult } from './lib.mjs';

const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTER = 'inv';
const PROJECT = 'bench-project';
const SUB = '00000000-0000-4000-8000-000000000001';
const AWS_REGION = 'us-east-1';
const GCP_ZONES = ['us-central1-a', 'us-central1-b', 'us-central1-c', 'us-central1-f'];
const cli = join(root, 'dist/src/cli/main.js');

const { startCloudSim } = await import(join(root, 'dist/src/cloudsim/index.js'));
const { loadSpec } = await import(join(root, 'dist/src/spec/load.js'));
const { poolSpecHash } = await import(join(root, 'dist/src/spec/hash.js'));
const { ensureClusterPki } = await import(join(root, 'dist/src/bootstrap/cluster-pki.js'));

// Pools: 4 per cloud, the VMs split as evenly as the counts allow.
const perCloud = [Math.ceil(VMS / 3), Math.floor((VMS + 1) / 3), Math.floor(VMS / 3)];
const split = (n) => [0, 1, 2, 3].map((k) => Math.floor(n / 4) + (k < n % 4 ? 1 : 0));
const pools = [
  ...split(perCloud[0]).map((count, k) => ({ name: `a${k + 1}`, provider: 'aws', count })),
  ...split(perCloud[1]).map((count, k) => ({ name: `g${k + 1}`, provider: 'gcp', count, zone: GCP_ZONES[k] })),
  ...split(perCloud[2]).map((count, k) => ({ name: `z${k + 1}`, provider: 'azure', count })),
];
const poolLine = (p) => {
  const where = {
    aws: 'region: us-east-1, size: { cpus: 2, memoryGiB: 4 }',
    gcp: `region: us-central1, zones: [${p.zone}], size: { cpus: 2, memoryGiB: 8 }`,
    azure: 'region: eastus, instanceType: Standard_D2s_v5',
  }[p.provider];
  return `  - { name: ${p.name}, provider: ${p.provider}, role: worker, count: ${p.count}, ${where} }`;
};

const dir = await mkdtemp(join(tmpdir(), 'skypool-bench-inventory-'));
const specFile = join(dir, 'inv.yaml');
await writeFile(
  specFile,
  [
    `name: ${CLUSTER}`,
    'engine: swarm',
    'pools:',
    '  - { name: mgr, provider: aws, region: us-east-1, role: manager, count: 1, size: { cpus: 2, memoryGiB: 4 } }',
    ...pools.map(poolLine),
    '',
  ].join('\n'),
);
const spec = await loadSpec(specFile);
const stateDir = join(dir, 'state');
await ensureClusterPki(stateDir, CLUSTER);
const simState = join(dir, 'sim-state.json');
const tagsOf = (pool) => ({
  'skypool-cluster': CLUSTER,
  'skypool-pool': pool.name,
  'skypool-role': 'worker',
  'skypool-spec-hash': poolSpecHash(
    spec,
    spec.pools.find((p) => p.name === pool.name),
  ),
});
const nodeName = (pool, i) => `${CLUSTER}-${pool.name}-${i}`;
const userData = '#!/bin/sh\n# skypool user-data\n'.padEnd(2048, '#');

/** Runs fn(0..n-1) with `limit` in flight. */
async function eachLimited(n, limit, fn) {
  let i = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (i < n) await fn(i++);
    }),
  );
}

async function fill(sim) {
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32, ca: sim.caCertPem });
  const send = (url, method, headers, payload) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
        u,
        { method, agent: u.protocol === 'https:' ? httpsAgent : httpAgent, headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode >= 300)
              reject(new Error(`${method} ${u.pathname}: ${res.statusCode} ${text.slice(0, 300)}`));
            else resolve(text);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const t0 = performance.now();

  // EC2: one RunInstances per VM, its Name tag in the TagSpecifications of the create call.
  const ec2Host = new URL(sim.httpUrl).host;
  const ec2 = (params) => {
    const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
    return send(`${sim.httpUrl}/`, 'POST', signEc2Post(sim.credentials.aws, ec2Host, body, AWS_REGION), body);
  };
  const field = (xml, name) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
  const imageId = field(
    await ec2({
      Action: 'DescribeImages',
      'Owner.1': '099720109477',
      'Filter.1.Name': 'name',
      'Filter.1.Value.1': 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*',
    }),
    'imageId',
  );
  const vpcId = field(await ec2({ Action: 'CreateVpc', CidrBlock: '10.40.0.0/16' }), 'vpcId');
  const subnetId = field(
    await ec2({ Action: 'CreateSubnet', VpcId: vpcId, CidrBlock: '10.40.0.0/16', AvailabilityZone: `${AWS_REGION}a` }),
    'subnetId',
  );
  const ec2Jobs = pools
    .filter((p) => p.provider === 'aws')
    .flatMap((p) => Array.from({ length: p.count }, (_, i) => [p, i + 1]));
  const ec2Data = Buffer.from(userData).toString('base64');
  await eachLimited(ec2Jobs.length, 32, async (k) => {
    const [pool, i] = ec2Jobs[k];
    const tags = Object.entries({ ...tagsOf(pool), Name: nodeName(pool, i) }).flatMap(([key, v], t) => [
      [`TagSpecification.1.Tag.${t + 1}.Key`, key],
      [`TagSpecification.1.Tag.${t + 1}.Value`, v],
    ]);
    await ec2({
      Action: 'RunInstances',
      ImageId: imageId,
      InstanceType: 't3.medium',
      MinCount: '1',
      MaxCount: '1',
      'NetworkInterface.1.DeviceIndex': '0',
      'NetworkInterface.1.SubnetId': subnetId,
      'NetworkInterface.1.AssociatePublicIpAddress': 'true',
      UserData: ec2Data,
      'TagSpecification.1.ResourceType': 'instance',
      ...Object.fromEntries(tags),
      ClientToken: `bench-${pool.name}-${i}`,
    });
  });
  const ec2Seconds = (performance.now() - t0) / 1000;

  // GCE: one bulkInsert per pool, every name given (perInstanceProperties), labels in the call.
  const gceBase = `${sim.httpUrl}/compute/v1/projects/${PROJECT}`;
  const gceHeaders = { authorization: `Bearer ${sim.credentials.gcp.accessToken}`, 'content-type': 'application/json' };
  const gce = async (method, path, body) => {
    let op = JSON.parse(await send(`${gceBase}/${path}`, method, gceHeaders, body && JSON.stringify(body)));
    const scope = path.startsWith('global/') ? 'global' : path.split('/').slice(0, 2).join('/');
    while (op.status !== 'DONE')
      op = JSON.parse(await send(`${gceBase}/${scope}/operations/${op.name}/wait`, 'POST', gceHeaders, ''));
    if (op.error) throw new Error(JSON.stringify(op.error));
  };
  await gce('POST', 'global/networks', { name: 'bench-net', autoCreateSubnetworks: false });
  await gce('POST', 'regions/us-central1/subnetworks', {
    name: 'bench-sub',
    network: 'global/networks/bench-net',
    ipCidrRange: '10.41.0.0/16',
  });
  for (const pool of pools.filter((p) => p.provider === 'gcp')) {
    await gce('POST', `zones/${pool.zone}/instances/bulkInsert`, {
      count: String(pool.count),
      minCount: String(pool.count),
      perInstanceProperties: Object.fromEntries(
        Array.from({ length: pool.count }, (_, i) => [nodeName(pool, i + 1), { name: nodeName(pool, i + 1) }]),
      ),
      instanceProperties: {
        machineType: 'e2-standard-2',
        labels: tagsOf(pool),
        tags: { items: [`skypool-${CLUSTER}`] },
        metadata: { items: [{ key: 'user-data', value: userData }] },
        disks: [
          {
            boot: true,
            autoDelete: true,
            initializeParams: { sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64' },
          },
        ],
        networkInterfaces: [
          { subnetwork: 'regions/us-central1/subnetworks/bench-sub', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] },
        ],
      },
    });
  }
  const gceSeconds = (performance.now() - t0) / 1000 - ec2Seconds;

  // ARM: the resource group, the VNet, then one Flexible scale set per pool (below).
  const armHeaders = {
    authorization: `Bearer ${sim.credentials.azure.accessToken}`,
    'content-type': 'application/json',
  };
  const rg = `/subscriptions/${SUB}/resourceGroups/skypool-${CLUSTER}`;
  const arm = (path, body) => send(`${sim.httpsUrl}${path}`, 'PUT', armHeaders, JSON.stringify(body));
  const net = (p) => `${rg}/providers/Microsoft.Network/${p}?api-version=2025-05-01`;
  await arm(`${rg}?api-version=2025-04-01`, { location: 'eastus', tags: { 'skypool-cluster': CLUSTER } });
  await arm(net(`virtualNetworks/${CLUSTER}-vnet`), {
    location: 'eastus',
    properties: {
      addressSpace: { addressPrefixes: ['10.42.0.0/16'] },
      subnets: [{ name: 'nodes', properties: { addressPrefix: '10.42.0.0/16' } }],
    },
  });
  const subnet = `${rg}/providers/Microsoft.Network/virtualNetworks/${CLUSTER}-vnet/subnets/nodes`;
  const customData = Buffer.from(userData).toString('base64');
  // One Flexible scale set per pool (a pool holds at most 1,000 VMs, a set too), as the provider launches them.
  const armPools = pools.filter((p) => p.provider === 'azure');
  await eachLimited(armPools.length, 4, async (k) => {
    const pool = armPools[k];
    const set = `${CLUSTER}-${pool.name}-fill${k}`;
    await arm(`${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${set}?api-version=2026-03-01`, {
      location: 'eastus',
      tags: tagsOf(pool),
      sku: { name: 'Standard_D2s_v5', capacity: pool.count },
      properties: {
        orchestrationMode: 'Flexible',
        platformFaultDomainCount: 1,
        virtualMachineProfile: {
          storageProfile: {
            imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
            osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
          },
          osProfile: {
            computerNamePrefix: `${CLUSTER}-${pool.name}-v${String(k).padStart(4, '0')}`,
            adminUsername: 'skypool',
            customData,
            linuxConfiguration: ARM_LINUX_CONFIGURATION,
          },
          networkProfile: {
            networkApiVersion: '2020-11-01',
            networkInterfaceConfigurations: [
              {
                name: 'nic',
                properties: {
                  primary: true,
                  deleteOption: 'Delete',
                  ipConfigurations: [
                    {
                      name: 'ipconfig1',
                      properties: {
                        subnet: { id: subnet },
                        publicIPAddressConfiguration: {
                          name: 'ip',
                          sku: { name: 'Standard', tier: 'Regional' },
                          properties: { deleteOption: 'Delete' },
                        },
                      },
                    },
                  ],
                },
              },
            ],
          },
        },
      },
    });
  });
  httpAgent.destroy();
  httpsAgent.destroy();
  const total = (performance.now() - t0) / 1000;
  return { ec2Seconds, gceSeconds, armSeconds: total - ec2Seconds - gceSeconds, totalSeconds: total };
}

// Fill with rate limits off, then persist; measure on a sim that loads that state with its default limits.
const filler = await startCloudSim({
  bootTimeMs: 1,
  stateFile: simState,
  rateLimits: { aws: { enabled: false }, gcp: { enabled: false }, azure: { enabled: false } },
});
let fillTimes;
try {
  fillTimes = await fill(filler);
  // Every VM past its boot time is running once listed; let the 1 ms pass.
  await new Promise((r) => setTimeout(r, 50));
} finally {
  await filler.stop();
}
const sim = await startCloudSim({
  bootTimeMs: 1,
  stateFile: simState,
  credentials: filler.credentials,
  adminToken: filler.adminToken,
});
const ca = join(dir, 'ca.pem');
await writeFile(ca, sim.caCertPem);
const env = {
  ...process.env,
  ...sim.env,
  SKYPOOL_STATE_DIR: stateDir,
  GOOGLE_CLOUD_PROJECT: PROJECT,
  AZURE_SUBSCRIPTION_ID: SUB,
  NODE_EXTRA_CA_CERTS: ca,
};

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const armThrottled = () =>
  sim.meter
    .snapshot()
    .filter((c) => c.cloud === 'azure' && c.outcome === 'throttled')
    .reduce((n, c) => n + c.count, 0);
/** ARM's read bucket (250, +25/s) full again: each build's series starts as a user's first call would. */
const armRefilled = () => new Promise((r) => setTimeout(r, 10_000));

/** Wall ms, peak RSS (MB, /usr/bin/time -v of the child), output size and ARM 429s of one CLI call. */
async function runCli(args, cliPath = cli) {
  const throttledBefore = armThrottled();
  const result = await runCliOnce(args, cliPath);
  return { ...result, armThrottled: armThrottled() - throttledBefore };
}

function runCliOnce(args, cliPath) {
  const t = process.hrtime.bigint();
  // BENCH_CPU_PROF=<dir>: a CPU profile of every CLI call there (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const argv = [process.execPath, ...prof, cliPath, ...args];
  return new Promise((resolve, reject) => {
    execFile(
      timeBin ?? argv[0],
      timeBin ? ['-v', ...argv] : argv.slice(1),
      { env, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
        if (error) return reject(new Error(`skypool ${args.join(' ')}: ${error.message}\n${stderr.slice(-2000)}`));
        const rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? Number.NaN);
        // CPU time of the child: on a shared machine it says more than wall time.
        const seconds = (label) =>
          Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(stderr)?.[1] ?? Number.NaN);
        const cpuMs = (seconds('User') + seconds('System')) * 1000;
        resolve({ wallMs, cpuMs, peakRssMB: rssKb / 1024, stdoutBytes: Buffer.byteLength(stdout), stdout });
      },
    );
  });
}

const plans = [];
const statuses = [];
let planSummary;
let statusSummary;
let baseline;
try {
  // BENCH_BASELINE_CLI: another build's CLI (e.g. main's dist/src/cli/main.js), run once on the same sim and fill.
  if (process.env.BENCH_BASELINE_CLI) {
    const p = await runCli(['plan', '-f', specFile], process.env.BENCH_BASELINE_CLI);
    const s = await runCli(['status', '-f', specFile], process.env.BENCH_BASELINE_CLI);
    baseline = {
      cli: process.env.BENCH_BASELINE_LABEL ?? process.env.BENCH_BASELINE_CLI,
      planMs: p.wallMs,
      statusMs: s.wallMs,
      planCpuMs: p.cpuMs,
      statusCpuMs: s.cpuMs,
      armThrottled: p.armThrottled + s.armThrottled,
      peakRssMB: Math.max(p.peakRssMB, s.peakRssMB),
    };
    console.log(
      `baseline ${baseline.cli}: plan ${Math.round(p.wallMs)} ms, status ${Math.round(s.wallMs)} ms (ARM 429s: ${p.armThrottled}, ${s.armThrottled})`,
    );
    await armRefilled();
  }
  for (let i = 0; i < RUNS; i += 1) {
    const p = await runCli(['plan', '-f', specFile]);
    planSummary = /Plan: .*/.exec(p.stdout)?.[0];
    plans.push(p);
    const s = await runCli(['status', '-f', specFile]);
    statusSummary = `${s.stdout.split('\n').filter((l) => l.includes(`${CLUSTER}-`)).length} node lines`;
    statuses.push(s);
  }
  console.log(
    `runs (ms, ARM 429s): plan ${plans.map((r) => `${Math.round(r.wallMs)} (${r.armThrottled})`).join(', ')}; status ${statuses.map((r) => `${Math.round(r.wallMs)} (${r.armThrottled})`).join(', ')}`,
  );
  const json = await runCli(['status', '-f', specFile, '-o', 'json']);
  const nodes = JSON.parse(json.stdout).nodes.length;
  if (nodes !== VMS) throw new Error(`status -o json listed ${nodes} nodes, expected ${VMS}`);
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}

const planMs = median(plans.map((r) => r.wallMs));
const statusMs = median(statuses.map((r) => r.wallMs));
const peakRssMB = Math.max(...plans.map((r) => r.peakRssMB), ...statuses.map((r) => r.peakRssMB));
const file = join(root, 'bench', 'results', 'inventory.json');
const previous = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
const current = {
  planMs,
  statusMs,
  peakRssMB,
  armThrottledPerRun: [...plans, ...statuses].map((r) => r.armThrottled),
  planCpuMs: median(plans.map((r) => r.cpuMs)),
  statusCpuMs: median(statuses.map((r) => r.cpuMs)),
  planPeakRssMB: Math.max(...plans.map((r) => r.peakRssMB)),
  statusPeakRssMB: Math.max(...statuses.map((r) => r.peakRssMB)),
};
const result = {
  ...current,
  vms: VMS,
  runs: RUNS,
  plan: verdict(`skypool plan, ${VMS} VMs over aws+gcp+azure`, planMs, 1500, 'ms'),
  status: verdict(`skypool status, ${VMS} VMs over aws+gcp+azure`, statusMs, 1500, 'ms'),
  rss: verdict('peak RSS of the CLI (plan and status)', peakRssMB, 150, 'MB'),
  planRunsMs: plans.map((r) => Math.round(r.wallMs)),
  statusRunsMs: statuses.map((r) => Math.round(r.wallMs)),
  planOutput: { summary: planSummary, bytes: plans[0].stdoutBytes },
  statusOutput: { summary: statusSummary, bytes: statuses[0].stdoutBytes },
  fill: {
    how: 'through the sims APIs, rate limits off: EC2 RunInstances per VM (Name tag in the call), GCE bulkInsert per pool, ARM Flexible scale set per pool; then persisted and reloaded by a sim with default limits',
    ...fillTimes,
  },
  ...(baseline ? { baseline } : {}),
  before: process.env.BENCH_KEEP_BEFORE === '0' ? current : (previous?.before ?? current),
  loadAverage: loadavg()[0],
};
console.log(
  `fill: ${fillTimes.totalSeconds.toFixed(1)} s (EC2 ${fillTimes.ec2Seconds.toFixed(1)}, GCE ${fillTimes.gceSeconds.toFixed(1)}, ARM ${fillTimes.armSeconds.toFixed(1)})`,
);
console.log(
  `vs before: plan ${(planMs / result.before.planMs).toFixed(2)}x, status ${(statusMs / result.before.statusMs).toFixed(2)}x, RSS ${(peakRssMB / result.before.peakRssMB).toFixed(2)}x`,
);
await writeResult('inventory', result);
