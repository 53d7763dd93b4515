import type { ClusterContext } from '../src/cluster/context.js';
import { fabricPrefixes, networkKey } from '../src/cluster/fabric.js';
import type { ManagerRef } from '../src/cluster/nodes.js';
import { assertSameEngine, locateManager } from '../src/cluster/phases/inventory.js';
import { applyLabels, staleNodes } from '../src/cluster/phases/labels.js';
import { takeFirstManager } from '../src/cluster/phases/launch-nodes.js';
import { assertSpecFitsEngine } from '../src/cluster/phases/prepare.js';
import { findStrays } from '../src/cluster/phases/recover.js';
import { rotateJoinTokens } from '../src/cluster/phases/rotate-tokens.js';
import { scaleDown } from '../src/cluster/phases/scale-down.js';
import { assertEngine, hasEngine, loadEngine } from '../src/engines/registry.js';
import type { EngineDriver, EngineNode } from '../src/engines/types.js';
import { SpecError } from '../src/errors.js';
import type { Instance } from '../src/providers/types.js';
import { poolSpecHash } from '../src/spec/hash.js';
import { parseSpec } from '../src/spec/load.js';
import { addressesAt, inCidr, intToIpv4, ipv4ToInt, isIpv4, parseCidr } from '../src/util/ipv4.js';

/**
 * The phases of converge, each on its own. What a phase decides is tested with plain values; a phase that talks
 * to the outside world gets the few context members it uses (the integration tests run them for real).
 */

const spec = parseSpec({
  name: 'ph',
  engine: 'slurm',
  pools: [
    { name: 'ctl', provider: 'local', role: 'manager', count: 1 },
    { name: 'nodes', provider: 'local', role: 'worker', count: 2, labels: { tier: 'batch' } },
  ],
});

const vm = (name: string, role: 'manager' | 'worker', ip: string): Instance => ({
  id: `id-${name}`,
  name,
  provider: 'local',
  state: 'running',
  privateIp: ip,
  tags: { cluster: 'ph', pool: role === 'manager' ? 'ctl' : 'nodes', role, specHash: 'h' },
});

const node = (name: string, state: EngineNode['state'], role: EngineNode['role'] = 'worker'): EngineNode => ({
  id: `n-${name}-${state}`,
  name,
  role,
  state,
  availability: 'active',
  leader: false,
  labels: {},
});

/** A driver that records calls; only what the phase under test uses is filled in. */
function recordingDriver(extra: Partial<EngineDriver> = {}): EngineDriver & { calls: string[] } {
  const calls: string[] = [];
  return {
    engine: 'slurm',
    requirements: { commands: [], packages: [], ports: [] },
    renderUserData: () => '#!/bin/sh\n',
    waitReady: async () => undefined,
    listNodes: async () => [],
    setNodeLabels: async (_m, id) => {
      calls.push(`label ${id}`);
      return true;
    },
    drainNode: async () => ({ node: '', durationMs: 0, movedTasks: 0 }),
    removeNode: async (_m, id) => {
      calls.push(`remove ${id}`);
    },
    close: () => undefined,
    calls,
    ...extra,
  };
}

const ctl = vm('ph-ctl-1', 'manager', '10.1.0.2');
const w1 = vm('ph-nodes-1', 'worker', '10.1.0.3');
const w2 = vm('ph-nodes-2', 'worker', '10.1.0.4');
const managerRef: ManagerRef = { instance: ctl, endpoint: { name: ctl.name, host: '10.1.0.2' } };

