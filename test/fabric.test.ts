import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { packageRoot } from '../src/bootstrap/package-root.js';
import { renderTemplate } from '../src/bootstrap/user-data.js';
import {
  FABRIC_RANGE,
  type FabricMember,
  fabricIpOf,
  fabricMember,
  fabricPrefixFor,
  fabricPrefixOctets,
  PEER_LABELS,
  peerLabels,
  peersFor,
  peerVolumeName,
  type VolumeApi,
} from '../src/fabric/index.js';
import { inCidr } from '../src/util/ipv4.js';

// dockerode's client is what the core passes: it must fit the narrow interface (checked by tsc).
const fits = (docker: Docker): VolumeApi => docker;
void fits;

describe('fabric addresses', () => {
  it('gives each cloud network the lowest free /16 of 100.64.0.0/10', () => {
    expect(fabricPrefixFor([])).toBe('100.64.0.0/16');
    expect(fabricPrefixFor(['100.64.0.0/16'])).toBe('100.65.0.0/16');
    expect(fabricPrefixFor(['100.64.0.0/16', '100.66.0.0/16'])).toBe('100.65.0.0/16');
    expect(fabricPrefixFor(new Set(['100.65.0.0/16', '100.65.0.0/16']))).toBe('100.64.0.0/16');
  });

  it('ignores tags that are no fabric /16 and fails when all 64 are taken', () => {
    expect(fabricPrefixFor(['10.0.0.0/16', '100.64.0.0/15', '100.64.1.0/16', 'junk', '100.128.0.0/16'])).toBe(
      '100.64.0.0/16',
    );
    const all = Array.from({ length: 64 }, (_, k) => `100.${64 + k}.0.0/16`);
    expect(all.every((p) => inCidr(p.split('/')[0]!, FABRIC_RANGE))).toBe(true);
    expect(fabricPrefixFor(all.slice(0, 63))).toBe('100.127.0.0/16');
    expect(() => fabricPrefixFor(all)).toThrow(expect.objectContaining({ code: 'CAPACITY_UNAVAILABLE' }));
  });

  it('maps a private address into the network /16 by its low 16 bits', () => {
    expect(fabricIpOf('100.65.0.0/16', '10.0.3.7')).toBe('100.65.3.7');
    expect(fabricIpOf('100.64.0.0/16', '172.31.255.254')).toBe('100.64.255.254');
    expect(fabricIpOf('100.127.0.0/16', '192.168.0.1')).toBe('100.127.0.1');
    expect(() => fabricIpOf('100.65.0.0/16', '10.0.3')).toThrow(/not an IPv4/);
    expect(() => fabricIpOf('10.0.0.0/16', '10.0.3.7')).toThrow(/not a \/16 network of the fabric range/);
    expect(() => fabricIpOf('100.65.3.0/16', '10.0.3.7')).toThrow(/not a \/16/);
    expect(fabricPrefixOctets('100.70.0.0/16')).toBe('100.70');
  });

  it('renders as a partial: the docker Go templates inside are no placeholders, and sh parses the result', () => {
    const read = (name: string) =>
      name === 'main.sh'
        ? '#!/bin/sh\nFABRIC_PREFIX={{fabric_prefix}}\n{{> common/fabric.sh}}\n'
        : readFileSync(join(packageRoot(), 'templates', name), 'utf8');
    const script = renderTemplate('main.sh', { fabric_prefix: '100.65.0.0/16' }, read);
    expect(script).toContain('{{.Label "skypool.fabric.endpoint"}}');
    execFileSync('/bin/sh', ['-n', '-c', script]);
  });

  it('the boot script computes the same address from any form of the prefix', () => {
    const template = readFileSync(join(packageRoot(), 'templates/common/fabric.sh'), 'utf8');
    const head = template.slice(0, template.indexOf('export FABRIC_IP'));
    const sh = (prefix: string, ip: string) =>
      execFileSync(
        '/bin/sh',
        [
          '-c',
          `fail() { echo "FAIL $*"; exit 1; }\nFABRIC_PREFIX='${prefix}' NODE_IP='${ip}'\n${head}echo "$FABRIC_IP"`,
        ],
        { encoding: 'utf8' },
      ).trim();
    for (const prefix of ['100.65', '100.65.0.0', '100.65.0.0/16'])
      expect(sh(prefix, '10.0.3.7')).toBe(fabricIpOf('100.65.0.0/16', '10.0.3.7'));
    expect(sh('100.64.0.0/16', '172.31.255.254')).toBe('100.64.255.254');
    expect(() => sh('', '10.0.3.7')).toThrow();
  });
});

