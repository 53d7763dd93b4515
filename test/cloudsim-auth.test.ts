import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateVpcCommand, DescribeVpcsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ResourceManagementClient } from '@azure/arm-resources';
import { NetworksClient } from '@google-cloud/compute';
import { signArmToken } from '../src/cloudsim/arm/auth.js';
import { parseEnvFile } from '../src/cloudsim/env-file.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { ec2Post, presignedEc2Url, signedEc2Headers, signV2 } from './support/ec2-signing.js';
import { simGceClientOptions } from './support/sim-providers.js';

/**
 * cloudsim accepts only the credentials of its own run: every forged, replayed, expired or misaddressed request
 * gets the cloud's own refusal and changes nothing. Clients are the official SDKs where they can send the request
 * at all, raw HTTP where a forgery needs bytes no SDK would send.
 */

const SUB = '7d9e2c4a-1b3f-4c5d-8e6f-a0b1c2d3e4f5';
const RG_API = '2025-04-01';

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Plain HTTP(S) that may send any Host header (fetch refuses to). */
function send(
  sim: CloudSim,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Raw> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ca: sim.caCertPem,
        // The certificate is checked against the address connected to, not against a forged Host.
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const ec2Code = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];
const ec2Refusal = async (res: Response | Raw) => {
  const text = 'text' in res && typeof res.text === 'string' ? res.text : await (res as Response).text();
  return { status: res.status, code: ec2Code(text) };
};

