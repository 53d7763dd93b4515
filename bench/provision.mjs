// Provisioning N VMs across the three cloudsims (virtual backing, boot 2 s, the sims' default rate limits) through
// skypool's apply path, against the floor those limits allow and against a one-create-call-per-VM loop on a fresh
// sim of the same settings in the same run.
//
// skypool: a ClusterContext runs apply's provider phases as apply does: `network` (ensureNetworks), `inventory`
// (takeInventory), the plan (observe: no VM, so no manager is probed), then `launch-nodes` (launchRunning: one
// launch per pool through the provisioning queue, then one waitAllRunning per provider). What is timed is launch-nodes (create + wait
// until every VM runs with its addresses). The engine phases (bootstrap-manager, wait-engines, wait-ready) are
// skipped: a VM of the virtual backing runs no user-data. The manager pool is planned but not launched (its VM
// boots first in a real apply, one boot more).
//
// The loop: Apache libcloud is not installed here (python3-libcloud), so the same shape is written against the
// sims' wire APIs: one create call per VM as libcloud's create_node makes it (EC2 RunInstances MinCount=MaxCount=1,
// GCE instances.insert, Azure public IP + NIC + VM PUTs), 4 in flight per cloud, a throttled call retried after the
// cloud's Retry-After (1 s when it gives none); then wait_until_running's shape: one listing per cloud per poll.
//
// The floor per cloud, from the sim's own constants: the calls the cloud's batch limits need, the seconds its
// token buckets need to admit them (capacity, then refill), and one boot. Clouds run in parallel: the floor is the
// largest. EC2: ceil(n / 1000) RunInstances (the instanceResource bucket holds 1,000 instances, +2/s); GCE:
// ceil(n / MAX_BULK) bulkInserts (1,500 mutations/min); Azure: ceil(n / 1000) Flexible scale set PUTs (a set holds
// 1,000 VMs, each making its own NIC and public IP) from the ARM writes bucket (200, +10/s). The sim counts a scale
// set PUT as one write; Azure's own scale-set VM limits are not simulated.
//
// Run after `npx tsc`: node bench/provision.mjs   (BENCH_SIZES=100,300,1000 BENCH_POLL_MS=250 BENCH_LOOP=0 to skip
// the loop, BENCH_TIMEOUT_S=400 per run, BENCH_LABEL names the entry kept under `history`)
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { root, signEc2Post, writeResult } from './lib.mjs';

const BOOT_MS = 2000;

if (process.argv[2] === 'server') {
  // The sim alone in this child: its CPU is not the client's.
  const { startCloudSim } = await import(join(root, 'dist/src/cloudsim/index.js'));
  const sim = await startCloudSim({ bootTimeMs: BOOT_MS, seed: 13 });
  process.on('message', async (msg) => {
    if (msg === 'meter') process.send({ meter: sim.meter.snapshot() });
    if (msg === 'reset') {
      sim.meter.reset();
      process.send({ reset: true });
    }
    if (msg === 'stop') {
      await sim.stop();
      process.exit(0);
    }
  });
  process.send({
    httpUrl: sim.httpUrl,
    httpsUrl: sim.httpsUrl,
    host: sim.host,
    httpPort: sim.httpPort,
    caCertPem: sim.caCertPem,
    credentials: sim.credentials,
  });
}

async function startSim() {
  const child = fork(fileURLToPath(import.meta.url), ['server']);
  const next = () => new Promise((resolve) => child.once('message', resolve));
  const sim = await next();
  return {
    ...sim,
    meter: async () => {
      child.send('meter');
      return (await next()).meter;
    },
    reset: async () => {
      child.send('reset');
      await next();
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await exited;
    },
  };
}

const SIZES = (process.env.BENCH_SIZES ?? '100,300,1000').split(',').map(Number);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 250);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 400) * 1000;
const LOOP = process.env.BENCH_LOOP !== '0';
const SUB = '3f2c1a9e-7b4d-4e21-9c55-0a1b2c3d4e5f';
const PROJECT = 'bench-provision';
const CREATE_ACTIONS = new Set([
  'RunInstances',
  'CreateFleet',
  'instances.insert',
  'instances.bulkInsert',
  'VirtualMachines_CreateOrUpdate',
  'VirtualMachineScaleSets_CreateOrUpdate',
  'NetworkInterfaces_CreateOrUpdate',
  'PublicIPAddresses_CreateOrUpdate',
]);