describe('inventory: assertSameEngine', () => {
  it('refuses a spec whose engine differs from the one the live VMs were made with, naming engine', () => {
    const pool = spec.pools[1]!;
    const madeWithSwarm = { ...w1, tags: { ...w1.tags, specHash: poolSpecHash({ ...spec, engine: 'swarm' }, pool) } };
    expect(() => assertSameEngine(spec, [madeWithSwarm])).toThrow(SpecError);
    expect(() => assertSameEngine(spec, [madeWithSwarm])).toThrow(/engine: cluster ph runs engine swarm/);
    const current = { ...w1, tags: { ...w1.tags, specHash: poolSpecHash(spec, pool) } };
    const otherwiseChanged = { ...w1, tags: { ...w1.tags, specHash: 'feedfeedfeed' } };
    expect(() => assertSameEngine(spec, [current, otherwiseChanged])).not.toThrow();
  });
});

describe('recover: findStrays', () => {
  it('replaces VMs whose engine never joined or whose node is down, keeps ready ones', () => {
    const nodes = [node(ctl.name, 'ready', 'manager'), node(w1.name, 'down')];
    expect(findStrays([ctl, w1, w2], nodes).map((i) => i.name)).toEqual([w1.name, w2.name]);
  });

  it('prefers a ready entry over a stale one of the same name', () => {
    expect(findStrays([w1], [node(w1.name, 'down'), node(w1.name, 'ready')])).toEqual([]);
  });
});

describe('labels: staleNodes and applyLabels', () => {
  it('finds entries without a VM and duplicates of a name, never ready nodes', () => {
    const gone = node('ph-nodes-9', 'down');
    const dupOld = node(w1.name, 'down');
    const dupNew = node(w1.name, 'ready');
    const readyOrphan = node('ph-nodes-8', 'ready');
    expect(staleNodes([gone, dupOld, dupNew, readyOrphan], [ctl, w1])).toEqual([gone, dupOld]);
  });

  it('labels every kept node and removes stale entries; without demoteNode a stale manager is just removed', async () => {
    const driver = recordingDriver();
    const messages: string[] = [];
    const ctx = {
      spec,
      progress: { emit: () => undefined, message: (m: string) => messages.push(m) },
    } as unknown as ClusterContext;
    const nodes = [node(w1.name, 'ready'), node('ph-ctl-0', 'down', 'manager')];
    await applyLabels(ctx, driver, managerRef, [w1], nodes);
    expect(driver.calls).toEqual([`label n-${w1.name}-ready`, 'remove n-ph-ctl-0-down']);
    expect(messages).toEqual([]);
  });
});

describe('launch-nodes: takeFirstManager and the fabric prefixes', () => {
  it('takes the first planned manager out of its pool launch; refuses a spec that plans none', () => {
    const launches = [
      { pool: spec.pools[0]!, names: ['ph-ctl-1', 'ph-ctl-2'] },
      { pool: spec.pools[1]!, names: ['ph-nodes-1'] },
    ];
    expect(takeFirstManager({ spec }, launches)).toEqual({ name: 'ph-ctl-1', pool: spec.pools[0] });
    expect(launches[0]!.names).toEqual(['ph-ctl-2']);
    expect(() => takeFirstManager({ spec }, [{ pool: spec.pools[1]!, names: ['x'] }])).toThrow(/none is planned/);
  });

  it('keeps the prefix the VMs of a network carry and gives a new network the lowest free /16', () => {
    const multi = parseSpec({
      name: 'ph',
      engine: 'swarm',
      pools: [
        { name: 'ctl', provider: 'local', role: 'manager', count: 1 },
        { name: 'nodes', provider: 'local', role: 'worker', count: 1 },
        { name: 'east', provider: 'aws', region: 'us-east-1', role: 'worker', count: 1, instanceType: 't3.micro' },
      ],
    });
    const tagged = { ...ctl, tags: { ...ctl.tags, fabric: '100.64.0.0/16' } };
    const prefixes = fabricPrefixes(multi, [tagged]);
    expect(prefixes.get(networkKey(multi.pools[0]!))).toBe('100.64.0.0/16');
    expect(prefixes.get(networkKey(multi.pools[1]!))).toBe('100.64.0.0/16');
    expect(prefixes.get(networkKey(multi.pools[2]!))).toBe('100.65.0.0/16');
    const moved = { ...ctl, tags: { ...ctl.tags, fabric: '100.66.0.0/16' } };
    expect(fabricPrefixes(multi, [moved]).get('aws/us-east-1')).toBe('100.64.0.0/16');
  });
});

