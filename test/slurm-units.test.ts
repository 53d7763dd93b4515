import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { USER_DATA_MAX_BYTES } from '../src/bootstrap/user-data.js';
import { createEngine, nodeIdentityOn } from '../src/engines/slurm/index.js';
import {
  expandHostlist,
  featuresToLabels,
  labelsToFeatures,
  nodeState,
  parsePing,
  parseRecords,
  toEngineNode,
  toJobStatus,
} from '../src/engines/slurm/parse.js';

const cert = { certPem: 'CERT', keyPem: 'KEY' };
const engine = createEngine({
  tls: { caPem: 'CA', client: cert },
  providers: ['local'],
  clusterSecret: (_label, bytes) => Buffer.alloc(bytes, 7),
});

describe('slurm output parsing', () => {
  it('reads `scontrol -o show node` lines into members with state, availability and features', () => {
    const text = [
      'NodeName=c-nodes-1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUTot=2 AvailableFeatures=pool:nodes,tier:batch ActiveFeatures=pool:nodes,tier:batch NodeAddr=10.1.0.3 NodeHostName=c-nodes-1 State=IDLE+DYNAMIC_NORM ThreadsPerCore=1 Reason=none',
      'NodeName=c-nodes-2 CPUTot=2 ActiveFeatures=(null) NodeAddr=10.1.0.4 State=ALLOCATED+DRAIN+DYNAMIC_NORM Reason=skypool scale down [root@2026-12-02T18:00:00]',
      '',
    ].join('\n');
    const [a, b] = parseRecords(text).map(toEngineNode);
    expect(a).toMatchObject({ name: 'c-nodes-1', address: '10.1.0.3', state: 'ready', availability: 'active' });
    expect(a!.labels).toEqual({ pool: 'nodes', tier: 'batch' });
    expect(a!.engineState).toBe('idle');
    expect(b).toMatchObject({ state: 'ready', availability: 'drain', engineState: 'draining', labels: {} });
  });

  it('maps node states like sinfo', () => {
    expect(nodeState('IDLE+DRAIN+DYNAMIC_NORM')).toEqual({ state: 'ready', availability: 'drain', word: 'drained' });
    // A drained node whose last job is still being cleaned up is not idle yet (Slurm refuses to delete it).
    expect(nodeState('IDLE+COMPLETING+DRAIN+DYNAMIC_NORM')).toMatchObject({ word: 'draining' });
    expect(nodeState('DOWN*+DYNAMIC_NORM')).toMatchObject({ state: 'down', word: 'down*' });
    expect(nodeState('IDLE*+DYNAMIC_NORM')).toMatchObject({ state: 'down', word: 'idle*' });
    expect(nodeState('MIXED')).toMatchObject({ state: 'ready', word: 'mix' });
    expect(nodeState('FUTURE')).toMatchObject({ state: 'unknown' });
  });

  it('reads the controller from `scontrol ping`', () => {
    expect(parsePing('Slurmctld(primary) at c-ctl-1 is UP\n')).toEqual([{ name: 'c-ctl-1', up: true }]);
    expect(parsePing('Slurmctld(primary) at c-ctl-1 is DOWN\n')).toEqual([{ name: 'c-ctl-1', up: false }]);
  });

  it('expands hostlists and reads jobs', () => {
    expect(expandHostlist('c-nodes-[1-3,7],other')).toEqual([
      'c-nodes-1',
      'c-nodes-2',
      'c-nodes-3',
      'c-nodes-7',
      'other',
    ]);
    expect(expandHostlist('n[08-10]')).toEqual(['n08', 'n09', 'n10']);
    expect(expandHostlist('(null)')).toEqual([]);
    const [job] = parseRecords(
      'JobId=7 JobName=hostnames UserId=root(0) JobState=COMPLETED Reason=None ExitCode=0:0 NodeList=c-nodes-[1-2] BatchHost=c-nodes-1 NumNodes=2',
    ).map(toJobStatus);
    expect(job).toEqual({
      kind: 'job',
      id: '7',
      name: 'hostnames',
      state: 'completed',
      engineState: 'COMPLETED',
      nodes: ['c-nodes-1', 'c-nodes-2'],
      batchHost: 'c-nodes-1',
      exitCode: 0,
    });
    const [failed] = parseRecords('JobId=8 JobName=x JobState=FAILED ExitCode=3:0 NodeList=(null)').map(toJobStatus);
    expect(failed).toMatchObject({ state: 'failed', exitCode: 3, nodes: [] });
  });

  it('carries labels as features and back', () => {
    const features = labelsToFeatures({ tier: 'batch', provider: 'local', 'odd key': 'a=b' });
    expect(features).toEqual(['odd_key:a_b', 'provider:local', 'tier:batch']);
    expect(featuresToLabels(features.join(','))).toEqual({ odd_key: 'a_b', provider: 'local', tier: 'batch' });
  });
});