/** VMs per cloud: as even as the count allows, EC2 first. */
const perCloud = (n) => ({ aws: Math.ceil(n / 3), gcp: Math.floor((n + 1) / 3), azure: Math.floor(n / 3) });

async function floorOf(n) {
  const { EC2_BUCKETS } = await import(join(root, 'dist/src/cloudsim/ec2/limits.js'));
  const { ARM_BUCKETS } = await import(join(root, 'dist/src/cloudsim/arm/throttle.js'));
  const { DEFAULT_PER_MINUTE } = await import(join(root, 'dist/src/cloudsim/gce/limits.js'));
  const { MAX_BULK } = await import(join(root, 'dist/src/cloudsim/gce/instances.js'));
  const c = perCloud(n);
  /** Seconds a bucket of [capacity, refill/s] needs to admit `tokens` taken at once from full. */
  const admit = (tokens, capacity, refill) => Math.max(0, (tokens - capacity) / refill);
  const boot = BOOT_MS / 1000;
  const [runCap, runRefill] = EC2_BUCKETS.runInstances;
  const [instCap, instRefill] = EC2_BUCKETS.instanceResource;
  const ec2Calls = Math.ceil(c.aws / instCap);
  const aws = Math.max(admit(ec2Calls, runCap, runRefill), admit(c.aws, instCap, instRefill)) + boot;
  const gceCalls = Math.ceil(c.gcp / MAX_BULK);
  const gcp = admit(gceCalls, DEFAULT_PER_MINUTE.mutation, DEFAULT_PER_MINUTE.mutation / 60) + boot;
  const armCalls = Math.ceil(c.azure / 1000);
  const azure = admit(armCalls, ARM_BUCKETS.writes.capacity, ARM_BUCKETS.writes.refill) + boot;
  return {
    seconds: Math.max(aws, gcp, azure),
    perCloud: { aws, gcp, azure },
    createCalls: { aws: ec2Calls, gcp: gceCalls, azure: armCalls },
  };
}

function summarize(meter, vms) {
  const sum = (pred) => meter.filter(pred).reduce((s, c) => s + c.count, 0);
  const byCloud = {};
  for (const cloud of ['aws', 'gcp', 'azure']) {
    const of = (c) => c.cloud === cloud;
    byCloud[cloud] = {
      createCalls: sum((c) => of(c) && CREATE_ACTIONS.has(c.action) && c.outcome === 'ok'),
      calls: sum(of),
      throttled: sum((c) => of(c) && c.outcome === 'throttled'),
    };
  }
  const creates = sum((c) => CREATE_ACTIONS.has(c.action) && c.outcome === 'ok');
  const actions = {};
  for (const c of meter) {
    const key = `${c.cloud} ${c.action}${c.outcome === 'ok' ? '' : ` (${c.outcome})`}`;
    actions[key] = (actions[key] ?? 0) + c.count;
  }
  return {
    createCallsPerVm: creates / vms,
    callsPerVm: sum(() => true) / vms,
    throttled: sum((c) => c.outcome === 'throttled'),
    byCloud,
    actions,
  };
}

// ---------- skypool through apply's provider phases ----------

