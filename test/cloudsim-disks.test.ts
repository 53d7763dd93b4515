import {
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeVolumesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { DisksClient, InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pollUntil, within } from '../src/util/poll.js';
import { simGceClientOptions } from './support/sim-providers.js';

/**
 * Every disk a VM is created with is listed by its cloud's own API and by the sim's inventory, so `destroy` can be
 * checked for orphans of every type: EC2 root volumes (DescribeVolumes), ARM managed disks, GCE persistent disks.
 * Driven by the official SDK clients.
 */
describe('cloudsim lists the disks VMs are created with', () => {
  let sim: CloudSim;

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: 40, seed: 14 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('EC2: a root volume per instance, tagged from TagSpecification volume, deleted on termination unless asked to stay', async () => {
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
    try {
      const tags = [{ Key: 'skypool-cluster', Value: 'vols' }];
      const images = await ec2.send(
        new DescribeImagesCommand({
          Owners: ['099720109477'],
          Filters: [{ Name: 'name', Values: ['ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*'] }],
        }),
      );
      const imageId = images.Images![0]!.ImageId!;
      const run = (keep: boolean) =>
        ec2.send(
          new RunInstancesCommand({
            ImageId: imageId,
            InstanceType: 't3.micro',
            MinCount: 1,
            MaxCount: 1,
            TagSpecifications: [
              { ResourceType: 'instance', Tags: [...tags, { Key: 'Name', Value: keep ? 'keep' : 'drop' }] },
              { ResourceType: 'volume', Tags: tags },
            ],
            ...(keep
              ? {
                  BlockDeviceMappings: [
                    { DeviceName: '/dev/sda1', Ebs: { DeleteOnTermination: false, VolumeSize: 20 } },
                  ],
                }
              : {}),
          }),
        );
      const drop = (await run(false)).Instances![0]!.InstanceId!;
      const keep = (await run(true)).Instances![0]!.InstanceId!;
      const byTag = { Filters: [{ Name: 'tag:skypool-cluster', Values: ['vols'] }] };
      const listed = (await ec2.send(new DescribeVolumesCommand(byTag))).Volumes ?? [];
      expect(
        listed
          .map((v) => ({
            instance: v.Attachments?.[0]?.InstanceId,
            state: v.State,
            size: v.Size,
            keep: v.Attachments?.[0]?.DeleteOnTermination === false,
            tagged: v.Tags?.some((t) => t.Key === 'skypool-cluster' && t.Value === 'vols'),
          }))
          .sort((a, b) => Number(a.keep) - Number(b.keep)),
      ).toEqual([
        { instance: drop, state: 'in-use', size: 8, keep: false, tagged: true },
        { instance: keep, state: 'in-use', size: 20, keep: true, tagged: true },
      ]);
      const keptId = listed.find((v) => v.Attachments?.[0]?.InstanceId === keep)!.VolumeId!;
      // An attached volume cannot be deleted.
      await expect(ec2.send(new DeleteVolumeCommand({ VolumeId: keptId }))).rejects.toMatchObject({
        name: 'VolumeInUse',
      });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [drop, keep] }));
      const left = await pollUntil(
        async () => {
          const volumes = (await ec2.send(new DescribeVolumesCommand(byTag))).Volumes ?? [];
          return volumes.length === 1 && volumes[0]!.State === 'available' ? volumes : undefined;
        },
        { ...within(10_000), intervalMs: 20, what: 'the kept volume to be available' },
      );
      expect(left.map((v) => ({ id: v.VolumeId, attachments: v.Attachments }))).toEqual([
        { id: keptId, attachments: [] },
      ]);
      // The sim's inventory holds the orphan, found by its tags and by the instance it was made with.
      const orphan = sim.inventory().find((r) => r.id === keptId);
      expect(orphan).toMatchObject({
        cloud: 'aws',
        type: 'volume',
        state: 'available',
        tags: { 'skypool-cluster': 'vols' },
      });
      await ec2.send(new DeleteVolumeCommand({ VolumeId: keptId }));
      expect((await ec2.send(new DescribeVolumesCommand(byTag))).Volumes).toEqual([]);
      expect(sim.inventory().filter((r) => r.type === 'volume')).toEqual([]);
    } finally {
      ec2.destroy();
    }
  });

  it('ARM: the OS disk is a managed disk listed by group and subscription; without deleteOption Delete it outlives the VM', async () => {
    const SUB = '11111111-2222-4333-8444-555555555555';
    const POLL = { updateIntervalInMs: 10 };
    const opts = { endpoint: sim.httpsUrl, tlsOptions: { ca: sim.caCertPem } };
    const token = sim.credentials.azure.accessToken;
    const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const compute = new ComputeManagementClient(credential, SUB, opts);
    const network = new NetworkManagementClient(credential, SUB, opts);
    const resources = new ResourceManagementClient(credential, SUB, opts);
    const rg = 'rg-disks';
    const tags = { 'skypool-cluster': 'disks' };
    await resources.resourceGroups.createOrUpdate(rg, { location: 'eastus', tags });
    const vnet = await network.virtualNetworks.beginCreateOrUpdateAndWait(
      rg,
      'vnet',
      {
        location: 'eastus',
        addressSpace: { addressPrefixes: ['10.30.0.0/16'] },
        subnets: [{ name: 'default', addressPrefix: '10.30.0.0/24' }],
      },
      POLL,
    );
    const vm = async (name: string, osDiskDelete: boolean) => {
      const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(
        rg,
        `${name}-nic`,
        { location: 'eastus', ipConfigurations: [{ name: 'ip', subnet: { id: vnet.subnets![0]!.id } }] },
        POLL,
      );
      return compute.virtualMachines.createOrUpdate(
        rg,
        name,
        {
          location: 'eastus',
          tags,
          hardwareProfile: { vmSize: 'Standard_D2s_v5' },
          storageProfile: {
            imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
            osDisk: {
              createOption: 'FromImage',
              managedDisk: { storageAccountType: 'StandardSSD_LRS' },
              ...(osDiskDelete ? { deleteOption: 'Delete' } : {}),
            },
          },
          osProfile: {
            computerName: name,
            adminUsername: 'skypool',
            linuxConfiguration: {
              disablePasswordAuthentication: true,
              ssh: {
                publicKeys: [
                  {
                    path: '/home/skypool/.ssh/authorized_keys',
                    keyData: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 test',
                  },
                ],
              },
            },
          },
          networkProfile: { networkInterfaces: [{ id: nic.id, deleteOption: 'Delete' }] },
        },
        POLL,
      );
    };
    const gone = await vm('d-gone', true);
    const kept = await vm('d-kept', false);
    const list = async (scope: 'group' | 'subscription') => {
      const out = [];
      const pages = scope === 'group' ? compute.disks.listByResourceGroup(rg) : compute.disks.list();
      for await (const d of pages) out.push(d);
      return out;
    };
    const inGroup = await list('group');
    expect(inGroup.map((d) => d.name).sort()).toEqual(
      [gone.storageProfile!.osDisk!.name, kept.storageProfile!.osDisk!.name].sort(),
    );
    expect(inGroup.map((d) => ({ state: d.diskState, sku: d.sku?.name, by: d.managedBy?.split('/').pop() }))).toEqual(
      expect.arrayContaining([
        { state: 'Attached', sku: 'StandardSSD_LRS', by: 'd-gone' },
        { state: 'Attached', sku: 'StandardSSD_LRS', by: 'd-kept' },
      ]),
    );
    expect((await list('subscription')).length).toBe(2);
    const keptDisk = kept.storageProfile!.osDisk!.name!;
    await expect(compute.disks.beginDeleteAndWait(rg, keptDisk, POLL)).rejects.toMatchObject({
      code: 'OperationNotAllowed',
    });
    await compute.virtualMachines.beginDeleteAndWait(rg, 'd-gone', POLL);
    await compute.virtualMachines.beginDeleteAndWait(rg, 'd-kept', POLL);
    const left = await list('group');
    expect(left.map((d) => ({ name: d.name, state: d.diskState, by: d.managedBy }))).toEqual([
      { name: keptDisk, state: 'Unattached', by: undefined },
    ]);
    // Azure copies no VM tags to the implicit OS disk: the inventory names the VM's tags as its origin.
    expect(sim.inventory().find((r) => r.type === 'Microsoft.Compute/disks')).toMatchObject({
      tags: {},
      state: 'Unattached',
      origin: { type: 'Microsoft.Compute/virtualMachines', tags },
    });
    await compute.disks.beginDeleteAndWait(rg, keptDisk, POLL);
    expect(await list('subscription')).toEqual([]);
    await resources.resourceGroups.beginDeleteAndWait(rg, POLL);
    expect(sim.inventory().filter((r) => r.cloud === 'azure')).toEqual([]);
  });

  it('GCE: the boot disk is a persistent disk in disks.list and aggregatedList; without autoDelete it outlives the instance', async () => {
    const opts = simGceClientOptions(sim);
    const instances = new InstancesClient(opts);
    const disks = new DisksClient(opts);
    const ops = new ZoneOperationsClient(opts);
    const project = 'skypool-disks';
    const zone = 'us-central1-a';
    const done = async (op: { latestResponse: unknown }) => {
      const name = (op.latestResponse as { name: string }).name;
      await pollUntil(
        async () => ((await ops.get({ project, zone, operation: name }))[0].status === 'DONE' ? true : undefined),
        { ...within(10_000), intervalMs: 20, what: `operation ${name}` },
      );
    };
    try {
      const insert = async (name: string, autoDelete: boolean) => {
        const [op] = await instances.insert({
          project,
          zone,
          instanceResource: {
            name,
            machineType: `zones/${zone}/machineTypes/e2-small`,
            labels: { 'skypool-cluster': 'disks' },
            disks: [
              {
                boot: true,
                autoDelete,
                initializeParams: {
                  sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64',
                  diskSizeGb: '20',
                  labels: { disk: name },
                },
              },
            ],
            networkInterfaces: [{ network: 'global/networks/default' }],
          },
        });
        await done(op);
      };
      await insert('g-gone', true);
      await insert('g-kept', false);
      const [listed] = await disks.list({ project, zone });
      expect(listed.map((d) => ({ name: d.name, users: d.users?.length, labels: d.labels, size: d.sizeGb }))).toEqual([
        { name: 'g-gone', users: 1, labels: { disk: 'g-gone' }, size: '20' },
        { name: 'g-kept', users: 1, labels: { disk: 'g-kept' }, size: '20' },
      ]);
      await expect(disks.delete({ project, zone, disk: 'g-kept' })).rejects.toMatchObject({
        message: expect.stringContaining('already being used'),
      });
      for (const name of ['g-gone', 'g-kept'])
        await done((await instances.delete({ project, zone, instance: name }))[0]);
      const left = await pollUntil(
        async () => {
          const [now] = await disks.list({ project, zone });
          return now.length === 1 ? now : undefined;
        },
        { ...within(10_000), intervalMs: 20, what: 'the auto-deleted disk to go' },
      );
      expect(left.map((d) => ({ name: d.name, users: d.users ?? [] }))).toEqual([{ name: 'g-kept', users: [] }]);
      const aggregated: string[] = [];
      for await (const [scope, list] of disks.aggregatedListAsync({ project }))
        for (const d of list.disks ?? []) aggregated.push(`${scope}/${d.name}`);
      expect(aggregated).toEqual([`zones/${zone}/g-kept`]);
      expect(sim.inventory().find((r) => r.type === 'disk')).toMatchObject({
        cloud: 'gcp',
        tags: { disk: 'g-kept' },
        origin: { type: 'instance', tags: { 'skypool-cluster': 'disks' } },
      });
      await done((await disks.delete({ project, zone, disk: 'g-kept' }))[0]);
      expect((await disks.list({ project, zone }))[0]).toEqual([]);
      expect(sim.inventory().filter((r) => r.type === 'disk')).toEqual([]);
    } finally {
      await Promise.all([instances.close(), disks.close(), ops.close()]);
    }
  });
});
