// cloudsim ARM: 10,000 virtual VMs (each with its NIC) created through the API, then requests/s of
// virtualMachines.list pages (50 VMs each, nextLink paging) for a fixed duration, and heap bytes per VM.
// The simulator runs in a child process (one core); this process is the client (raw https keep-alive, and the
// official SDK for a single-client figure). Run after `npx tsc`: node --expose-gc bench/cloudsim-arm.mjs
import { Agent, request } from 'node:https';
import { ARM_LINUX_CONFIGURATION, forkSimChild, serveSimInChild, timedLoops, verdict, writeResult } from './lib.mjs';

const SUB = '0b0b0b0b-1111-4222-8333-444444444444';
const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);

if (process.argv[2] === 'server') {
  await serveSimInChild('azure');
} else {
  const { child, next, ready } = await forkSimChild(import.meta.url);
  const { url, ca, heapAfterStart } = ready;
  const TOKEN = ready.credentials.azure.accessToken;
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca });

  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        new URL(path, url),
        {
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
  const must = async (method, path, body, ok = [200, 201, 202]) => {
    const r = await call(method, path, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    return r;
  };
  const pool = async (n, limit, fn) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: limit }, async () => {
        while (i < n) await fn(i++);
      }),
    );
  };

  const rg = `/subscriptions/${SUB}/resourceGroups/bench`;
  const net = (p) => `${rg}/providers/Microsoft.Network/${p}?api-version=2025-05-01`;
  const vmUrl = (p) => `${rg}/providers/Microsoft.Compute/virtualMachines${p}?api-version=2026-03-01`;
  await must('PUT', `${rg}?api-version=2025-04-01`, { location: 'eastus', tags: { 'skypool-cluster': 'bench' } });
  await must('PUT', net('virtualNetworks/vnet'), {
    location: 'eastus',
    properties: {
      addressSpace: { addressPrefixes: ['10.40.0.0/16'] },
      subnets: [{ name: 'nodes', properties: { addressPrefix: '10.40.0.0/16' } }],
    },
  });
  const subnet = `${rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes`;
  const tags = {
    'skypool-cluster': 'bench',
    'skypool-pool': 'workers',
    'skypool-role': 'worker',
    'skypool-spec-hash': '3f9a2c1b',
  };
  const customData = Buffer.from('#!/bin/sh\n# skypool user-data\n'.padEnd(2048, '#')).toString('base64');
  const fillStart = performance.now();
  await pool(VMS, 32, async (i) => {
    const name = `bench-workers-${i}`;
    await must('PUT', net(`networkInterfaces/${name}-nic`), {
      location: 'eastus',
      tags,
      properties: { ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: subnet } } }] },
    });
    await must('PUT', vmUrl(`/${name}`), {
      location: 'eastus',
      tags,
      zones: [String((i % 3) + 1)],
      properties: {
        hardwareProfile: { vmSize: 'Standard_D2s_v5' },
        storageProfile: {
          imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
          osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
        },
        osProfile: {
          computerName: name,
          adminUsername: 'skypool',
          customData,
          linuxConfiguration: ARM_LINUX_CONFIGURATION,
        },
        networkProfile: {
          networkInterfaces: [
            {
              id: `${rg}/providers/Microsoft.Network/networkInterfaces/${name}-nic`,
              properties: { deleteOption: 'Delete' },
            },
          ],
        },
      },
    });
  });
  const fillSeconds = (performance.now() - fillStart) / 1000;
  console.log(
    `filled ${VMS} VMs + NICs with ${VMS * 2 + 2} PUTs in ${fillSeconds.toFixed(1)} s (${((VMS * 2) / fillSeconds).toFixed(0)} PUT/s)`,
  );

  child.send('heap');
  const { heap } = await next();
  const bytesPerVm = (heap - heapAfterStart) / VMS;

  // Raw pages: IN_FLIGHT loops each walking the nextLink chain, restarting at the first page. The client only
  // finds nextLink (no full parse) so that it, not the simulator, is not the bottleneck.
  const first = vmUrl('');
  const pageSize = JSON.parse((await must('GET', first)).text).value.length;
  const nextOf = (text) => {
    const at = text.lastIndexOf('"nextLink":"');
    return at < 0 ? undefined : text.slice(at + 12, text.indexOf('"', at + 12));
  };
  let pages = 0;
  let bytes = 0;
  const { elapsed, serverCpuSeconds } = await timedLoops({
    child,
    next,
    seconds: SECONDS,
    inFlight: IN_FLIGHT,
    loop: async (until) => {
      let path = first;
      while (performance.now() < until) {
        const r = await must('GET', path);
        pages++;
        bytes += r.text.length;
        const link = nextOf(r.text);
        path = link ? link.slice(url.length) : first;
      }
    },
  });
  const pagesPerSecond = pages / elapsed;
  // The machine is shared: the rate one core sustains is pages per CPU-second the simulator process used.
  const pagesPerCpuSecond = pages / serverCpuSeconds;
  console.log(
    `raw https: ${pages} pages of ${pageSize} VMs (${(bytes / pages / 1024).toFixed(1)} KiB each) in ${elapsed.toFixed(1)} s = ${pagesPerSecond.toFixed(0)}/s wall; simulator used ${((serverCpuSeconds / elapsed) * 100).toFixed(0)}% of a core = ${((serverCpuSeconds / pages) * 1000).toFixed(3)} ms CPU per page`,
  );
  child.send('heap');
  const { heap: heapAfterList } = await next();

  // The official SDK as one sequential client (its deserialization runs in this process).
  const { ComputeManagementClient } = await import('@azure/arm-compute');
  const compute = new ComputeManagementClient(
    { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) },
    SUB,
    { endpoint: url, tlsOptions: { ca } },
  );
  let sdkPages = 0;
  const sdkUntil = performance.now() + Math.min(3, SECONDS) * 1000;
  const s0 = performance.now();
  outer: for (;;) {
    for await (const page of compute.virtualMachines.list('bench').byPage()) {
      sdkPages++;
      if (page.length === 0 || performance.now() > sdkUntil) break outer;
    }
  }
  const sdkPagesPerSecond = sdkPages / ((performance.now() - s0) / 1000);
  console.log(`official SDK, one sequential client: ${sdkPagesPerSecond.toFixed(0)} pages/s`);

  const result = {
    vms: VMS,
    pageSize,
    fillPutsPerSecond: (VMS * 2) / fillSeconds,
    listPagesPerCpuSecond: verdict(
      'virtualMachines.list pages per CPU-second of the simulator (one core)',
      pagesPerCpuSecond,
      2000,
      'req/s',
      false,
    ),
    listPagesPerSecondWall: pagesPerSecond,
    vmsListedPerCpuSecond: pagesPerCpuSecond * pageSize,
    simulatorCpuMsPerPage: (serverCpuSeconds / pages) * 1000,
    sdkListPagesPerSecond: sdkPagesPerSecond,
    heapBytesPerVm: verdict('heap per virtual VM incl. its NIC', bytesPerVm, 5120, 'bytes'),
    heapBytesPerVmWithJsonCache: verdict(
      'heap per virtual VM after listing (JSON cache warm)',
      (heapAfterList - heapAfterStart) / VMS,
      5120,
      'bytes',
    ),
    loadAverage: (await import('node:os')).loadavg()[0],
  };
  await writeResult('cloudsim-arm', result);
  child.send('stop');
  agent.destroy();
}