async function runSkypool(n) {
  const sim = await startSim();
  const dir = await mkdtemp(join(tmpdir(), 'skypool-bench-provision-'));
  const { parseSpec } = await import(join(root, 'dist/src/spec/load.js'));
  const { ClusterContext } = await import(join(root, 'dist/src/cluster/context.js'));
  const { prepare } = await import(join(root, 'dist/src/cluster/phases/prepare.js'));
  const { ensureNetworks } = await import(join(root, 'dist/src/cluster/phases/network.js'));
  const { takeInventory } = await import(join(root, 'dist/src/cluster/phases/inventory.js'));
  const { observe } = await import(join(root, 'dist/src/cluster/observe.js'));
  const { fabricPrefixes, networkKey } = await import(join(root, 'dist/src/cluster/fabric.js'));
  const { launchRunning, takeFirstManager } = await import(join(root, 'dist/src/cluster/phases/launch-nodes.js'));
  const { staticTokenCredential } = await import(join(root, 'dist/providers/azure/index.js'));
  const c = perCloud(n);
  const name = `pv${n}`;
  const spec = parseSpec({
    name,
    engine: 'swarm',
    pools: [
      { name: 'mgr', provider: 'aws', role: 'manager', count: 1, region: 'us-east-1', instanceType: 't3.medium' },
      { name: 'a', provider: 'aws', role: 'worker', count: c.aws, region: 'us-east-1', instanceType: 't3.medium' },
      { name: 'g', provider: 'gcp', role: 'worker', count: c.gcp, region: 'us-central1', instanceType: 'e2-medium' },
      {
        name: 'z',
        provider: 'azure',
        role: 'worker',
        count: c.azure,
        region: 'eastus',
        instanceType: 'Standard_D2s_v5',
      },
    ],
  });
  const ctx = new ClusterContext(
    spec,
    {
      stateDir: dir,
      readyTimeoutMs: TIMEOUT_MS,
      providers: {
        aws: { region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws, pollIntervalMs: POLL_MS },
        gcp: {
          project: PROJECT,
          region: 'us-central1',
          apiEndpoint: sim.host,
          port: sim.httpPort,
          protocol: 'http',
          accessToken: sim.credentials.gcp.accessToken,
          pollIntervalMs: POLL_MS,
        },
        azure: {
          subscriptionId: SUB,
          region: 'eastus',
          endpoint: sim.httpsUrl,
          caCertPem: sim.caCertPem,
          credential: staticTokenCredential(sim.credentials.azure.accessToken),
          pollIntervalMs: POLL_MS,
        },
      },
    },
    (await import('pino')).default({ level: 'silent' }),
  );
  const events = { retries: 0, throttledRetries: 0, launchedAt: {}, runningAt: {} };
  let t1 = 0;
  ctx.progress.on((e) => {
    const at = (performance.now() - t1) / 1000;
    if (t1 && e.type === 'queue' && e.event.type === 'launch-done') events.launchedAt[e.event.pool] = at;
    if (t1 && e.type === 'node' && e.state === 'running') events.runningAt[e.pool] = at;
    if (e.type === 'queue' && e.event.type === 'retry') {
      events.retries++;
      if (e.event.code === 'THROTTLED') events.throttledRetries++;
    }
  });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  const signal = abort.signal;
  const t0 = performance.now();
  let setupMs;
  let provisionMs;
  let running = 0;
  let error;
  let meter = [];
  try {
    await prepare(ctx);
    await ensureNetworks(ctx, signal);
    const instances = await takeInventory(ctx, ctx.hasPki(), signal);
    await ctx.pki();
    const { plan } = await observe(ctx, instances, signal);
    const launches = plan.creates.filter((p) => p.names.length > 0).map((p) => ({ pool: p.pool, names: [...p.names] }));
    takeFirstManager(ctx, launches); // the manager's VM would run the engine: not launched here
    const prefixes = fabricPrefixes(ctx.spec, instances);
    setupMs = performance.now() - t0;
    await sim.reset();
    t1 = performance.now();
    const up = await launchRunning(ctx, launches, [], (l) => prefixes.get(networkKey(l.pool)), signal);
    provisionMs = performance.now() - t1;
    running = up.filter((i) => i.state === 'running' && i.privateIp).length;
  } catch (e) {
    error = `${e.code ?? e.name}: ${String(e.message).split('\n')[0].slice(0, 300)}`;
    provisionMs = performance.now() - t0 - (setupMs ?? 0);
  } finally {
    clearTimeout(timer);
    meter = await sim.meter();
    await ctx.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    seconds: provisionMs / 1000,
    setupSeconds: (setupMs ?? 0) / 1000,
    running,
    error,
    events,
    ...summarize(meter, n),
  };
}

// ---------- the one-create-call-per-VM loop ----------

