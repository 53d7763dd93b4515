import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrerequisiteError } from '../src/errors.js';
import { inCidr as ipv4InCidr, parseCidr } from '../src/util/ipv4.js';
import { ipv4CidrWithin, isLoopbackHost } from '../src/util/net.js';
import { isWholeInternet, operatorAddress } from '../src/util/operator-address.js';

describe('util/net', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost']) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    for (const host of ['128.0.0.1', '10.0.0.1', '::2', 'compute.googleapis.com', 'localhost.evil.com', '']) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });

  it('parses IPv4 CIDRs and checks membership of dotted addresses only', () => {
    expect(parseCidr('10.1.0.0/16')).toEqual({ bits: 16, start: 0x0a010000, size: 65536 });
    expect(parseCidr('10.1.0.9')).toEqual({ bits: 32, start: 0x0a010009, size: 1 });
    expect(ipv4CidrWithin('10.1.2.0/24', '10.0.0.0/8')).toBe(true);
    expect(ipv4CidrWithin('10.0.0.0/8', '10.1.2.0/24')).toBe(false);
    expect(ipv4CidrWithin('11.0.0.0/24', '10.0.0.0/8')).toBe(false);
    for (const bad of ['10.1.0.0/33', '10.1.0/16', '10.1.0.0/1/2', 'x/8', '10.1.0.0/-1']) {
      expect(parseCidr(bad)).toBeUndefined();
    }
    expect(ipv4InCidr('10.1.2.3', '10.1.0.0/16')).toBe(true);
    expect(ipv4InCidr('10.2.2.3', '10.1.0.0/16')).toBe(false);
    expect(ipv4InCidr('../../../etc/x', '10.1.0.0/16')).toBe(false);
    expect(ipv4InCidr('167837955', '10.1.0.0/16')).toBe(false);
  });
});

describe('operatorAddress', () => {
  const never = async (): Promise<string> => {
    throw new Error('no lookup expected');
  };

  it('uses explicit sources first, then SKYPOOL_ENGINE_API_CIDR, normalizing bare addresses', async () => {
    await expect(
      operatorAddress({ endpoints: [undefined], override: ['203.0.113.7', '198.51.100.0/24'], lookup: never, env: {} }),
    ).resolves.toEqual(['203.0.113.7/32', '198.51.100.0/24']);
    await expect(
      operatorAddress({
        endpoints: [undefined],
        lookup: never,
        env: { SKYPOOL_ENGINE_API_CIDR: '192.0.2.1, 192.0.2.0/28' },
      }),
    ).resolves.toEqual(['192.0.2.1/32', '192.0.2.0/28']);
    await expect(operatorAddress({ endpoints: [], override: ['nope'], lookup: never, env: {} })).rejects.toThrow(
      /"nope" is not an IPv4 CIDR/,
    );
  });

  it('is 127.0.0.1/32 for a cloud on loopback (cloudsim), the looked-up public address otherwise', async () => {
    for (const endpoints of [['http://127.0.0.1:4566'], ['localhost'], ['https://[::1]:8443']]) {
      await expect(operatorAddress({ endpoints, lookup: never, env: {} })).resolves.toEqual(['127.0.0.1/32']);
    }
    const lookup = async () => '203.0.113.9\n';
    await expect(operatorAddress({ endpoints: [undefined], lookup, env: {} })).resolves.toEqual(['203.0.113.9/32']);
    await expect(
      operatorAddress({ endpoints: ['http://127.0.0.1:1', 'https://management.azure.com'], lookup, env: {} }),
    ).resolves.toEqual(['203.0.113.9/32']);
  });

  it('names the fix when the public address cannot be found', async () => {
    const error = await operatorAddress({ endpoints: [undefined], lookup: never, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toMatch(/adminCidrs in the spec, --admin-cidr <cidr> or SKYPOOL_ENGINE_API_CIDR/);
    expect(isWholeInternet(['10.0.0.0/8', '0.0.0.0/0'])).toBe(true);
    expect(isWholeInternet(['10.0.0.0/8'])).toBe(false);
  });
});

describe('operatorAddress against a lookup server (operatorAddressUrl)', () => {
  let server: Server;
  let base: string;
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/ip': (res) => res.end('203.0.113.5\n'),
    '/garbage': (res) => res.end('<html>rate limited</html>'),
    '/error': (res) => {
      res.statusCode = 503;
      res.end('busy');
    },
    '/huge': (res) => res.end('9'.repeat(4096)),
    '/silent': () => undefined, // never answers
  };

  beforeAll(async () => {
    server = createServer((req, res) => answers[req.url ?? '']?.(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const lookupAt = (path: string, lookupTimeoutMs = 300) =>
    operatorAddress({ endpoints: [undefined], env: {}, lookupUrl: `${base}${path}`, lookupTimeoutMs });

  it('opens the engine API to the address the lookup answers', async () => {
    await expect(lookupAt('/ip')).resolves.toEqual(['203.0.113.5/32']);
  });

  it.each([
    ['/garbage', /answered "<html>rate limited<\/html>", not an IPv4 address/],
    ['/huge', /answered more than 256 bytes/],
    ['/error', /answered HTTP 503/],
    ['/silent', /did not answer within 0.3 s/],
  ])('%s: a PrerequisiteError naming the URL and the fix (--admin-cidr)', async (path, why) => {
    const started = Date.now();
    const error = await lookupAt(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    const message = (error as Error).message;
    expect(message).toContain(`${base}${path}`);
    expect(message).toMatch(why);
    expect(message).toMatch(/--admin-cidr <cidr>/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('refuses plain http to a host that is not loopback (the answer decides who reaches the engine API)', async () => {
    const error = await operatorAddress({ endpoints: [undefined], env: {}, lookupUrl: 'http://192.0.2.1/ip' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toMatch(/must be https \(plain http only to loopback\).*--admin-cidr/);
  });

  it('is a provider setting: the aws, gcp and azure adapters ask operatorAddressUrl', async () => {
    const make = async (operatorAddressUrl: string) => [
      (await import('../providers/aws/index.js')).createProvider({
        region: 'us-east-1',
        endpoint: 'https://ec2.us-east-1.amazonaws.com',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-used' },
        operatorAddressUrl,
      }),
      (await import('../providers/gcp/index.js')).createProvider({
        project: 'p',
        region: 'us-central1',
        accessToken: 'not-used',
        operatorAddressUrl,
      }),
      (await import('../providers/azure/index.js')).createProvider({
        subscriptionId: '00000000-0000-0000-0000-000000000000',
        region: 'eastus',
        operatorAddressUrl,
      }),
    ];
    for (const provider of await make(`${base}/ip`))
      await expect(provider.engineApiSources!()).resolves.toEqual(['203.0.113.5/32']);
    for (const provider of await make(`${base}/garbage`))
      await expect(provider.engineApiSources!()).rejects.toThrow(/not an IPv4 address.*--admin-cidr/);
  });
});