describe('slurm user-data', () => {
  const base = { server: cert, caPem: 'CA', deadlineSeconds: 60 };
  const controller = engine.renderUserData({
    ...base,
    role: 'manager',
    first: true,
    nodeName: 'c-ctl-1',
    nodeIp: '10.1.0.2',
  });
  const node = engine.renderUserData({
    ...base,
    role: 'worker',
    first: false,
    nodeName: 'c-nodes-1',
    nodeIp: '10.1.0.3',
    managers: ['10.1.0.2'],
    managerNames: ['c-ctl-1'],
    labels: { pool: 'nodes', provider: 'local' },
  });

  it('renders a controller and a node script that parse with sh and bash, under the user-data limit', () => {
    for (const script of [controller, node]) {
      expect(script.startsWith('#!/bin/sh\n')).toBe(true);
      expect(Buffer.byteLength(script)).toBeLessThan(USER_DATA_MAX_BYTES);
      execFileSync('sh', ['-n'], { input: script });
      execFileSync('bash', ['-n'], { input: script });
    }
    expect(controller).toContain('slurmctld -D -i -f');
    expect(controller).toContain('SlurmctldHost=$NODE_NAME($NODE_IP)');
    expect(node).toContain('slurmd -D -Z');
    expect(node).toContain("CTL_ADDR='10.1.0.2'");
    expect(node).toContain("NODE_FEATURES='pool:nodes,provider:local'");
  });

  it('carries no munge key (the SDK writes it into the VM) and no TLS key', () => {
    const key = Buffer.alloc(128, 7).toString('base64');
    for (const script of [controller, node]) {
      expect(script).not.toContain(key);
      expect(script).not.toContain('MUNGE_KEY');
      expect(script).toContain('waiting for the munge key');
      expect(script).toContain('chmod 0400 "$MUNGE_DIR/munge.key"');
      expect(script).not.toContain("'KEY'");
      expect(script).not.toContain('TLS_KEY');
    }
  });

  it('refuses a second controller and a node without its controller', () => {
    expect(() =>
      engine.renderUserData({ ...base, role: 'manager', first: false, nodeName: 'c-ctl-2', nodeIp: '10.1.0.5' }),
    ).toThrow(/one controller/);
    expect(() =>
      engine.renderUserData({ ...base, role: 'worker', first: false, nodeName: 'c-nodes-1', nodeIp: '10.1.0.3' }),
    ).toThrow(/controller's name and address/);
  });

  it('off the fabric, without command execution in the VM, says so', async () => {
    await expect(engine.listNodes({ name: 'c-ctl-1', host: '10.1.0.2' })).rejects.toThrow(/cannot run commands/);
  });
});

describe('slurm user-data on the fabric (any provider but local)', () => {
  const fabricEngine = createEngine({
    tls: { caPem: 'CA', client: cert },
    providers: ['aws', 'gcp'],
    clusterSecret: (_label, bytes) => Buffer.alloc(bytes, 7),
  });
  const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  const base = { cluster: 'c', caPem, fabricPrefix: '100.65.0.0/16', deadlineSeconds: 60 };
  const controller = fabricEngine.renderUserData({ ...base, role: 'manager', first: true, pool: 'ctl' });
  const node = fabricEngine.renderUserData({
    ...base,
    role: 'worker',
    first: false,
    pool: 'nodes',
    labels: { pool: 'nodes', provider: 'gcp' },
  });

  it('is a console-identity engine there, and not on the local provider alone', async () => {
    expect(fabricEngine.nodeIdentity).toBe('console');
    expect(engine.nodeIdentity).toBeUndefined();
    expect(nodeIdentityOn(['local'])).toBeUndefined();
    expect(nodeIdentityOn(['local', 'azure'])).toBe('console');
    expect(await fabricEngine.joinTokens({ name: 'c-ctl-1', host: '198.18.0.1' })).toEqual({
      worker: Buffer.alloc(128, 7).toString('base64'),
      manager: Buffer.alloc(128, 7).toString('base64'),
    });
  });

  it('renders the same public bytes for every node of a pool, parsing with sh and bash, under the EC2 limit', () => {
    for (const script of [controller, node]) {
      expect(script.startsWith('#!/bin/sh\n')).toBe(true);
      expect(Buffer.byteLength(script)).toBeLessThan(USER_DATA_MAX_BYTES);
      execFileSync('sh', ['-n'], { input: script });
      execFileSync('bash', ['-n'], { input: script });
      // Nothing secret: no munge key, no private key; the key comes through the join volume.
      expect(script).not.toContain(Buffer.alloc(128, 7).toString('base64'));
      expect(script).not.toMatch(/PRIVATE KEY|MUNGE_KEY=/);
      expect(script).toContain('skypool-join');
      expect(script).toContain('print_identity');
      expect(script).toContain('$DOCKER import');
    }
    expect(controller).toContain('NODE_IP=$FABRIC_IP');
    expect(controller).toContain('SlurmctldHost=$NODE_NAME($NODE_IP)');
    expect(node).toContain('--conf-server "$CTL_ADDR"');
    expect(node).toContain("NODE_FEATURES='pool:nodes,provider:gcp'");
  });

  it('passes shellcheck when it is installed', () => {
    const shellcheck = ['/usr/bin/shellcheck', '/bin/shellcheck'].find((p) => existsSync(p));
    if (!shellcheck) return;
    for (const script of [controller, node])
      execFileSync(shellcheck, ['-s', 'sh', '-S', 'error', '-'], { input: script });
  });

  it('refuses a pool without its fabric prefix', () => {
    expect(() => fabricEngine.renderUserData({ cluster: 'c', caPem, role: 'worker', first: false, pool: 'p' })).toThrow(
      /no fabric prefix/,
    );
  });
});