async function runLoop(n) {
  const sim = await startSim();
  const c = perCloud(n);
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16, ca: sim.caCertPem });
  /** One HTTP exchange: { status, headers, text }. */
  const send = (url, method, headers, payload) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
        u,
        { method, agent: u.protocol === 'https:' ? httpsAgent : httpAgent, headers },
        (res) => {
          const chunks = [];
          res.on('data', (ch) => chunks.push(ch));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  /** A call retried while the cloud throttles it, after its Retry-After (1 s without one). */
  const call = async (what, exchange, isThrottle) => {
    for (let attempt = 0; ; attempt++) {
      const r = await exchange();
      if (r.status < 300) return r;
      if (isThrottle(r) && attempt < 500) {
        await sleep(Number(r.headers['retry-after'] ?? 1) * 1000);
        continue;
      }
      throw new Error(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
    }
  };
  const each = async (count, limit, fn) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: Math.min(limit, count) }, async () => {
        while (i < count) await fn(i++);
      }),
    );
  };
  const userData = '#!/bin/sh\n# bench\n'.padEnd(2048, '#');
  const tags = {
    'skypool-cluster': 'loop',
    'skypool-pool': 'w',
    'skypool-role': 'worker',
    'skypool-spec-hash': 'loop',
  };

  // EC2 (SigV4 like the SDK), RequestLimitExceeded retried.
  const ec2Host = new URL(sim.httpUrl).host;
  const ec2 = (params) => {
    const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
    return call(
      params.Action,
      () => send(`${sim.httpUrl}/`, 'POST', signEc2Post(sim.credentials.aws, ec2Host, body), body),
      (r) => r.text.includes('RequestLimitExceeded'),
    );
  };
  const field = (xml, tag) => new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)?.[1];
  // GCE, rateLimitExceeded retried.
  const gceBase = `${sim.httpUrl}/compute/v1/projects/${PROJECT}`;
  const gceHeaders = { authorization: `Bearer ${sim.credentials.gcp.accessToken}`, 'content-type': 'application/json' };
  const gce = (method, path, body) =>
    call(
      path,
      () => send(`${gceBase}/${path}`, method, gceHeaders, body && JSON.stringify(body)),
      (r) => r.status === 429 || r.text.includes('rateLimitExceeded'),
    );
  // ARM, 429 retried.
  const armHeaders = {
    authorization: `Bearer ${sim.credentials.azure.accessToken}`,
    'content-type': 'application/json',
  };
  const arm = (method, path, body) =>
    call(
      path,
      () =>
        send(
          path.startsWith('https:') ? path : `${sim.httpsUrl}${path}`,
          method,
          armHeaders,
          body && JSON.stringify(body),
        ),
      (r) => r.status === 429,
    );

  // Networks (not timed).
  const imageId = field(
    (
      await ec2({
        Action: 'DescribeImages',
        'Owner.1': '099720109477',
        'Filter.1.Name': 'name',
        'Filter.1.Value.1': 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*',
      })
    ).text,
    'imageId',
  );
  const vpcId = field((await ec2({ Action: 'CreateVpc', CidrBlock: '10.40.0.0/16' })).text, 'vpcId');
  const subnetId = field(
    (await ec2({ Action: 'CreateSubnet', VpcId: vpcId, CidrBlock: '10.40.0.0/16', AvailabilityZone: 'us-east-1a' }))
      .text,
    'subnetId',
  );
  const rg = `/subscriptions/${SUB}/resourceGroups/loop`;
  const net = (p) => `${rg}/providers/Microsoft.Network/${p}?api-version=2025-05-01`;
  await arm('PUT', `${rg}?api-version=2025-04-01`, { location: 'eastus' });
  await arm('PUT', net('virtualNetworks/loop-vnet'), {
    location: 'eastus',
    properties: {
      addressSpace: { addressPrefixes: ['10.42.0.0/16'] },
      subnets: [{ name: 'nodes', properties: { addressPrefix: '10.42.0.0/16' } }],
    },
  });
  for (;;) {
    const r = await send(`${sim.httpsUrl}${net('virtualNetworks/loop-vnet')}`, 'GET', armHeaders);
    if (JSON.parse(r.text).properties?.provisioningState === 'Succeeded') break;
    await sleep(20);
  }
  const subnet = `${rg}/providers/Microsoft.Network/virtualNetworks/loop-vnet/subnets/nodes`;

  await sim.reset();
  const t0 = performance.now();
  const done = {};
  const ec2Tags = Object.entries(tags).flatMap(([k, v], t) => [
    [`TagSpecification.1.Tag.${t + 1}.Key`, k],
    [`TagSpecification.1.Tag.${t + 1}.Value`, v],
  ]);
  const awsPart = (async () => {
    await each(c.aws, 4, (i) =>
      ec2({
        Action: 'RunInstances',
        ImageId: imageId,
        InstanceType: 't3.medium',
        MinCount: '1',
        MaxCount: '1',
        SubnetId: subnetId,
        UserData: Buffer.from(userData).toString('base64'),
        'TagSpecification.1.ResourceType': 'instance',
        ...Object.fromEntries(ec2Tags),
        ClientToken: `loop-${i}`,
      }),
    );
    // wait_until_running: one listing per poll.
    for (;;) {
      let running = 0;
      let token;
      do {
        const r = await ec2({
          Action: 'DescribeInstances',
          'Filter.1.Name': 'tag:skypool-cluster',
          'Filter.1.Value.1': 'loop',
          MaxResults: '1000',
          ...(token ? { NextToken: token } : {}),
        });
        running += (r.text.match(/<name>running<\/name>/g) ?? []).length;
        token = field(r.text, 'nextToken');
      } while (token);
      if (running >= c.aws) break;
      await sleep(POLL_MS);
    }
    done.aws = (performance.now() - t0) / 1000;
  })();
  const gcpPart = (async () => {
    await each(c.gcp, 4, (i) =>
      gce('POST', 'zones/us-central1-a/instances', {
        name: `loop-${i}`,
        machineType: 'zones/us-central1-a/machineTypes/e2-medium',
        labels: tags,
        metadata: { items: [{ key: 'user-data', value: userData }] },
        disks: [
          {
            boot: true,
            autoDelete: true,
            initializeParams: { sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64' },
          },
        ],
        networkInterfaces: [
          { subnetwork: 'regions/us-central1/subnetworks/default', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] },
        ],
      }),
    );
    for (;;) {
      let running = 0;
      let token;
      do {
        const q = new URLSearchParams({
          filter: 'labels.skypool-cluster = "loop"',
          maxResults: '500',
          ...(token ? { pageToken: token } : {}),
        });
        const page = JSON.parse((await gce('GET', `zones/us-central1-a/instances?${q}`)).text);
        running += (page.items ?? []).filter((vm) => vm.status === 'RUNNING').length;
        token = page.nextPageToken;
      } while (token);
      if (running >= c.gcp) break;
      await sleep(POLL_MS);
    }
    done.gcp = (performance.now() - t0) / 1000;
  })();
  const azurePart = (async () => {
    const customData = Buffer.from(userData).toString('base64');
    await each(c.azure, 4, async (i) => {
      const vm = `loop-${i}`;
      await arm('PUT', net(`publicIPAddresses/${vm}-ip`), {
        location: 'eastus',
        tags,
        sku: { name: 'Standard' },
        properties: { publicIPAllocationMethod: 'Static' },
      });
      await arm('PUT', net(`networkInterfaces/${vm}-nic`), {
        location: 'eastus',
        tags,
        properties: {
          ipConfigurations: [
            {
              name: 'ipconfig1',
              properties: {
                subnet: { id: subnet },
                publicIPAddress: { id: `${rg}/providers/Microsoft.Network/publicIPAddresses/${vm}-ip` },
              },
            },
          ],
        },
      });
      await arm('PUT', `${rg}/providers/Microsoft.Compute/virtualMachines/${vm}?api-version=2026-03-01`, {
        location: 'eastus',
        tags,
        properties: {
          hardwareProfile: { vmSize: 'Standard_D2s_v5' },
          storageProfile: {
            imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
            osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
          },
          osProfile: {
            computerName: vm,
            adminUsername: 'loop',
            customData,
            linuxConfiguration: {
              disablePasswordAuthentication: true,
              ssh: {
                publicKeys: [
                  {
                    path: '/home/loop/.ssh/authorized_keys',
                    keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench loop',
                  },
                ],
              },
            },
          },
          networkProfile: {
            networkInterfaces: [
              {
                id: `${rg}/providers/Microsoft.Network/networkInterfaces/${vm}-nic`,
                properties: { deleteOption: 'Delete' },
              },
            ],
          },
        },
      });
    });
    for (;;) {
      let running = 0;
      let url = `${rg}/providers/Microsoft.Compute/virtualMachines?api-version=2026-03-01`;
      while (url) {
        const page = JSON.parse((await arm('GET', url)).text);
        running += page.value.filter((vm) => vm.properties?.provisioningState === 'Succeeded').length;
        url = page.nextLink;
      }
      if (running >= c.azure) break;
      await sleep(POLL_MS);
    }
    done.azure = (performance.now() - t0) / 1000;
  })();
  let error;
  try {
    await Promise.race([
      Promise.all([awsPart, gcpPart, azurePart]),
      sleep(TIMEOUT_MS).then(() => {
        throw new Error(`not done after ${TIMEOUT_MS / 1000} s`);
      }),
    ]);
  } catch (e) {
    error = String(e.message).slice(0, 300);
  }
  const seconds = (performance.now() - t0) / 1000;
  const meter = await sim.meter();
  httpAgent.destroy();
  httpsAgent.destroy();
  await sim.stop();
  return { seconds, perCloudSeconds: done, error, ...summarize(meter, n) };
}

