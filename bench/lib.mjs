// Shared helpers for benchmarks: ratios measured in one run (machines are noisy), JSON under bench/results/.
import { createHash, createHmac } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function writeResult(name, result) {
  const file = join(root, 'bench', 'results', `${name}.json`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify({ bench: name, at: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

/** "value vs target": ratio below 1 means better than the target for a "lower is better" metric. */
export function verdict(label, value, target, unit, lowerIsBetter = true) {
  const ratio = value / target;
  const ok = lowerIsBetter ? value <= target : value >= target;
  console.log(
    `${label}: ${value.toFixed(1)} ${unit} (target ${lowerIsBetter ? '<' : '≥'} ${target} ${unit}, ratio ${ratio.toFixed(2)}) ${ok ? 'OK' : 'MISSED'}`,
  );
  return { value, target, unit, ratio, ok };
}

/**
 * cloudsim benchmarks run the simulator alone in a child process, so its heap and CPU are measured without the
 * client's. Child side: start the sim (rate limits off for `cloud`) and answer 'heap', 'cpu' and 'stop'.
 */
export async function serveSimInChild(cloud) {
  const { startCloudSim } = await import(join(root, 'dist/src/cloudsim/index.js'));
  const gcHeap = () => {
    globalThis.gc?.();
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  const baseline = gcHeap();
  const sim = await startCloudSim({ bootTimeMs: 1, rateLimits: { [cloud]: { enabled: false } } });
  process.on('message', async (msg) => {
    if (msg === 'heap') process.send({ heap: gcHeap(), baseline });
    if (msg === 'cpu') process.send({ cpu: process.cpuUsage() });
    if (msg === 'stop') {
      await sim.stop();
      process.exit(0);
    }
  });
  process.send({
    port: sim.httpPort,
    url: sim.httpsUrl,
    ca: sim.caCertPem,
    credentials: sim.credentials,
    heapAfterStart: gcHeap(),
  });
}

/** Parent side: forks `scriptUrl` with the argument `server`; `next()` awaits the child's next message. */
export async function forkSimChild(scriptUrl) {
  const { fork } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = fork(fileURLToPath(scriptUrl), ['server'], { execArgv: ['--expose-gc'] });
  const next = () => new Promise((resolve) => child.once('message', resolve));
  return { child, next, ready: await next() };
}

/**
 * Runs `inFlight` copies of `loop(until)` (each loops until performance.now() reaches `until`) for `seconds`, and
 * measures the simulator child's CPU over exactly that interval: on a shared machine, pages per CPU-second of the
 * simulator is what one core of it sustains.
 */
export async function timedLoops({ child, next, seconds, inFlight, loop }) {
  child.send('cpu');
  const { cpu: before } = await next();
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, () => loop(until)));
  const elapsed = (performance.now() - t0) / 1000;
  child.send('cpu');
  const { cpu: after } = await next();
  return { elapsed, serverCpuSeconds: (after.user + after.system - before.user - before.system) / 1e6 };
}

/**
 * SigV4 headers for an EC2 form POST to `/` on `host` (host:port), computed as the AWS SDK does, so raw-http
 * benches pay the sim's real signature check on every request.
 */
const signingKeys = new Map();

export function signEc2Post({ accessKeyId, secretAccessKey }, host, body, region = 'us-east-1') {
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const type = 'application/x-www-form-urlencoded; charset=utf-8';
  const sha = (s) => createHash('sha256').update(s).digest('hex');
  const hmac = (k, s) => createHmac('sha256', k).update(s).digest();
  const canonical = `POST\n/\n\ncontent-type:${type}\nhost:${host}\nx-amz-date:${amzDate}\n\ncontent-type;host;x-amz-date\n${sha(body)}`;
  const scope = `${day}/${region}/ec2/aws4_request`;
  // The SDK derives the signing key once a day; so does this client, to stay as light as the one it replaced.
  const keyId = `${secretAccessKey}/${day}/${region}`;
  let key = signingKeys.get(keyId);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), 'ec2'), 'aws4_request');
    signingKeys.set(keyId, key);
  }
  const signature = createHmac('sha256', key)
    .update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha(canonical)}`)
    .digest('hex');
  return {
    'content-type': type,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=content-type;host;x-amz-date, Signature=${signature}`,
  };
}

/** The Linux OS settings every bench VM on ARM gets: key-only login for `skypool` with a throwaway key. */
export const ARM_LINUX_CONFIGURATION = {
  disablePasswordAuthentication: true,
  ssh: {
    publicKeys: [
      { path: '/home/skypool/.ssh/authorized_keys', keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench skypool' },
    ],
  },
};
