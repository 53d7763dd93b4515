// cloudsim Compute Engine: 10,000 virtual VMs created through the API (instances.bulkInsert, 5,000 per call),
// then requests/s of instances.list pages (maxResults 50, label filter, nextPageToken paging) for a fixed
// duration, and heap bytes per VM. The simulator runs in a child process (one core); this process is the
// client (raw http keep-alive; the official SDK for a single-client figure).
// Run after `npx tsc`: node --expose-gc bench/cloudsim-gce.mjs   (BENCH_VMS, BENCH_SECONDS, BENCH_PAGE, BENCH_IN_FLIGHT)
import { Agent, request } from 'node:http';
import { forkSimChild, serveSimInChild, timedLoops, verdict, writeResult } from './lib.mjs';

const PROJECT = 'bench-project';
const ZONE = 'us-central1-a';
const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PAGE = Number(process.env.BENCH_PAGE ?? 50);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);

if (process.argv[2] === 'server') {
  await serveSimInChild('gcp');
} else {
  const { child, next, ready } = await forkSimChild(import.meta.url);
  const { port, heapAfterStart } = ready;
  const TOKEN = ready.credentials.gcp.accessToken;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const base = `/compute/v1/projects/${PROJECT}`;

  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          agent,
          headers: { authorization: `Bearer ${TOKEN}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  const must = async (method, path, body) => {
    const r = await call(method, path, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text);
  };
  const done = async (op, scope) => {
    while (op.status !== 'DONE') op = await must('POST', `${base}/${scope}/operations/${op.name}/wait`, '');
    if (op.error) throw new Error(JSON.stringify(op.error));
  };

  await done(
    await must('POST', `${base}/global/networks`, { name: 'bench-net', autoCreateSubnetworks: false }),
    'global',
  );
  await done(
    await must('POST', `${base}/regions/us-central1/subnetworks`, {
      name: 'bench-sub',
      network: 'global/networks/bench-net',
      ipCidrRange: '10.40.0.0/16',
    }),
    'regions/us-central1',
  );
  const labels = {
    'skypool-cluster': 'bench',
    'skypool-pool': 'workers',
    'skypool-role': 'worker',
    'skypool-spec-hash': '3f9a2c1b',
  };
  const userData = '#!/bin/sh\n# skypool user-data\n'.padEnd(2048, '#');
  const fillStart = performance.now();
  for (let left = VMS, batch = 0; left > 0; batch++) {
    const count = Math.min(5000, left);
    left -= count;
    const op = await must('POST', `${base}/zones/${ZONE}/instances/bulkInsert`, {
      count: String(count),
      minCount: String(count),
      namePattern: `bench-b${batch}-#####`,
      instanceProperties: {
        machineType: 'e2-standard-2',
        labels,
        tags: { items: ['skypool-bench'] },
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
    await done(op, `zones/${ZONE}`);
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  console.log(`filled ${VMS} VMs with ${Math.ceil(VMS / 5000)} bulkInsert calls in ${fillSeconds.toFixed(2)} s`);

  child.send('heap');
  const { heap } = await next();
  const bytesPerVm = (heap - heapAfterStart) / VMS;

  // Raw pages: IN_FLIGHT loops each walking the nextPageToken chain, restarting at the first page. The client
  // keeps the body as buffers, reads the token from the tail (it sits just before selfLink at the end) and
  // parses every 100th page fully to count items, so client-side JSON work does not dominate the measurement.
  const filter = encodeURIComponent('labels.skypool-cluster = "bench"');
  const first = `${base}/zones/${ZONE}/instances?maxResults=${PAGE}&filter=${filter}`;
  const getPage = (path) =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path, method: 'GET', agent, headers: { authorization: `Bearer ${TOKEN}` } },
        (res) => {
          const chunks = [];
          let size = 0;
          res.on('data', (c) => {
            chunks.push(c);
            size += c.length;
          });
          res.on('end', () => resolve({ status: res.statusCode, chunks, size }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  let pages = 0;
  let sampled = 0;
  let sampledItems = 0;
  let bytes = 0;
  const { elapsed, serverCpuSeconds } = await timedLoops({
    child,
    next,
    seconds: SECONDS,
    inFlight: IN_FLIGHT,
    loop: async (until) => {
      let path = first;
      while (performance.now() < until) {
        const r = await getPage(path);
        if (r.status !== 200) throw new Error(`list: ${r.status} ${Buffer.concat(r.chunks).toString().slice(0, 200)}`);
        pages++;
        bytes += r.size;
        if (pages % 100 === 1) {
          sampled++;
          sampledItems += JSON.parse(Buffer.concat(r.chunks).toString('utf8')).items.length;
        }
        const last = Buffer.concat(r.chunks.slice(-2));
        const tail = last.toString('latin1', Math.max(0, last.length - 400));
        const token = /"nextPageToken":"([^"]+)"/.exec(tail)?.[1];
        path = token ? `${first}&pageToken=${token}` : first;
      }
    },
  });
  const serverCpu = serverCpuSeconds / elapsed;
  const pagesPerSecond = pages / elapsed;
  const pageSize = sampledItems / sampled;
  // What one core of the simulator sustains: pages served per second of its own CPU time (the client shares
  // the machine's other core, so on a busy or 2-core box the measured rate is bounded by the client).
  const pagesPerServerCpuSecond = pages / (serverCpu * elapsed);
  console.log(
    `raw http: ${pages} pages (~${pageSize.toFixed(0)} VMs, ${(bytes / pages / 1024).toFixed(1)} KiB/page) in ${elapsed.toFixed(1)} s = ${pagesPerSecond.toFixed(0)} pages/s; server CPU ${(serverCpu * 100).toFixed(0)}% of one core`,
  );

  // The official SDK as one sequential client (REST fallback; its protobuf decoding runs in this process).
  const { InstancesClient } = await import('@google-cloud/compute');
  const { OAuth2Client } = await import('google-auth-library');
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: TOKEN, expiry_date: Date.now() + 3_600_000 });
  const instances = new InstancesClient({
    apiEndpoint: '127.0.0.1',
    port,
    protocol: 'http',
    authClient,
    fallback: true,
  });
  let sdkPages = 0;
  let pageToken;
  const sdkUntil = performance.now() + Math.min(3, SECONDS) * 1000;
  const s0 = performance.now();
  while (performance.now() < sdkUntil) {
    const [, nextRequest] = await instances.list(
      { project: PROJECT, zone: ZONE, maxResults: PAGE, filter: 'labels.skypool-cluster = "bench"', pageToken },
      { autoPaginate: false },
    );
    sdkPages++;
    pageToken = nextRequest?.pageToken ?? undefined;
  }
  const sdkPagesPerSecond = sdkPages / ((performance.now() - s0) / 1000);
  console.log(`official SDK, one sequential client: ${sdkPagesPerSecond.toFixed(0)} pages/s`);
  await instances.close();

  const result = {
    vms: VMS,
    pageSize,
    fillSeconds,
    listPagesPerSecond: pagesPerSecond,
    listPagesPerServerCoreSecond: verdict(
      `instances.list pages per second of sim CPU (${PAGE} per page, label filter, raw http keep-alive)`,
      pagesPerServerCpuSecond,
      2000,
      'req/s',
      false,
    ),
    loadAverage: (await import('node:os')).loadavg()[0],
    vmsListedPerSecond: pagesPerSecond * pageSize,
    serverCpuCores: serverCpu,
    sdkListPagesPerSecond: sdkPagesPerSecond,
    heapBytesPerVm: verdict('heap per virtual VM', bytesPerVm, 5120, 'bytes'),
  };
  await writeResult('cloudsim-gce', result);
  child.send('stop');
  agent.destroy();
}
