import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import { type AzureClients, createClients } from '../providers/azure/clients.js';
import { staticTokenCredential } from '../providers/azure/index.js';
import { names as azureNames } from '../providers/azure/network.js';
import type { CloudSim } from '../src/cloudsim/index.js';
import { Cluster } from '../src/cluster/index.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { httpGet } from '../src/demo/load.js';
import { pollUntil } from '../src/util/poll.js';
import { type RealisticSim, startRealisticSim } from './support/realistic-sim.js';
import { describeIf, requireRoot } from './support/requirements.js';
import { closePublishedPorts, dockerInVm, inSimVm, OPERATOR, openPublishedPorts } from './support/sim-network.js';
import { SIM_AZURE_SUBSCRIPTION, simGceClientOptions, simProviderSettings } from './support/sim-providers.js';

/**
 * A node whose public address changes rejoins (issue 9): on cloudsim's realistic network a swarm with its manager
 * on EC2 and workers on Compute Engine and ARM; the Compute Engine worker is stopped and started through the Compute Engine API (its
 * ephemeral external address changes, its disk stays). It boots again as a cloud-init image does (per-boot
 * scripts, not the user-data): wg0 with the same key and address, whose keepalives tell the manager its new
 * address (WireGuard roaming), and dockerd with the same swarm state. The node is Ready again, a task pinned to it
 * answers at its new address, and the next apply writes the new endpoint down, creating and deleting nothing.
 * Needs root with docker.io, busybox-static, wireguard-go and wireguard-tools; run under
 * `flock /tmp/skypool-ns.lock`.
 */
const cannot = requireRoot({
  files: ['/usr/sbin/dockerd', '/bin/busybox', '/usr/bin/wireguard-go'],
  commands: ['wg', 'iptables-restore'],
});
const suite = describeIf(cannot);

const name = `ss${process.pid % 10000}${Math.random().toString(36).slice(2, 6)}`;
const PROJECT = 'skypool-stop-start';
const WORKERS = 'gcp-workers';
const _sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

