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
