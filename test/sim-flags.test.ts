import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  describeFaults,
  faultFlag,
  rateScaleFlag,
  simSettingsFromFlags,
  throttleEveryFlag,
} from '../src/cli/sim-flags.js';
import { startCloudSim } from '../src/cloudsim/index.js';

// `skypool sim` flags for rate limits and faults become the sim's settings and fault rules.
describe('skypool sim: rate limit and fault flags', () => {
  it('reads one value for every cloud or per cloud, and refuses what the sim cannot take', () => {
    expect(rateScaleFlag('0.1')).toEqual({ aws: 0.1, gcp: 0.1, azure: 0.1 });
    expect(throttleEveryFlag('aws=3,azure=5')).toEqual({ aws: 3, azure: 5 });
    expect(throttleEveryFlag('gcp=2', { aws: 3 })).toEqual({ aws: 3, gcp: 2 });
    expect(() => throttleEveryFlag('aws=0')).toThrow('--throttle-every: a whole number of calls, 1 or more, got "0"');
    expect(() => rateScaleFlag('ibm=1')).toThrow('unknown cloud "ibm"');
    expect(() => rateScaleFlag('aws=')).toThrow('a scale greater than 0');
    expect(() => faultFlag('{"cloud":"aws"}')).toThrow('"cloud" (aws, gcp, azure) and "kind"');
    expect(() => faultFlag('nope')).toThrow('not JSON');
  });

  it('turns flags into rate limits and fault rules, and describes them for the banner', () => {
    const settings = simSettingsFromFlags({
      rateScale: { aws: 0.05 },
      throttleEvery: { aws: 3, gcp: 3 },
      serverErrors: { gcp: 0.1, azure: 0 },
      resets: { azure: 0.01 },
      fault: faultFlag('{"cloud":"aws","kind":"capacity","zone":"us-east-1a","times":1}'),
    });
    expect(settings).toEqual({
      rateLimits: { aws: { scale: 0.05 } },
      faults: [
        { cloud: 'aws', kind: 'throttle', every: 3 },
        { cloud: 'gcp', kind: 'throttle', every: 3 },
        { cloud: 'gcp', kind: 'server-error', probability: 0.1 },
        { cloud: 'azure', kind: 'reset', probability: 0.01 },
        { cloud: 'aws', kind: 'capacity', zone: 'us-east-1a', times: 1 },
      ],
    });
    expect(simSettingsFromFlags({ rateLimits: false }).rateLimits).toEqual({
      aws: { enabled: false },
      gcp: { enabled: false },
      azure: { enabled: false },
    });
    expect(
      describeFaults({
        rateLimits: { aws: { scale: 0.05 }, gcp: {}, azure: { enabled: false } },
        faults: settings.faults.slice(0, 1),
      }),
    ).toEqual(['  rate limits:    aws x0.05, azure off', '  faults:         aws throttle (1 call in 3)']);
  });

  it('the admin API takes an every-Nth throttle rule and rate limit changes: every 3rd EC2 call is throttled', async () => {
    const sim = await startCloudSim({ bootTimeMs: 20 });
    const ec2 = new EC2Client({
      region: 'us-east-1',
      endpoint: sim.httpUrl,
      credentials: sim.credentials.aws,
      maxAttempts: 1,
    });
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${sim.httpUrl}/_sim/${path}`, {
        method,
        headers: { authorization: `Bearer ${sim.adminToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    try {
      expect((await admin('POST', 'faults', { cloud: 'aws', kind: 'throttle', every: 3 })).status).toBe(201);
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i += 1)
        outcomes.push(
          await ec2.send(new DescribeRegionsCommand({})).then(
            () => 'ok',
            (e: Error) => e.name,
          ),
        );
      expect(outcomes).toEqual(['ok', 'ok', 'RequestLimitExceeded', 'ok', 'ok', 'RequestLimitExceeded']);
      expect(sim.meter.snapshot().find((c) => c.outcome === 'throttled')).toMatchObject({
        cloud: 'aws',
        action: 'DescribeRegions',
        count: 2,
      });
      const put = await admin('PUT', 'rate-limits', { gcp: { scale: 0.5 }, azure: { enabled: false } });
      expect(put).toEqual({
        status: 200,
        body: { rateLimits: { aws: {}, gcp: { scale: 0.5 }, azure: { enabled: false } } },
      });
      expect(sim.settings.rateLimits.azure).toEqual({ enabled: false });
    } finally {
      ec2.destroy();
      await sim.stop();
    }
  });
});