suite('cloudsim realistic network: a node stopped and started with a new public address rejoins', () => {
  let work: string;
  let sim: CloudSim | undefined;
  let cluster: Cluster | undefined;
  let gce: { instances: InstancesClient; ops: ZoneOperationsClient } | undefined;
  let azure: AzureClients | undefined;
  let realistic: RealisticSim | undefined;
  const nodes: {
    manager?: { name: string; id: string };
    worker?: { name: string; instance: string; zone: string; publicIp: string };
    azure?: { name: string; vm: string; publicIp: string };
  } = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'skypool-stop-start-'));
    const image = await buildHttpdImage(join(work, 'httpd.tar'));
    realistic = await startRealisticSim();
    sim = realistic.sim;
    const opts = simGceClientOptions(sim);
    gce = { instances: new InstancesClient(opts), ops: new ZoneOperationsClient(opts) };
    azure = createClients({
      subscriptionId: SIM_AZURE_SUBSCRIPTION,
      endpoint: sim.httpsUrl,
      caCertPem: sim.caCertPem,
      credential: staticTokenCredential(sim.credentials.azure.accessToken),
    });
    const size = { cpus: 2, memoryGiB: 4 };
    cluster = Cluster.fromSpec(
      {
        name,
        engine: 'swarm',
        pools: [
          { name: 'managers', provider: 'aws', region: 'us-east-1', size, role: 'manager', count: 1 },
          { name: WORKERS, provider: 'gcp', region: 'us-central1', size, role: 'worker', count: 1 },
          { name: 'azure-workers', provider: 'azure', region: 'eastus', size, role: 'worker', count: 1 },
        ],
        images: [image],
        adminCidrs: [`${OPERATOR}/32`],
      },
      {
        stateDir: join(work, 'state'),
        readyTimeoutMs: 90_000, // nodes wait this long for their join volume; a loaded CI machine took over 45 s
        routingMesh: false,
        providers: simProviderSettings(sim, { gcpProject: PROJECT, pollIntervalMs: 50 }),
      },
    );
  }, 300_000);

  afterAll(async () => {
    let leftovers: string[] = [];
    try {
      if (sim) await closePublishedPorts(sim, name, PROJECT);
      await cluster?.destroy();
    } finally {
      await cluster?.close();
      await Promise.all([gce?.instances.close(), gce?.ops.close()]);
      leftovers = (await realistic?.stop()) ?? [];
      await rm(work, { recursive: true, force: true });
    }
    expect(leftovers).toEqual([]);
  }, 90_000);

  /** Waits for a Compute Engine zone operation to be DONE (wait answers early; call it again). */
  const operationDone = (zone: string, operation: string) =>
    pollUntil(
      async () => {
        const [op] = await gce!.ops.wait({ project: PROJECT, zone, operation });
        return op.status === 'DONE' ? op : undefined;
      },
      { deadline: Date.now() + 30_000, intervalMs: 50, what: `operation ${operation}` },
    );
  const vmIn = (zone: string, instance: string, status: string) =>
    pollUntil(
      async () => {
        const [vm] = await gce!.instances.get({ project: PROJECT, zone, instance });
        return vm.status === status ? vm : undefined;
      },
      { deadline: Date.now() + 30_000, intervalMs: 50, what: `${instance} ${status}` },
    );
  /** The running task of `service` on `node` answering at `host`, or undefined. */
  const answering = async (service: string, node: string, host: string) => {
    const status = await cluster!.status();
    const task = status.workloads
      .find((w) => w.name === service)
      ?.tasks.find((t) => t.node === node && t.state === 'running' && t.hostPort !== undefined);
    if (!task) return undefined;
    const page = await httpGet({ host, port: task.hostPort! }).catch(() => undefined);
    return page?.startsWith('hello from') ? { page, port: task.hostPort! } : undefined;
  };

  it('forms the swarm and runs a task pinned to the Compute Engine worker, answering at its public address', async () => {
    const result = await cluster!.apply();
    expect(result.created).toHaveLength(3);
    const status = await cluster!.status();
    expect(status.nodes.map((n) => n.engine?.state)).toEqual(['ready', 'ready', 'ready']);
    const onAzure = status.nodes.find((n) => n.provider === 'azure')!;
    nodes.azure = { name: onAzure.name, vm: onAzure.instanceId!.split('/').pop()!, publicIp: onAzure.publicIp! };
    const manager = status.nodes.find((n) => n.provider === 'aws')!;
    const worker = status.nodes.find((n) => n.provider === 'gcp')!;
    nodes.manager = { name: manager.name, id: manager.instanceId! };
    nodes.worker = {
      name: worker.name,
      instance: worker.instanceId!.split('/').pop()!,
      zone: worker.zone!,
      publicIp: worker.publicIp!,
    };
    expect(worker.publicIp).toMatch(/^198\.1[89]\./);
    await openPublishedPorts(sim!, name, { gcpProject: PROJECT });
    await cluster!.run({
      name: 'pinned',
      image: 'skypool/demo-httpd:1',
      replicas: 1,
      port: 8080,
      constraints: [`node.labels.pool==${WORKERS}`],
    });
    const served = await pollUntil(() => answering('pinned', worker.name, worker.publicIp!), {
      deadline: Date.now() + 20_000,
      intervalMs: 100,
      what: `the pinned task on ${worker.name} at ${worker.publicIp}`,
    });
    expect(served.page).toMatch(/^hello from/);
  }, 180_000);

  it('stops and starts the worker through the Compute Engine API: new public address, Ready again, its task answers', async () => {
    const { zone, name: vm, instance, publicIp: before } = nodes.worker!;
    const t0 = Date.now();
    const [stop] = await gce!.instances.stop({ project: PROJECT, zone, instance });
    await operationDone(zone, (stop.latestResponse as { name: string }).name);
    const stopped = await vmIn(zone, instance, 'TERMINATED');
    expect(stopped.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP).toBeFalsy();
    const stoppedMs = Date.now() - t0;
    // While it is down the swarm sees it so, and the service cannot run anywhere else.
    await pollUntil(
      async () => {
        const status = await cluster!.status();
        const node = status.nodes.find((n) => n.name === vm);
        return node && node.engine?.state !== 'ready' ? node : undefined;
      },
      { deadline: Date.now() + 30_000, intervalMs: 250, what: `the swarm to see ${vm} down` },
    );
    // A stopped VM stays a member: the plan neither replaces it nor launches another under its name.
    const plan = await cluster!.plan();
    expect(plan.creates.flatMap((c) => c.names)).toEqual([]);
    expect(plan.deletes).toEqual([]);
    expect(plan.unchanged.find((i) => i.name === vm)?.state).toBe('stopped');

    const t1 = Date.now();
    const [start] = await gce!.instances.start({ project: PROJECT, zone, instance });
    await operationDone(zone, (start.latestResponse as { name: string }).name);
    const running = await vmIn(zone, instance, 'RUNNING');
    const after = running.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP ?? undefined;
    expect(after).toMatch(/^198\.1[89]\./);
    expect(after).not.toBe(before);
    const runningMs = Date.now() - t1;

    // The node is Ready again and the SDK reaches it at its new address (its certificate is pinned by name).
    const ready = await pollUntil(
      async () => {
        const status = await cluster!.status();
        const node = status.nodes.find((n) => n.name === vm);
        return node?.engine?.state === 'ready' && node.publicIp === after ? node : undefined;
      },
      { deadline: Date.now() + 90_000, intervalMs: 250, what: `${vm} Ready again at ${after}` },
    );
    expect(ready.instanceState).toBe('running');
    const readyMs = Date.now() - t1;
    // The manager learnt the worker's new endpoint from its handshake, before any push by the SDK.
    const endpoints = inSimVm('aws', nodes.manager!.id, ['wg', 'show', 'wg0', 'endpoints']);
    expect(endpoints).toContain(`${after}:51820`);

    const served = await pollUntil(() => answering('pinned', vm, after!), {
      deadline: Date.now() + 60_000,
      intervalMs: 250,
      what: `the pinned task on ${vm} at ${after}`,
    });
    expect(served.page).toMatch(/^hello from/);
    const servedMs = Date.now() - t1;
    nodes.worker = { ...nodes.worker!, publicIp: after! };
    console.log(
      `cloudsim stop/start: ${vm} stopped in ${stoppedMs} ms; start → RUNNING ${runningMs} ms, → Ready in the swarm ${readyMs} ms, → task answering ${servedMs} ms (public ${before} → ${after})`,
    );
  }, 240_000);

  it('deallocates and starts the ARM worker: its Static public address stays, it is Ready again', async () => {
    const { name: vm, vm: vmName, publicIp } = nodes.azure!;
    const group = azureNames.group(name);
    const poll = { updateIntervalInMs: 50 };
    const t0 = Date.now();
    await azure!.compute.virtualMachines.beginDeallocateAndWait(group, vmName, {}, poll);
    const view = await azure!.compute.virtualMachines.instanceView(group, vmName);
    expect(view.statuses?.map((s) => s.code)).toContain('PowerState/deallocated');
    await pollUntil(
      async () => {
        const node = (await cluster!.status()).nodes.find((n) => n.name === vm);
        return node && node.engine?.state !== 'ready' && node.instanceState === 'stopped' ? node : undefined;
      },
      { deadline: Date.now() + 30_000, intervalMs: 250, what: `the swarm to see ${vm} down` },
    );
    const t1 = Date.now();
    await azure!.compute.virtualMachines.beginStartAndWait(group, vmName, poll);
    const ready = await pollUntil(
      async () => {
        const node = (await cluster!.status()).nodes.find((n) => n.name === vm);
        return node?.engine?.state === 'ready' ? node : undefined;
      },
      { deadline: Date.now() + 90_000, intervalMs: 250, what: `${vm} Ready again` },
    );
    expect(ready.publicIp).toBe(publicIp);
    console.log(
      `cloudsim stop/start: ARM ${vm} deallocated in ${t1 - t0} ms (incl. the swarm seeing it down); start → Ready ${Date.now() - t1} ms (Static ${publicIp} kept)`,
    );
  }, 180_000);

  it('converges on the next apply: nothing created or deleted, the new endpoint pushed to the manager', async () => {
    const { name: vm, publicIp } = nodes.worker!;
    const result = await cluster!.apply();
    expect({ created: result.created, deleted: result.deleted, recreated: result.recreated }).toEqual({
      created: [],
      deleted: [],
      recreated: [],
    });
    expect(result.phases.map((p) => p.phase)).toContain('fabric');
    const status = await cluster!.status();
    expect(status.nodes.map((n) => [n.name, n.engine?.state]).sort()).toEqual(
      [
        [nodes.manager!.name, 'ready'],
        [vm, 'ready'],
        [nodes.azure!.name, 'ready'],
      ].sort(),
    );
    const swarm = dockerInVm('aws', nodes.manager!.id, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])
      .trim()
      .split('\n')
      .sort();
    expect(swarm).toEqual([`${nodes.manager!.name} Ready`, `${vm} Ready`, `${nodes.azure!.name} Ready`].sort());
    const pushed = dockerInVm('aws', nodes.manager!.id, [
      'volume',
      'ls',
      '--filter',
      `label=skypool.fabric.node=${vm}`,
      '--format',
      '{{.Label "skypool.fabric.endpoint"}}',
    ]).trim();
    expect(pushed).toBe(`${publicIp}:51820`);
  }, 120_000);
});