async function main() {
  const rows = [];
  for (const n of SIZES) {
    const floor = await floorOf(n);
    const skypool = await runSkypool(n);
    const timeOverFloor = skypool.error ? null : skypool.seconds / floor.seconds;
    console.log(
      `${n} VMs: skypool ${skypool.seconds.toFixed(2)} s${skypool.error ? ` FAILED (${skypool.error})` : ''}, ${skypool.running} running; floor ${floor.seconds.toFixed(2)} s (aws ${floor.perCloud.aws.toFixed(1)}, gcp ${floor.perCloud.gcp.toFixed(1)}, azure ${floor.perCloud.azure.toFixed(1)}); ` +
        `${timeOverFloor?.toFixed(2) ?? '-'}× floor; create calls/VM ${skypool.createCallsPerVm.toFixed(3)} (aws ${skypool.byCloud.aws.createCalls}, gcp ${skypool.byCloud.gcp.createCalls}, azure ${skypool.byCloud.azure.createCalls}); calls/VM ${skypool.callsPerVm.toFixed(2)}; throttled ${skypool.throttled}`,
    );
    const fmt = (o) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ');
    console.log(`  launched at: ${fmt(skypool.events.launchedAt)}; running at: ${fmt(skypool.events.runningAt)} s`);
    let loop;
    if (LOOP) {
      loop = await runLoop(n);
      console.log(
        `${n} VMs: loop ${loop.seconds.toFixed(2)} s${loop.error ? ` FAILED (${loop.error})` : ''} (aws ${loop.perCloudSeconds.aws?.toFixed(1)}, gcp ${loop.perCloudSeconds.gcp?.toFixed(1)}, azure ${loop.perCloudSeconds.azure?.toFixed(1)}); create calls/VM ${loop.createCallsPerVm.toFixed(2)}; throttled ${loop.throttled}`,
      );
    }
    const speedupOverLoop = loop && !skypool.error ? loop.seconds / skypool.seconds : null;
    if (speedupOverLoop) console.log(`${n} VMs: skypool ${speedupOverLoop.toFixed(1)}× faster than the loop`);
    rows.push({ vms: n, floorSeconds: floor.seconds, floor, timeOverFloor, speedupOverLoop, skypool, loop });
  }
  const top = rows.find((r) => r.vms === Math.max(...SIZES));
  const file = join(root, 'bench', 'results', 'provision.json');
  const previous = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
  const label = process.env.BENCH_LABEL;
  const history = { ...(previous?.history ?? {}) };
  const summary = (rs) =>
    rs.map((r) => ({
      vms: r.vms,
      seconds: r.skypool.seconds,
      error: r.skypool.error,
      timeOverFloor: r.timeOverFloor,
      createCallsPerVm: r.skypool.createCallsPerVm,
      callsPerVm: r.skypool.callsPerVm,
      throttled: r.skypool.throttled,
      loopSeconds: r.loop?.seconds,
      speedupOverLoop: r.speedupOverLoop,
    }));
  if (label) history[label] = summary(rows);
  await writeResult('provision', {
    vms: top.vms,
    timeOverFloor: top.timeOverFloor,
    createCallsPerVm: top.skypool.createCallsPerVm,
    throttled: top.skypool.throttled,
    speedupOverLoop: top.speedupOverLoop,
    targets: { timeOverFloor: 1.1, createCallsPerVm: 0.02, throttled: 0, speedupOverLoop: 10 },
    settings: { bootMs: BOOT_MS, pollMs: POLL_MS, limits: 'cloudsim defaults', backing: 'virtual' },
    loadAverage: loadavg()[0],
    sizes: rows,
    history,
  });
}

if (process.argv[2] !== 'server') await main();
