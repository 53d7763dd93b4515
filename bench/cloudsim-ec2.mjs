// cloudsim EC2: 10,000 virtual VMs created through the API (RunInstances, 1,000 per call), then requests/s of
// DescribeInstances pages (MaxResults 50, tag filter, NextToken paging) for a fixed duration, and heap bytes per
// VM. The simulator runs in a child process (one core); this process is the client (raw http keep-alive, each
// request SigV4-signed with the sim's key; the official SDK for a single-client figure).
// Run after `npx tsc`: node --expose-gc bench/cloudsim-ec2.mjs   (BENCH_VMS, BENCH_SECONDS, BENCH_PAGE, BENCH_IN_FLIGHT)
import { Agent, request } from 'node:http';
import { forkSimChild, serveSimInChild, signEc2Post, timedLoops, verdict, writeResult } from './lib.mjs';

const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PAGE = Number(process.env.BENCH_PAGE ?? 50);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);
const REGION = 'us-east-1';

if (process.argv[2] === 'server') {
  await serveSimInChild('aws');
} else {
  const { child, next, ready } = await forkSimChild(import.meta.url);
  const { port, heapAfterStart, credentials } = ready;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  const call = (params) =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          method: 'POST',
          agent,
          headers: signEc2Post(credentials.aws, `127.0.0.1:${port}`, body, REGION),
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({
              status: res.statusCode,
              body,
              get text() {
                return body.toString('utf8');
              },
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const must = async (params) => {
    const r = await call(params);
    if (r.status !== 200) throw new Error(`${params.Action}: ${r.status} ${r.text.slice(0, 300)}`);
    return r.text;
  };
  const field = (xml, name) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];

  const images = await must({
    Action: 'DescribeImages',
    'Owner.1': '099720109477',
    'Filter.1.Name': 'name',
    'Filter.1.Value.1': 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*',
  });
  const imageId = field(images, 'imageId');
  const vpcId = field(await must({ Action: 'CreateVpc', CidrBlock: '10.40.0.0/16' }), 'vpcId');
  const subnetId = field(
    await must({ Action: 'CreateSubnet', VpcId: vpcId, CidrBlock: '10.40.0.0/17', AvailabilityZone: `${REGION}a` }),
    'subnetId',
  );
  const tags = {
    'skypool-cluster': 'bench',
    'skypool-pool': 'workers',
    'skypool-role': 'worker',
    'skypool-spec-hash': '3f9a2c1b',
  };
  const tagParams = Object.fromEntries(
    Object.entries(tags).flatMap(([k, v], i) => [
      [`TagSpecification.1.Tag.${i + 1}.Key`, k],
      [`TagSpecification.1.Tag.${i + 1}.Value`, v],
    ]),
  );
  const userData = Buffer.from('#!/bin/sh\n# skypool user-data\n'.padEnd(2048, '#')).toString('base64');
  const fillStart = performance.now();
  for (let left = VMS, batch = 0; left > 0; batch++) {
    const count = Math.min(1000, left);
    left -= count;
    await must({
      Action: 'RunInstances',
      ImageId: imageId,
      InstanceType: 't3.medium',
      MinCount: String(count),
      MaxCount: String(count),
      SubnetId: subnetId,
      UserData: userData,
      'MetadataOptions.HttpTokens': 'required',
      'TagSpecification.1.ResourceType': 'instance',
      ...tagParams,
      ClientToken: `bench-${batch}`,
    });
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  console.log(`filled ${VMS} VMs with ${Math.ceil(VMS / 1000)} RunInstances calls in ${fillSeconds.toFixed(2)} s`);

  child.send('heap');
  const { heap } = await next();
  const bytesPerVm = (heap - heapAfterStart) / VMS;

  // Raw pages: IN_FLIGHT loops each walking the NextToken chain, restarting at the first page. Every 100th page
  // is counted fully, so the client's own parsing does not become what is measured. Run at the page size asked
  // for and at EC2's minimum MaxResults (5), since bytes per page decide the rate.
  const measure = async (pageSize) => {
    const first = {
      Action: 'DescribeInstances',
      MaxResults: String(pageSize),
      'Filter.1.Name': 'tag:skypool-cluster',
      'Filter.1.Value.1': 'bench',
    };
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
        let params = first;
        while (performance.now() < until) {
          const r = await call(params);
          if (r.status !== 200) throw new Error(`DescribeInstances: ${r.status} ${r.text.slice(0, 200)}`);
          pages++;
          bytes += r.body.length;
          if (pages % 100 === 1) {
            sampled++;
            sampledItems += r.text.split('<instanceId>').length - 1;
          }
          // nextToken closes the document: find it from the end of the bytes instead of decoding the whole page.
          const at = r.body.lastIndexOf('<nextToken>');
          const token =
            at < 0 ? undefined : r.body.subarray(at + 11, r.body.indexOf('</nextToken>', at)).toString('latin1');
          params = token ? { ...first, NextToken: token } : first;
        }
      },
    });
    const serverCpu = serverCpuSeconds / elapsed;
    const perSecond = pages / elapsed;
    const items = sampledItems / sampled;
    console.log(
      `raw http, MaxResults ${pageSize}: ${pages} pages (~${items.toFixed(0)} VMs, ${(bytes / pages / 1024).toFixed(1)} KiB/page) in ${elapsed.toFixed(1)} s; server CPU ${(serverCpu * 100).toFixed(0)}% of one core (${(perSecond / serverCpu).toFixed(0)} pages per server CPU-second)`,
    );
    return {
      pageSize: items,
      pagesPerSecond: perSecond,
      serverCpuCores: serverCpu,
      pagesPerServerCpuSecond: perSecond / serverCpu,
      kibPerPage: bytes / pages / 1024,
    };
  };
  const main = await measure(PAGE);
  const small = PAGE === 5 ? main : await measure(5);
  const pagesPerSecond = main.pagesPerSecond;
  const pageSize = main.pageSize;
  const serverCpu = main.serverCpuCores;

  // The official SDK as one sequential client (its XML parsing runs in this process).
  const { EC2Client, DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({
    region: REGION,
    endpoint: `http://127.0.0.1:${port}`,
    credentials: credentials.aws,
  });
  let sdkPages = 0;
  let NextToken;
  const sdkUntil = performance.now() + Math.min(3, SECONDS) * 1000;
  const s0 = performance.now();
  while (performance.now() < sdkUntil) {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        MaxResults: PAGE,
        Filters: [{ Name: 'tag:skypool-cluster', Values: ['bench'] }],
        NextToken,
      }),
    );
    sdkPages++;
    NextToken = out.NextToken;
  }
  const sdkPagesPerSecond = sdkPages / ((performance.now() - s0) / 1000);
  console.log(`official SDK, one sequential client: ${sdkPagesPerSecond.toFixed(0)} pages/s`);
  ec2.destroy();

  const result = {
    vms: VMS,
    pageSize,
    fillSeconds,
    listPagesPerSecond: verdict(
      `DescribeInstances pages/s (${PAGE} per page, tag filter, raw http keep-alive, sim on one core)`,
      pagesPerSecond,
      2000,
      'req/s',
      false,
    ),
    vmsListedPerSecond: pagesPerSecond * pageSize,
    serverCpuCores: serverCpu,
    pagesPerServerCpuSecond: main.pagesPerServerCpuSecond,
    minimumPage: {
      ...small,
      verdict: verdict(
        'DescribeInstances pages/s at MaxResults 5 (EC2 minimum)',
        small.pagesPerSecond,
        2000,
        'req/s',
        false,
      ),
    },
    loadAverage: (await import('node:os')).loadavg()[0],
    sdkListPagesPerSecond: sdkPagesPerSecond,
    heapBytesPerVm: verdict('heap per virtual VM', bytesPerVm, 5120, 'bytes'),
  };
  await writeResult('cloudsim-ec2', result);
  child.send('stop');
  agent.destroy();
}