/** The error an SDK call rejects with. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

let sim: CloudSim;
let imageId: string;
let subnetId: string;
const clients: EC2Client[] = [];
const ec2 = (options: ConstructorParameters<typeof EC2Client>[0] = {}) => {
  const client = new EC2Client({
    region: 'us-east-1',
    endpoint: sim.httpUrl,
    credentials: sim.credentials.aws,
    maxAttempts: 1,
    ...options,
  });
  clients.push(client);
  return client;
};
const RUN = () =>
  new URLSearchParams({
    Action: 'RunInstances',
    Version: '2016-11-15',
    ImageId: imageId,
    InstanceType: 't3.micro',
    MinCount: '1',
    MaxCount: '1',
    SubnetId: subnetId,
  }).toString();
const countInventory = () => sim.inventory().length;

beforeAll(async () => {
  sim = await startCloudSim({ bootTimeMs: 20 });
  const client = ec2();
  const vpc = await client.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }));
  const body = new URLSearchParams({
    Action: 'CreateSubnet',
    Version: '2016-11-15',
    VpcId: vpc.Vpc!.VpcId!,
    CidrBlock: '10.60.1.0/24',
  });
  subnetId = /<subnetId>([^<]+)</.exec(await (await ec2Post(sim, body.toString())).text())![1]!;
  const images = await ec2Post(
    sim,
    'Action=DescribeImages&Version=2016-11-15&Owner.1=099720109477&Filter.1.Name=name&Filter.1.Value.1=ubuntu%2Fimages%2Fhvm-ssd-gp3%2Fubuntu-noble-24.04-amd64-server-*',
  );
  imageId = /<imageId>([^<]+)</.exec(await images.text())![1]!;
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await sim?.stop();
});

describe('credentials of the run', () => {
  test('are generated per run, shaped like each cloud’s, and given back in env', async () => {
    const { aws, gcp, azure } = sim.credentials;
    expect(aws.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(aws.secretAccessKey).toHaveLength(40);
    expect(gcp.accessToken).toMatch(/^ya29\./);
    expect(azure.accessToken.length).toBeGreaterThanOrEqual(32);
    expect(sim.env).toMatchObject({
      AWS_ENDPOINT_URL_EC2: sim.httpUrl,
      AWS_ACCESS_KEY_ID: aws.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
      AWS_REGION: 'us-east-1',
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: `${sim.httpUrl}/compute/v1/`,
      CLOUDSDK_AUTH_ACCESS_TOKEN: gcp.accessToken,
      SKYPOOL_AZURE_ENDPOINT: sim.httpsUrl,
      AZURE_ACCESS_TOKEN: azure.accessToken,
      SKYPOOL_SIM_ADMIN_TOKEN: sim.adminToken,
    });
    const other = await startCloudSim({
      credentials: { aws: { accessKeyId: 'AKIAGIVENGIVENGIVEN0', secretAccessKey: 'given-secret' } },
    });
    try {
      expect(other.credentials.aws).toEqual({ accessKeyId: 'AKIAGIVENGIVENGIVEN0', secretAccessKey: 'given-secret' });
      expect(other.credentials.gcp.accessToken).not.toBe(gcp.accessToken);
      expect(other.adminToken).not.toBe(sim.adminToken);
    } finally {
      await other.stop();
    }
  });

  test('the EC2 SDK reaches the sim from the environment variables alone', async () => {
    const saved = { ...process.env };
    try {
      for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
      Object.assign(process.env, sim.env);
      const fromEnv = new EC2Client({});
      clients.push(fromEnv);
      const out = await fromEnv.send(new DescribeVpcsCommand({}));
      expect(out.Vpcs?.length).toBeGreaterThan(0);
    } finally {
      process.env = saved;
    }
  });
});

describe('EC2 signatures', () => {
  test('a wrong secret is SignatureDoesNotMatch and an unknown key AuthFailure; nothing is created', async () => {
    const before = countInventory();
    const wrongSecret = ec2({
      credentials: { accessKeyId: sim.credentials.aws.accessKeyId, secretAccessKey: 'x'.repeat(40) },
    });
    expect(
      await failure(
        wrongSecret.send(
          new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
        ),
      ),
    ).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
    const stranger = ec2({ credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'y'.repeat(40) } });
    expect(await failure(stranger.send(new CreateVpcCommand({ CidrBlock: '10.61.0.0/16' })))).toEqual({
      name: 'AuthFailure',
      status: 401,
    });
    expect(countInventory()).toBe(before);
  });

  test('a captured request replayed with another body, or with a made-up signature, is refused', async () => {
    const before = countInventory();
    const harmless = 'Action=DescribeVpcs&Version=2016-11-15';
    const headers = await signedEc2Headers(sim, harmless);
    delete headers.host;
    const replayed = await fetch(`${sim.httpUrl}/`, { method: 'POST', headers, body: RUN() });
    expect(await ec2Refusal(replayed)).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });

    const runHeaders = await signedEc2Headers(sim, RUN());
    delete runHeaders.host;
    const madeUp = runHeaders.authorization!.replace(/Signature=[0-9a-f]+/, `Signature=${'ab'.repeat(32)}`);
    const forged = await fetch(`${sim.httpUrl}/`, {
      method: 'POST',
      headers: { ...runHeaders, authorization: madeUp },
      body: RUN(),
    });
    expect(await ec2Refusal(forged)).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    const short = await fetch(`${sim.httpUrl}/`, {
      method: 'POST',
      headers: { ...runHeaders, authorization: madeUp.replace(/Signature=[0-9a-f]+/, 'Signature=00') },
      body: RUN(),
    });
    expect(await ec2Refusal(short)).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(countInventory()).toBe(before);
    // The untouched request goes through: the refusals above were about the forgery, not the request.
    const genuine = await fetch(`${sim.httpUrl}/`, { method: 'POST', headers, body: harmless });
    expect(genuine.status).toBe(200);
  });

  test('presigned URLs are verified: X-Amz-Signature=00 without Authorization creates nothing', async () => {
    const before = countInventory();
    const params = Object.fromEntries(new URLSearchParams(RUN()));
    const url = new URL(await presignedEc2Url(sim, params));
    url.searchParams.set('X-Amz-Signature', '00');
    expect(await ec2Refusal(await fetch(url))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    url.searchParams.set('X-Amz-Credential', url.searchParams.get('X-Amz-Credential')!.replace(/^[^/]+/, 'AKIDFAKE'));
    expect(await ec2Refusal(await fetch(url))).toEqual({ status: 401, code: 'AuthFailure' });
    expect(countInventory()).toBe(before);
    const good = await presignedEc2Url(sim, { Action: 'DescribeVpcs', Version: '2016-11-15' });
    expect((await fetch(good)).status).toBe(200);
  });

  test('an old or future timestamp and an expired presigned URL are RequestExpired', async () => {
    const before = countInventory();
    const past = new Date(Date.now() - 20 * 60_000);
    const stale = await ec2Post(sim, RUN(), { signingDate: past });
    const staleText = await stale.text();
    expect({ status: stale.status, code: ec2Code(staleText) }).toEqual({ status: 400, code: 'RequestExpired' });
    expect(staleText).toContain('<Message>Request has expired.</Message>');
    const future = await ec2Post(sim, RUN(), { signingDate: new Date(Date.now() + 20 * 60_000) });
    expect(await ec2Refusal(future)).toEqual({ status: 400, code: 'RequestExpired' });
    const lapsed = await presignedEc2Url(
      sim,
      { Action: 'DescribeVpcs', Version: '2016-11-15' },
      { signingDate: new Date(Date.now() - 120_000), expiresIn: 60 },
    );
    expect(await ec2Refusal(await fetch(lapsed))).toEqual({ status: 400, code: 'RequestExpired' });
    expect(countInventory()).toBe(before);
  });

  test('the SDK corrects a skewed clock from the Date header of RequestExpired, as against EC2', async () => {
    const skewed = ec2({ systemClockOffset: -20 * 60_000 });
    expect(await failure(skewed.send(new DescribeVpcsCommand({})))).toEqual({ name: 'RequestExpired', status: 400 });
    const out = await skewed.send(new DescribeVpcsCommand({}));
    expect(out.Vpcs?.length).toBeGreaterThan(0);
  });

  test('Signature Version 2 is verified (HmacSHA256 and HmacSHA1, query and form)', async () => {
    const before = countInventory();
    const describe = { Action: 'DescribeRegions', Version: '2016-11-15', 'RegionName.1': 'eu-west-1' };
    const get = await fetch(`${sim.httpUrl}/?${new URLSearchParams(signV2(sim, 'GET', describe))}`);
    expect(get.status).toBe(200);
    expect(await get.text()).toContain('<regionName>eu-west-1</regionName>');
    const sha1 = signV2(sim, 'GET', describe, { algorithm: 'HmacSHA1' });
    expect((await fetch(`${sim.httpUrl}/?${new URLSearchParams(sha1)}`)).status).toBe(200);
    const form = await fetch(`${sim.httpUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(signV2(sim, 'POST', describe)).toString(),
    });
    expect(form.status).toBe(200);

    const run = Object.fromEntries(new URLSearchParams(RUN()));
    const wrong = signV2(sim, 'GET', run, { secret: 'not-the-secret' });
    expect(await ec2Refusal(await fetch(`${sim.httpUrl}/?${new URLSearchParams(wrong)}`))).toEqual({
      status: 403,
      code: 'SignatureDoesNotMatch',
    });
    const tampered = { ...signV2(sim, 'GET', describe), 'RegionName.1': 'us-west-2' };
    expect(await ec2Refusal(await fetch(`${sim.httpUrl}/?${new URLSearchParams(tampered)}`))).toEqual({
      status: 403,
      code: 'SignatureDoesNotMatch',
    });
    const stranger = signV2(sim, 'GET', run, { accessKeyId: 'AKIDFAKE' });
    expect(await ec2Refusal(await fetch(`${sim.httpUrl}/?${new URLSearchParams(stranger)}`))).toEqual({
      status: 401,
      code: 'AuthFailure',
    });
    const old = signV2(sim, 'GET', run, { timestamp: new Date(Date.now() - 3_600_000) });
    expect(await ec2Refusal(await fetch(`${sim.httpUrl}/?${new URLSearchParams(old)}`))).toEqual({
      status: 400,
      code: 'RequestExpired',
    });
    expect(countInventory()).toBe(before);
  });

  test('a request without any signature is MissingAuthenticationToken', async () => {
    const res = await fetch(`${sim.httpUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: RUN(),
    });
    expect(await ec2Refusal(res)).toEqual({ status: 401, code: 'MissingAuthenticationToken' });
  });
});

describe('Compute Engine and ARM bearer tokens', () => {
  const gceInsert = (authorization?: string) =>
    send(sim, `${sim.httpUrl}/compute/v1/projects/auth-proj/global/networks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify({ name: 'stolen-net', autoCreateSubnetworks: false }),
    });

  test('Compute Engine: a missing or wrong token is Google’s 401 UNAUTHENTICATED; nothing is created', async () => {
    const before = countInventory();
    const missing = await gceInsert();
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text).error).toMatchObject({
      code: 401,
      status: 'UNAUTHENTICATED',
      errors: [{ reason: 'required', message: 'Login Required.', location: 'Authorization' }],
    });
    const wrong = await gceInsert(`Bearer ya29.${randomBytes(24).toString('base64url')}`);
    expect(wrong.status).toBe(401);
    const body = JSON.parse(wrong.text).error;
    expect(body).toMatchObject({
      code: 401,
      status: 'UNAUTHENTICATED',
      errors: [{ reason: 'authError', message: 'Invalid Credentials', locationType: 'header' }],
    });
    expect(body.message).toMatch(/^Request had invalid authentication credentials\./);
    expect((await gceInsert('Basic dXNlcjpwYXNz')).status).toBe(401);
    // The official client with a wrong token gets the same 401.
    const networks = new NetworksClient(simGceClientOptions(sim, 'ya29.wrong'));
    try {
      await expect(networks.list({ project: 'auth-proj' })).rejects.toMatchObject({ code: 401 });
    } finally {
      await networks.close();
    }
    expect(countInventory()).toBe(before);
    expect((await gceInsert(`Bearer ${sim.credentials.gcp.accessToken}`)).status).toBe(200);
  });

  const armPut = (authorization?: string) =>
    send(sim, `${sim.httpsUrl}/subscriptions/${SUB}/resourcegroups/stolen-rg?api-version=${RG_API}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ location: 'eastus' }),
    });

  test('ARM: a missing or wrong token is 401 AuthenticationFailed / InvalidAuthenticationToken; nothing is created', async () => {
    const before = countInventory();
    const missing = await armPut();
    expect([missing.status, JSON.parse(missing.text).error.code]).toEqual([401, 'AuthenticationFailed']);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer /);
    const wrong = await armPut(`Bearer ${randomBytes(32).toString('base64url')}`);
    expect(JSON.parse(wrong.text).error).toEqual({
      code: 'InvalidAuthenticationToken',
      message: 'The access token is invalid.',
    });
    expect(wrong.status).toBe(401);
    // A JWT naming any principal is accepted only when signed with the sim's token.
    const forgedJwt = signArmToken('not-the-sims-token', { oid: 'intruder' });
    expect(JSON.parse((await armPut(`Bearer ${forgedJwt}`)).text).error.code).toBe('InvalidAuthenticationToken');
    const resources = new ResourceManagementClient(
      { getToken: async () => ({ token: 'wrong-token-1234', expiresOnTimestamp: Date.now() + 3_600_000 }) },
      SUB,
      { endpoint: sim.httpsUrl, tlsOptions: { ca: sim.caCertPem } },
    );
    await expect(resources.resourceGroups.get('stolen-rg')).rejects.toMatchObject({
      statusCode: 401,
      code: 'InvalidAuthenticationToken',
    });
    expect(countInventory()).toBe(before);
    const minted = signArmToken(sim.credentials.azure.accessToken, { oid: 'second-principal' });
    expect((await armPut(`Bearer ${minted}`)).status).toBe(201);
  });
});

describe('Host header and admin API', () => {
  test('a foreign Host header gets each cloud’s own refusal, even with valid credentials', async () => {
    const before = countInventory();
    const evil = `evil.example:${sim.httpPort}`;
    const headers = await signedEc2Headers(sim, RUN(), { headers: { host: evil } });
    const ec2Res = await send(sim, `${sim.httpUrl}/`, { method: 'POST', headers, body: RUN() });
    expect(await ec2Refusal(ec2Res)).toEqual({ status: 400, code: 'InvalidRequest' });

    const gce = await send(sim, `${sim.httpUrl}/compute/v1/projects/auth-proj/global/networks`, {
      method: 'POST',
      headers: {
        host: evil,
        authorization: `Bearer ${sim.credentials.gcp.accessToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'rebound-net', autoCreateSubnetworks: false }),
    });
    expect([gce.status, JSON.parse(gce.text).error.errors[0].reason]).toEqual([400, 'badRequest']);

    const arm = await send(
      sim,
      `${sim.httpsUrl}/subscriptions/${SUB}/resourcegroups/rebound-rg?api-version=${RG_API}`,
      {
        method: 'PUT',
        headers: {
          host: `evil.example:${sim.httpsPort}`,
          authorization: `Bearer ${sim.credentials.azure.accessToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ location: 'eastus' }),
      },
    );
    expect([arm.status, JSON.parse(arm.text).error.code]).toEqual([400, 'InvalidHostName']);
    expect(countInventory()).toBe(before);

    // localhost:port is the sim's own name too.
    const local = await send(sim, `http://localhost:${sim.httpPort}/_sim/health`, {
      headers: { host: `localhost:${sim.httpPort}` },
    });
    expect(local.status).toBe(200);
  });

  test('the admin API needs the admin token and the sim’s own Host', async () => {
    const inventory = `${sim.httpUrl}/_sim/inventory`;
    expect((await send(sim, inventory)).status).toBe(401);
    expect((await send(sim, inventory, { headers: { authorization: 'Bearer guessed' } })).status).toBe(401);
    const auth = { authorization: `Bearer ${sim.adminToken}` };
    expect((await send(sim, inventory, { headers: { ...auth, host: `evil.example:${sim.httpPort}` } })).status).toBe(
      421,
    );
    const fault = JSON.stringify({ cloud: 'aws', kind: 'server-error' });
    const refused = await send(sim, `${sim.httpUrl}/_sim/faults`, { method: 'POST', body: fault });
    expect(refused.status).toBe(401);
    expect(sim.settings.faults).toEqual([]);
    const listed = await send(sim, inventory, { headers: auth });
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.text).resources.length).toBe(countInventory());
  });
});

describe('files with secrets', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudsim-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const mode = async (path: string) => (await stat(path)).mode & 0o777;

  test('the state file is written 0600, also over a wider file that was there', async () => {
    const file = join(dir, 'state.json');
    await writeFile(file, '{}', { mode: 0o644 });
    await chmod(file, 0o644);
    const s = await startCloudSim({ stateFile: file });
    try {
      await s.persist();
      expect(await mode(file)).toBe(0o600);
    } finally {
      await s.stop();
    }
    expect(await mode(file)).toBe(0o600);
  });

  const cli = join(process.cwd(), 'dist/src/cli/main.js');
  /** `skypool sim` in a child process, once it printed its endpoints; stop() interrupts it as Ctrl-C does. */
  async function simCli(args: string[]) {
    const child = spawn(process.execPath, [cli, 'sim', '--output', 'json', ...args], {
      env: { ...process.env, SKYPOOL_STATE_DIR: join(dir, 'sim-state') },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.trim().endsWith('}') && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    const stop = async () => {
      child.kill('SIGINT');
      return exited;
    };
    try {
      return { out, info: JSON.parse(out) as { envFile: string; azure: { caCertFile: string } }, stop };
    } catch (error) {
      await stop();
      throw error;
    }
  }

  test('skypool sim --env-out writes a 0600 env file with which the CLI reaches the sim', async () => {
    const envFile = join(dir, 'sim.env');
    const { out, info, stop } = await simCli(['--env-out', envFile]);
    try {
      expect(info.envFile).toBe(envFile);
      expect(await mode(envFile)).toBe(0o600);
      const env = parseEnvFile(await readFile(envFile, 'utf8'));
      expect(env.NODE_EXTRA_CA_CERTS).toBe(info.azure.caCertFile);
      expect(await readFile(env.NODE_EXTRA_CA_CERTS!, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(out).not.toContain(env.AWS_SECRET_ACCESS_KEY!);

      // A shell sourcing the file gets the same values back.
      const echoed = spawnSync('sh', ['-c', `. '${envFile}' && printf %s "$AWS_SECRET_ACCESS_KEY"`], {
        encoding: 'utf8',
      });
      expect(echoed.stdout).toBe(env.AWS_SECRET_ACCESS_KEY);

      await writeFile(
        join(dir, 'skypool.yaml'),
        'name: envout\nengine: swarm\npools:\n  - name: m\n    provider: aws\n    region: us-east-1\n    role: manager\n    count: 1\n    instanceType: t3.micro\n',
      );
      const plan = (extra: Record<string, string>) =>
        spawnSync(process.execPath, [cli, 'plan', '-f', join(dir, 'skypool.yaml'), '--output', 'json'], {
          encoding: 'utf8',
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', HOME: dir, SKYPOOL_STATE_DIR: join(dir, 'state'), ...env, ...extra },
        });
      const planned = plan({});
      expect({ status: planned.status, stderr: planned.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
      expect(JSON.parse(planned.stdout).creates).toEqual([
        expect.objectContaining({ pool: 'm', provider: 'aws', names: ['envout-m-1'] }),
      ]);
      const refused = plan({ AWS_SECRET_ACCESS_KEY: 'x'.repeat(40) });
      expect(refused.status).not.toBe(0);
      expect(`${refused.stdout}${refused.stderr}`).toMatch(/SignatureDoesNotMatch|signature/i);
    } finally {
      expect(await stop()).toBe(0);
    }
  });

  test('skypool sim --credentials-from accepts the credentials of an earlier env file again', async () => {
    const first = join(dir, 'first.env');
    const second = join(dir, 'second.env');
    const a = await simCli(['--env-out', first]);
    expect(await a.stop()).toBe(0);
    const b = await simCli(['--env-out', second, '--credentials-from', first]);
    try {
      const [was, is] = await Promise.all([first, second].map(async (f) => parseEnvFile(await readFile(f, 'utf8'))));
      for (const key of [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'CLOUDSDK_AUTH_ACCESS_TOKEN',
        'AZURE_ACCESS_TOKEN',
        'SKYPOOL_SIM_ADMIN_TOKEN',
      ])
        expect([key, is![key]]).toEqual([key, was![key]]);
      const inventory = await fetch(`${is!.SKYPOOL_SIM_URL}/_sim/inventory`, {
        headers: { authorization: `Bearer ${was!.SKYPOOL_SIM_ADMIN_TOKEN}` },
      });
      expect(inventory.status).toBe(200);
    } finally {
      expect(await b.stop()).toBe(0);
    }
  });
});
