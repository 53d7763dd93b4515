import { complement } from '../src/cloudsim/arm/net-view.js';
import type { VmNetworkView } from '../src/cloudsim/core/types.js';
import { cidrArg, renderEdgeRules } from '../src/cloudsim/network/edge-rules.js';
import { gatewayOf } from '../src/cloudsim/network/realistic.js';

/** The realistic network's pure parts: what an edge's iptables tables say for a set of VMs. */
const vm = (over: Partial<VmNetworkView>): VmNetworkView => ({
  cloud: 'aws',
  id: 'i-1',
  network: 'aws:us-east-1:vpc-1',
  privateIp: '10.7.0.4',
  ingress: [],
  ...over,
});

describe('renderEdgeRules', () => {
  it('maps a public address 1:1 both ways and lets only NATed VMs out', () => {
    const text = renderEdgeRules([vm({ publicIp: '198.18.0.9' }), vm({ id: 'i-2', privateIp: '10.7.0.5' })]);
    expect(text).toContain('-A PREROUTING -i up0 -d 198.18.0.9/32 -j DNAT --to-destination 10.7.0.4');
    expect(text).toContain('-A POSTROUTING -o up0 -s 10.7.0.4/32 -j SNAT --to-source 198.18.0.9');
    expect(text).toContain('-A FORWARD -o up0 -s 10.7.0.4/32 -j ACCEPT');
    expect(text).not.toContain('-s 10.7.0.5/32 -j ACCEPT');
    expect(text).toContain(':FORWARD DROP [0:0]');
    expect(text.indexOf('ESTABLISHED,RELATED')).toBeLessThan(text.indexOf('-A FORWARD -d '));
  });

  it('renders rules in order: allow returns, deny drops, the end drops; each filter in its own chain', () => {
    const text = renderEdgeRules([
      vm({
        ingress: [
          [
            { action: 'deny', protocol: 'tcp', ports: [[22, 22]], sources: ['198.18.0.0/15'] },
            {
              action: 'allow',
              protocol: 'tcp',
              ports: [
                [80, 80],
                [8000, 8100],
              ],
              sources: ['0.0.0.0/0'],
            },
            { action: 'allow', protocol: 'all', sources: ['10.7.0.5'] },
          ],
          [{ action: 'allow', protocol: 'udp', sources: ['10.0.0.0/8'] }],
        ],
      }),
    ]);
    const lines = text.split('\n');
    const chain0 = lines.filter((l) => l.startsWith('-A vm0-in0 '));
    expect(chain0).toEqual([
      '-A vm0-in0 -s 198.18.0.0/15 -p tcp -m tcp --dport 22 -j DROP',
      '-A vm0-in0 -p tcp -m tcp --dport 80 -j RETURN',
      '-A vm0-in0 -p tcp -m tcp --dport 8000:8100 -j RETURN',
      '-A vm0-in0 -s 10.7.0.5/32 -j RETURN',
      '-A vm0-in0 -j DROP',
    ]);
    expect(lines.filter((l) => l.startsWith('-A vm0-in1 '))).toEqual([
      '-A vm0-in1 -s 10.0.0.0/8 -p udp -j RETURN',
      '-A vm0-in1 -j DROP',
    ]);
    const forward = lines.filter((l) => l.startsWith('-A FORWARD -d 10.7.0.4/32'));
    expect(forward).toEqual([
      '-A FORWARD -d 10.7.0.4/32 -j vm0-in0',
      '-A FORWARD -d 10.7.0.4/32 -j vm0-in1',
      '-A FORWARD -d 10.7.0.4/32 -j ACCEPT',
    ]);
  });

  it('never renders what is not plain IPv4 (no way to inject a line into iptables-restore)', () => {
    const text = renderEdgeRules([
      vm({
        publicIp: '198.18.0.1\n-A FORWARD -j ACCEPT',
        ingress: [[{ action: 'allow', protocol: 'tcp -j ACCEPT', sources: ['10.0.0.0/33', 'x', '1.2.3.4/8\n'] }]],
      }),
    ]);
    expect(text).not.toContain('-j ACCEPT\n-A FORWARD -j ACCEPT');
    expect(text).not.toContain('DNAT');
    expect(text.split('\n').filter((l) => l.startsWith('-A vm0-in0'))).toEqual(['-A vm0-in0 -j DROP']);
    expect(cidrArg('10.1.2.3')).toBe('10.1.2.3/32');
    expect(cidrArg('256.1.2.3/8')).toBeUndefined();
  });
});

describe('address helpers', () => {
  it('complement covers all of IPv4 except the holes (Azure Internet = not the VNet)', () => {
    const parts = complement(['10.1.0.0/16']);
    expect(parts).toContain('0.0.0.0/5');
    expect(parts).toContain('10.0.0.0/16');
    expect(parts).toContain('10.2.0.0/15');
    expect(parts).not.toContain('10.1.0.0/16');
    const size = parts.reduce((acc, c) => acc + 2 ** (32 - Number(c.split('/')[1])), 0);
    expect(size).toBe(2 ** 32 - 2 ** 16);
    expect(complement(['0.0.0.0/0'])).toEqual([]);
  });

  it('takes the first usable address of a subnet as its gateway', () => {
    expect(gatewayOf('10.7.0.0/17')).toBe('10.7.0.1');
    expect(gatewayOf('10.128.4.0/22')).toBe('10.128.4.1');
  });
});
