import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { vpcCidr } from '../providers/aws/index.js';
import { DEFAULT_STATE_ROOT } from '../providers/local/index.js';
import { userDataFiles } from '../providers/local/user-data.js';
import { unpackScript } from '../src/bootstrap/user-data.js';
import type { CloudSim } from '../src/cloudsim/index.js';
import { Cluster } from '../src/cluster/index.js';
import { JOIN_VOLUME } from '../src/fabric/index.js';
import { inCidr } from '../src/util/ipv4.js';
import { type RealisticSim, startRealisticSim } from './support/realistic-sim.js';
import { describeIf, requireRoot } from './support/requirements.js';
import { dockerInVm, inSimVm, openFromInternet, type SimCloudName, tcpOpen } from './support/sim-network.js';
import { simProviderSettings } from './support/sim-providers.js';

/**
 * Slurm across the three simulated clouds on cloudsim's realistic network (each cloud its own segment with the
 * same private range, reached only at public addresses through 1:1 NAT, firewalls enforced): the controller on
 * EC2, one node each on EC2, Compute Engine and ARM. slurmctld and slurmd talk over the WireGuard fabric
 * (100.64.0.0/10), the munge key reaches each node over its mailbox (the join volume) and never through
 * user-data, Slurm's commands run through docker exec over mTLS, and no Slurm port is open to anyone.
 * Needs root with docker.io, wireguard-go, wireguard-tools, slurm-wlm and munge; run under
 * `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({
  files: [
    '/usr/sbin/dockerd',
    '/bin/busybox',
    '/usr/bin/wireguard-go',
    '/usr/sbin/munged',
    '/usr/sbin/slurmctld',
    '/usr/sbin/slurmd',
  ],
  commands: ['wg', 'iptables-restore'],
});
const suite = describeIf(cannot);

const name = `sf${process.pid % 10000}${Math.random().toString(36).slice(2, 6)}`;
const SHARED_RANGE = vpcCidr(name);
const OPERATOR = '198.19.255.1';
const FABRIC_RANGE = '100.64.0.0/10';
const CONTROLLER_CONF = '/etc/skypool/slurm/slurm.conf';

const _sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

suite('cloudsim realistic network: one slurm pool over the fabric across EC2, Compute Engine and ARM', () => {
  let work: string;
  let sim: CloudSim | undefined;
  let cluster: Cluster | undefined;
  let realistic: RealisticSim | undefined;
  /** Every VM of the pool: provider, instance id, public address, name. */
  const vms: Array<{ cloud: SimCloudName; id: string; publicIp: string; name: string; role: string }> = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-slurm-fabric-'));
    realistic = await startRealisticSim();
    sim = realistic.sim;
    const size = { cpus: 2, memoryGiB: 4 };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'slurm',
        pools: [
          { name: 'ctl', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: 'aws-nodes', provider: 'aws', region: 'us-east-1', size, role: 'worker', count: 1 },
          { name: 'gcp-nodes', provider: 'gcp', region: 'us-central1', size, role: 'worker', count: 1 },
          { name: 'azure-nodes', provider: 'azure', region: 'eastus', size, role: 'worker', count: 1 },
        ],
        adminCidrs: [`${OPERATOR}/32`],
      },
      {
        stateDir: join(work, 'state'),
        readyTimeoutMs: 60_000,
        providers: simProviderSettings(sim, {
          gcpProject: 'skypool-sim',
          pollIntervalMs: 50,
          privateRange: SHARED_RANGE,
        }),
      },
    );
  }, 300_000);

  afterAll(async () => {
    let leftovers: string[] = [];
    try {
      await cluster?.destroy();
    } finally {
      await cluster?.close();
      leftovers = (await realistic?.stop()) ?? [];
      await rm(work, { recursive: true, force: true });
    }
    expect(leftovers).toEqual([]);
  }, 120_000);

  it('applies: the controller on EC2, three idle nodes on three clouds, every Slurm address on the fabric', async () => {
    const t0 = Date.now();
    const result = await cluster!.apply();
    const applyMs = Date.now() - t0;
    expect(result.created).toHaveLength(4);
    const status = await cluster!.status();
    expect(status.nodes).toHaveLength(4);
    for (const node of status.nodes) {
      expect(node.publicIp).toMatch(/^198\.1[89]\./);
      expect(inCidr(node.privateIp!, SHARED_RANGE)).toBe(true);
      vms.push({
        cloud: node.provider as SimCloudName,
        id: node.instanceId!,
        publicIp: node.publicIp!,
        name: node.name,
        role: node.role ?? '',
      });
    }
    const workers = status.nodes.filter((n) => n.role === 'worker');
    expect(workers.map((n) => n.provider).sort()).toEqual(['aws', 'azure', 'gcp']);
    for (const node of workers) {
      // slurmd registered with its fabric address (dynamic node: the address slurmctld saw it come from).
      expect({
        node: node.name,
        engine: node.engine?.engineState,
        fabric: inCidr(node.engine?.address ?? '', FABRIC_RANGE),
      }).toEqual({
        node: node.name,
        engine: 'idle',
        fabric: true,
      });
    }
    expect(new Set(workers.map((n) => n.engine!.address!.split('.').slice(0, 2).join('.'))).size).toBe(3);
    // slurmctld is configured and listening on the controller's fabric address, and configless nodes fetched that.
    const ctl = vms.find((v) => v.role === 'manager')!;
    const host = /^SlurmctldHost=(\S+)\((\S+)\)$/m.exec(inSimVm(ctl.cloud, ctl.name, ['cat', CONTROLLER_CONF]));
    expect(host?.[1]).toBe(ctl.name);
    expect(inCidr(host?.[2] ?? '', FABRIC_RANGE)).toBe(true);
    for (const node of vms.filter((v) => v.role === 'worker')) {
      const cached = inSimVm(node.cloud, node.name, ['cat', '/var/lib/skypool/slurmd/conf-cache/slurm.conf']);
      expect(cached).toContain(`SlurmctldHost=${ctl.name}(${host?.[2]})`);
    }
    console.log(
      `cloudsim slurm fabric: controller + 3 nodes on 3 clouds applied in ${applyMs} ms (${result.phases.map((p) => `${p.phase} ${p.ms}`).join(', ')})`,
    );
  }, 180_000);

  it('runs one 3-node job across the three clouds: srun hostname answers from each', async () => {
    const t0 = Date.now();
    const job = await cluster!.run({
      kind: 'job',
      name: 'hostnames',
      nodes: 3,
      tasks: 3,
      timeLimitMinutes: 2,
      script: '#!/bin/sh\nsrun -N3 hostname | sort\n',
    });
    const workers = vms.filter((v) => v.role === 'worker').map((v) => v.name);
    expect(job).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(job.nodes.slice().sort()).toEqual(workers.slice().sort());
    expect(job.output?.trim().split('\n')).toEqual(workers.slice().sort());
    console.log(`cloudsim slurm fabric: srun -N3 hostname across EC2, GCE and ARM in ${Date.now() - t0} ms`);
  }, 120_000);

  it('kept the munge key out of user-data and out of the mailbox after boot', async () => {
    const ctl = vms.find((v) => v.role === 'manager')!;
    const key = inSimVm(ctl.cloud, ctl.name, ['base64', '-w0', '/etc/skypool/munge/munge.key']).trim();
    expect(key.length).toBeGreaterThan(100);
    for (const vm of vms) {
      // The same key on every node, a 0400 file; the join volume that carried it is gone.
      expect(inSimVm(vm.cloud, vm.name, ['base64', '-w0', '/etc/skypool/munge/munge.key']).trim()).toBe(key);
      expect(inSimVm(vm.cloud, vm.name, ['stat', '-c', '%a', '/etc/skypool/munge/munge.key']).trim()).toBe('400');
      expect(dockerInVm(vm.cloud, vm.name, ['volume', 'ls', '-q']).split('\n')).not.toContain(JOIN_VOLUME);
    }
    // The user-data each simulated VM was given (the local backing keeps it beside the VM): public only.
    const scripts = readdirSync(DEFAULT_STATE_ROOT)
      .filter((cluster) => realistic !== undefined && cluster.startsWith(`${realistic.simName}-`))
      .flatMap((cluster) =>
        readdirSync(join(DEFAULT_STATE_ROOT, cluster)).map(
          (vm) => userDataFiles(join(DEFAULT_STATE_ROOT, cluster, vm)).script,
        ),
      )
      .filter((file) => existsSync(file))
      // Packed to fit EC2's 16 KB: read what the VM ran.
      .map((file) => unpackScript(readFileSync(file, 'utf8')))
      .filter((script) => script.includes(`SKYPOOL_CLUSTER='${name}'`));
    expect(scripts).toHaveLength(vms.length);
    for (const script of scripts) {
      expect(script).not.toContain(key);
      expect(script).not.toMatch(/PRIVATE KEY|MUNGE_KEY=/);
    }
  });

  it('opens no Slurm port to anyone: slurmctld and slurmd ride inside the fabric', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim!.httpUrl, credentials: sim!.credentials.aws });
    try {
      const groups = await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:skypool-cluster', Values: [name] }] }),
      );
      const ports = (groups.SecurityGroups ?? []).flatMap((g) => g.IpPermissions ?? []).map((p) => p.FromPort);
      expect(ports).not.toContain(6817);
      expect(ports).not.toContain(6818);
    } finally {
      ec2.destroy();
    }
    for (const vm of vms) {
      for (const port of [6817, 6818]) {
        expect({
          vm: vm.name,
          port,
          operator: await tcpOpen(vm.publicIp, port),
          internet: openFromInternet(vm.publicIp, port),
        }).toEqual({
          vm: vm.name,
          port,
          operator: false,
          internet: false,
        });
      }
    }
  }, 90_000);
});