describe('prepare: assertSpecFitsEngine', () => {
  it('refuses images on an engine that loads none, naming the field', () => {
    const withImages = { ...spec, images: [{ name: 'x:1', tarball: '/x.tar' }] };
    expect(() => assertSpecFitsEngine({ spec: withImages }, { engine: 'slurm' })).toThrow(SpecError);
    expect(() => assertSpecFitsEngine({ spec: withImages }, { engine: 'slurm' })).toThrow(/images: engine slurm/);
    expect(() => assertSpecFitsEngine({ spec }, { engine: 'slurm' })).not.toThrow();
  });
});

describe('rotate-tokens and scale-down', () => {
  it('rotation is a no-op for engines without join tokens', async () => {
    await expect(rotateJoinTokens(recordingDriver(), managerRef)).resolves.toBeUndefined();
  });

  it('refuses to remove every manager', async () => {
    const ctx = { spec } as unknown as ClusterContext;
    await expect(scaleDown(ctx, managerRef, [w1], [ctl])).rejects.toThrow(/every manager of the pool is being removed/);
  });

  it('inventory: no VMs means no manager and no error', async () => {
    await expect(locateManager({ spec } as unknown as ClusterContext, [])).resolves.toBeUndefined();
  });
});

describe('engine registry', () => {
  it('knows swarm, slurm and k3s; k3s (templates only) refuses every provider before anything exists', async () => {
    expect(hasEngine('swarm') && hasEngine('slurm') && hasEngine('k3s')).toBe(true);
    expect(() => assertEngine('k3s')).not.toThrow();
    const k3s = await loadEngine('k3s');
    expect(() => k3s.checkProviders?.(['local'])).toThrow(/PREREQUISITE|cannot run on the local provider/);
    expect(() => k3s.checkProviders?.(['aws'])).toThrow(SpecError);
    expect(() => k3s.checkProviders?.(['aws'])).toThrow(
      /engine: engine "k3s" has boot scripts and an API driver .* the core does not launch it yet/,
    );
    expect((await loadEngine('slurm')).workloadKinds).toEqual(['job']);
    expect((await loadEngine('swarm')).workloadKinds).toEqual(['service']);
    expect((await loadEngine('slurm')).requirements.packages).toEqual(['slurm-wlm', 'munge']);
    expect((await loadEngine('slurm')).nodeIdentityOn?.(['local'])).toBeUndefined();
    expect((await loadEngine('slurm')).nodeIdentityOn?.(['aws'])).toBe('console');
  });
});

describe('util/ipv4', () => {
  it('parses, converts and tests membership', () => {
    expect(isIpv4('10.0.0.255')).toBe(true);
    expect(isIpv4('10.0.0.256')).toBe(false);
    expect(intToIpv4(ipv4ToInt('192.168.7.9'))).toBe('192.168.7.9');
    expect(parseCidr('10.1.2.3/24')).toEqual({ bits: 24, start: ipv4ToInt('10.1.2.0'), size: 256 });
    expect(parseCidr('10.1.2.3')).toMatchObject({ bits: 32, size: 1 });
    expect(parseCidr('10.1.2.3/33')).toBeUndefined();
    expect(parseCidr('nope/8')).toBeUndefined();
    expect(inCidr('10.1.2.200', '10.1.2.0/24')).toBe(true);
    expect(inCidr('10.1.3.1', '10.1.2.0/24')).toBe(false);
    expect(addressesAt('10.0.16.0/20', [0, 1, -2, -1])).toEqual([
      '10.0.16.0',
      '10.0.16.1',
      '10.0.31.254',
      '10.0.31.255',
    ]);
  });
});
