import { ipv4InCidr, isLoopbackHost, parseIpv4Cidr } from '../src/util/net.js';

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
    expect(parseIpv4Cidr('10.1.0.0/16')).toEqual({ address: '10.1.0.0', prefix: 16 });
    expect(parseIpv4Cidr('10.1.0.9')).toEqual({ address: '10.1.0.9', prefix: 32 });
    for (const bad of ['10.1.0.0/33', '10.1.0/16', '10.1.0.0/1/2', 'x/8', '10.1.0.0/-1']) {
      expect(parseIpv4Cidr(bad)).toBeUndefined();
    }
    expect(ipv4InCidr('10.1.2.3', '10.1.0.0/16')).toBe(true);
    expect(ipv4InCidr('10.2.2.3', '10.1.0.0/16')).toBe(false);
    expect(ipv4InCidr('../../../etc/x', '10.1.0.0/16')).toBe(false);
    expect(ipv4InCidr('167837955', '10.1.0.0/16')).toBe(false);
  });
});
