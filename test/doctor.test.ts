/** `skypool doctor` against cloudsim: settings, endpoint and credential checks per provider; creates nothing. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticTokenCredential } from '../providers/azure/clients.js';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { type DoctorCheck, type DoctorReport, renderDoctor, runDoctor } from '../src/doctor.js';
import type { ProviderOverrides } from '../src/providers/registry.js';
import { parseSpec } from '../src/spec/load.js';

const cli = join(process.cwd(), 'dist/src/cli/main.js');

const spec = parseSpec({
  name: 'doc',
  engine: 'swarm',
  pools: [
    { name: 'm', provider: 'aws', region: 'us-east-1', instanceType: 't3.small', count: 1, role: 'manager' },
    { name: 'g', provider: 'gcp', region: 'us-central1', instanceType: 'e2-small', count: 1, role: 'worker' },
    { name: 'a', provider: 'azure', region: 'eastus', instanceType: 'Standard_B2s', count: 1, role: 'worker' },
  ],
});

const line = (report: DoctorReport, scope: string, check: string): DoctorCheck | undefined =>
  report.checks.find((c) => c.scope === scope && c.check === check);

describe('skypool doctor', () => {
  let sim: CloudSim;
  let dir: string;
  const providers = (): ProviderOverrides => ({
    aws: {
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
    },
    gcp: {
      project: 'doc',
      region: 'us-central1',
      apiEndpoint: sim.host,
      port: sim.httpPort,
      protocol: 'http',
      accessToken: sim.credentials.gcp.accessToken,
    },
    azure: {
      subscriptionId: '00000000-0000-4000-8000-000000000001',
      region: 'eastus',
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: staticTokenCredential(sim.credentials.azure.accessToken),
    },
  });

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 1 });
    dir = mkdtempSync(join(tmpdir(), 'skypool-doctor-'));
  });
  afterAll(async () => {
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every cloud check against cloudsim and creates nothing', async () => {
    const report = await runDoctor(spec, { providers: providers() });
    for (const scope of ['aws', 'gcp', 'azure'])
      for (const check of ['settings', 'endpoint', 'credentials'])
        expect({ scope, check, status: line(report, scope, check)?.status }).toEqual({ scope, check, status: 'ok' });
    // No local pool: a missing host command is at most a warning.
    expect(report.checks.filter((c) => c.scope === 'local' && c.status === 'fail')).toEqual([]);
    expect(report.failed).toBe(0);
    expect(sim.inventory()).toEqual([]);
    expect(renderDoctor(report)).toMatch(/^ok {4}aws credentials +accepted by a read-only call/m);
  });

  it('fails the settings, endpoint and credential checks with the fix', async () => {
    const p = providers();
    const report = await runDoctor(spec, {
      connectTimeoutMs: 1000,
      providers: {
        aws: { ...(p.aws as object), endpoint: 'http://127.0.0.1:9' },
        // cloudsim's ARM refuses a token that short, as ARM refuses a malformed one.
        azure: { ...(p.azure as object), credential: staticTokenCredential('x') },
        gcp: { ...(p.gcp as object), project: undefined, accessToken: undefined },
      },
    });
    expect(line(report, 'aws', 'endpoint')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('127.0.0.1:9'),
    });
    expect(line(report, 'aws', 'credentials')).toBeUndefined();
    expect(line(report, 'azure', 'credentials')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('InvalidAuthenticationToken'),
    });
    expect(line(report, 'gcp', 'settings')).toMatchObject({ status: 'fail', fix: expect.stringContaining('project') });
    expect(report.failed).toBe(3);
    expect(sim.inventory()).toEqual([]);
  });

  it('CLI: one JSON report, exit 1 on a failed check, before any SDK loads', () => {
    const file = join(dir, 'azure.yaml');
    writeFileSync(
      file,
      'name: doc\nengine: swarm\npools:\n  - { name: a, provider: azure, region: eastus, instanceType: Standard_B2s, count: 1, role: manager }\n',
    );
    const env = { ...process.env, SKYPOOL_STATE_DIR: join(dir, 'state') };
    delete env.AZURE_ACCESS_TOKEN;
    delete env.AZURE_SUBSCRIPTION_ID;
    const r = spawnSync(process.execPath, [cli, 'doctor', '-f', file, '--output', 'json'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.cluster).toBe('doc');
    expect(line(report, 'azure', 'settings')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('AZURE_SUBSCRIPTION_ID'),
    });
    expect(report.checks.map((c) => c.scope)).not.toContain('aws');
  });
});