describe('fabric peers', () => {
  const key = (c: string) => `${c.repeat(42)}A=`;
  const members: FabricMember[] = [
    {
      node: 'm1',
      key: key('a'),
      fabricIp: '100.64.0.4',
      provider: 'aws',
      region: 'us-east-1',
      privateIp: '10.0.0.4',
      publicIp: '198.18.0.9',
    },
    {
      node: 'w1',
      key: key('b'),
      fabricIp: '100.64.0.5',
      provider: 'aws',
      region: 'us-east-1',
      privateIp: '10.0.0.5',
      publicIp: '198.18.0.10',
    },
    {
      node: 'w2',
      key: key('c'),
      fabricIp: '100.65.0.4',
      provider: 'gcp',
      region: 'us-east1',
      privateIp: '10.0.0.4',
      publicIp: '198.18.128.3',
    },
    { node: 'w3', key: key('d'), fabricIp: '100.66.0.4', provider: 'aws', region: 'eu-west-1', privateIp: '10.0.0.4' },
  ];

  it('reaches peers of the same provider+region at their private address, others at their public one', () => {
    expect(peersFor(members[0]!, members)).toEqual([
      { node: 'w1', key: key('b'), ip: '100.64.0.5', endpoint: '10.0.0.5:51820' },
      { node: 'w2', key: key('c'), ip: '100.65.0.4', endpoint: '198.18.128.3:51820' },
      // Another region of the same cloud is another network; no public address: no endpoint (learnt on handshake).
      { node: 'w3', key: key('d'), ip: '100.66.0.4' },
    ]);
    expect(peersFor(members[2]!, members).map((p) => p.endpoint)).toEqual([
      '198.18.0.9:51820',
      '198.18.0.10:51820',
      undefined,
    ]);
  });

  it('names a peer volume after its key and labels it as the boot script reads it', () => {
    const [peer] = peersFor(members[1]!, members);
    expect(peerVolumeName(peer!.key)).toMatch(/^skypool-fabric-peer-[0-9a-f]{16}$/);
    expect(peerVolumeName(key('a'))).not.toBe(peerVolumeName(key('b')));
    expect(peerLabels(peer!)).toEqual({
      [PEER_LABELS.node]: 'm1',
      [PEER_LABELS.key]: key('a'),
      [PEER_LABELS.ip]: '100.64.0.4',
      [PEER_LABELS.endpoint]: '10.0.0.4:51820',
    });
    const template = readFileSync(join(packageRoot(), 'templates/common/fabric.sh'), 'utf8');
    for (const label of Object.values(PEER_LABELS)) expect(template).toContain(`{{.Label "${label}"}}`);
  });

  it('makes a member from a listed instance and its console identity', () => {
    const instance = {
      name: 'w2',
      provider: 'gcp' as const,
      region: 'us-east1',
      privateIp: '10.0.0.4',
      publicIp: '198.18.128.3',
    };
    expect(fabricMember(instance, { fabricIp: '100.65.0.4', wireguardKey: key('c') })).toEqual(members[2]);
    expect(fabricMember({ name: 'x', provider: 'local' }, { fabricIp: '100.64.0.9', wireguardKey: key('e') })).toEqual({
      node: 'x',
      key: key('e'),
      fabricIp: '100.64.0.9',
      provider: 'local',
    });
  });
});
