import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import {
  GlobalOperationsClient,
  InstancesClient,
  NetworksClient,
  RegionOperationsClient,
  SubnetworksClient,
  ZoneOperationsClient,
} from '@google-cloud/compute';
import { OAuth2Client } from 'google-auth-library';
import { type CloudSim, startCloudSim } from '../src/cloudsim/index.js';
import { pollUntil } from '../src/util/poll.js';

/**
 * Stop/start on the three simulated clouds with the virtual backing (no root), through the official SDK clients:
 * the state transitions each cloud shows, and which public addresses survive (EC2 auto-assigned: no; Elastic IP:
 * yes; GCE ephemeral ONE_TO_ONE_NAT: no; Azure Dynamic: no after deallocate; Static: yes). Private addresses stay.
 */

const BOOT_MS = 60;
const poll = <T>(what: string, fn: () => Promise<T | undefined>) =>
  pollUntil(fn, { deadline: Date.now() + 10_000, intervalMs: 15, what });

describe('cloudsim stop/start', () => {
  let sim: CloudSim;

  beforeAll(async () => {
    sim = await startCloudSim({ bootTimeMs: BOOT_MS });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  describe('EC2 StopInstances / StartInstances', () => {
    let ec2: EC2Client;
    let imageId: string;
    let subnetId: string;
    const made: string[] = [];

    beforeAll(async () => {
      ec2 = new EC2Client({ region: 'us-east-1', endpoint: sim.httpUrl, credentials: sim.credentials.aws });
      const images = await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'] }));
      imageId = images.Images!.find((i) => i.Architecture === 'x86_64')!.ImageId!;
      const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
      const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: '10.40.1.0/24' }));
      subnetId = subnet.Subnet!.SubnetId!;
    });
    afterAll(async () => {
      if (made.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: made })).catch(() => undefined);
      ec2?.destroy();
    });

    const describe1 = async (id: string): Promise<Instance> =>
      (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    const inState = (id: string, state: string) =>
      poll(`${id} ${state}`, async () => {
        const i = await describe1(id);
        return i.State?.Name === state ? i : undefined;
      });
    const launch = async (): Promise<string> => {
      const res = await ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnetId, AssociatePublicIpAddress: true }],
        }),
      );
      const id = res.Instances![0]!.InstanceId!;
      made.push(id);
      await inState(id, 'running');
      return id;
    };

    it('goes stopping → stopped → pending → running; the auto-assigned public address changes, the private one stays', async () => {
      const id = await launch();
      const before = await describe1(id);
      expect(before.PublicIpAddress).toMatch(/^198\.1[89]\./);
      const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      expect(stop.StoppingInstances).toEqual([
        expect.objectContaining({
          InstanceId: id,
          PreviousState: { Code: 16, Name: 'running' },
          CurrentState: { Code: 64, Name: 'stopping' },
        }),
      ]);
      const stopped = await inState(id, 'stopped');
      expect(stopped.State?.Code).toBe(80);
      expect(stopped.PublicIpAddress).toBeUndefined();
      expect(stopped.PrivateIpAddress).toBe(before.PrivateIpAddress);
      expect(stopped.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
      // Stopping again is a no-op; a stopped instance is listed by the state filter.
      const again = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      expect(again.StoppingInstances?.[0]?.CurrentState?.Name).toBe('stopped');

      const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      expect(start.StartingInstances).toEqual([
        expect.objectContaining({
          InstanceId: id,
          PreviousState: { Code: 80, Name: 'stopped' },
          CurrentState: { Code: 0, Name: 'pending' },
        }),
      ]);
      const running = await inState(id, 'running');
      expect(running.PrivateIpAddress).toBe(before.PrivateIpAddress);
      expect(running.PublicIpAddress).toMatch(/^198\.1[89]\./);
      expect(running.PublicIpAddress).not.toBe(before.PublicIpAddress);
    });

    it('keeps an Elastic IP across stop/start', async () => {
      const id = await launch();
      const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
      await ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId!, InstanceId: id }));
      await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      await inState(id, 'stopped');
      await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      expect((await inState(id, 'running')).PublicIpAddress).toBe(eip.PublicIp);
    });

    it('refuses to start a stopping instance and to stop a pending or terminated one (IncorrectInstanceState)', async () => {
      const id = await launch();
      await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      await expect(ec2.send(new StartInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({
        name: 'IncorrectInstanceState',
        $metadata: { httpStatusCode: 400 },
      });
      await inState(id, 'stopped');
      await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      await expect(ec2.send(new StopInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({
        name: 'IncorrectInstanceState',
      });
      await inState(id, 'running');
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await expect(ec2.send(new StartInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({
        name: 'IncorrectInstanceState',
      });
      await expect(ec2.send(new StopInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))).rejects.toMatchObject({
        name: 'InvalidInstanceID.NotFound',
      });
    });
  });

  describe('Compute Engine instances.stop / instances.start', () => {
    const PROJECT = 'stop-start';
    const ZONE = 'us-central1-a';
    let instances: InstancesClient;
    let networks: NetworksClient;
    let subnetworks: SubnetworksClient;
    let zoneOps: ZoneOperationsClient;
    let regionOps: RegionOperationsClient;
    let globalOps: GlobalOperationsClient;
    type Op = { name?: string | null; status?: unknown };
    /** Calls `wait` until the operation is DONE, as the API wants (wait returns early after its longest hold). */
    const done = (op: { latestResponse: unknown }, wait: (name: string) => Promise<Op>) =>
      poll('operation DONE', async () => {
        const now = await wait((op.latestResponse as Op).name!);
        return now.status === 'DONE' ? now : undefined;
      });
    const zoneDone = (op: { latestResponse: unknown }) =>
      done(op, async (operation) => (await zoneOps.wait({ project: PROJECT, zone: ZONE, operation }))[0] as Op);

    beforeAll(async () => {
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: sim.credentials.gcp.accessToken, expiry_date: Date.now() + 3_600_000 });
      const opts = { apiEndpoint: sim.host, port: sim.httpPort, protocol: 'http', authClient, fallback: true };
      instances = new InstancesClient(opts);
      networks = new NetworksClient(opts);
      subnetworks = new SubnetworksClient(opts);
      zoneOps = new ZoneOperationsClient(opts);
      regionOps = new RegionOperationsClient(opts);
      globalOps = new GlobalOperationsClient(opts);
      const [net] = await networks.insert({
        project: PROJECT,
        networkResource: { name: 'net', autoCreateSubnetworks: false },
      });
      await done(net, async (operation) => (await globalOps.wait({ project: PROJECT, operation }))[0] as Op);
      const [sub] = await subnetworks.insert({
        project: PROJECT,
        region: 'us-central1',
        subnetworkResource: { name: 'sub', network: 'global/networks/net', ipCidrRange: '10.41.0.0/20' },
      });
      await done(
        sub,
        async (operation) => (await regionOps.wait({ project: PROJECT, region: 'us-central1', operation }))[0] as Op,
      );
    });
    afterAll(async () => {
      await Promise.all([instances, networks, subnetworks, zoneOps, regionOps, globalOps].map((c) => c?.close()));
    });

    const get = async (name: string) => (await instances.get({ project: PROJECT, zone: ZONE, instance: name }))[0];
    const inStatus = (name: string, status: string) =>
      poll(`${name} ${status}`, async () => {
        const vm = await get(name);
        return vm.status === status ? vm : undefined;
      });

    it('goes STOPPING → TERMINATED → STAGING → RUNNING; the ephemeral external address changes', async () => {
      const [insert] = await instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: {
          name: 'vm-1',
          machineType: `zones/${ZONE}/machineTypes/e2-small`,
          disks: [
            {
              boot: true,
              autoDelete: true,
              initializeParams: { sourceImage: 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64' },
            },
          ],
          networkInterfaces: [
            { subnetwork: 'regions/us-central1/subnetworks/sub', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] },
          ],
        },
      });
      await zoneDone(insert);
      const before = await inStatus('vm-1', 'RUNNING');
      const nat = before.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP;
      expect(nat).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      const [stop] = await instances.stop({ project: PROJECT, zone: ZONE, instance: 'vm-1' });
      expect(stop.latestResponse).toMatchObject({ operationType: 'stop' });
      await zoneDone(stop);
      const stopped = await inStatus('vm-1', 'TERMINATED');
      expect(stopped.networkInterfaces?.[0]?.networkIP).toBe(before.networkInterfaces?.[0]?.networkIP);
      expect(stopped.networkInterfaces?.[0]?.accessConfigs?.[0]).toMatchObject({ type: 'ONE_TO_ONE_NAT' });
      expect(stopped.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP).toBeFalsy();

      const [start] = await instances.start({ project: PROJECT, zone: ZONE, instance: 'vm-1' });
      expect(start.latestResponse).toMatchObject({ operationType: 'start' });
      expect((await get('vm-1')).status).toBe('STAGING');
      await zoneDone(start);
      const running = await inStatus('vm-1', 'RUNNING');
      expect(running.networkInterfaces?.[0]?.networkIP).toBe(before.networkInterfaces?.[0]?.networkIP);
      const again = running.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP;
      expect(again).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(again).not.toBe(nat);
      const [del] = await instances.delete({ project: PROJECT, zone: ZONE, instance: 'vm-1' });
      await zoneDone(del);
    });
  });

  describe('ARM virtualMachines powerOff / deallocate / start', () => {
    const SUB = '7d1e0c2b-3a4f-4b5c-8d6e-9f0a1b2c3d4e';
    const RG = 'rg-power';
    const POLL = { updateIntervalInMs: 10 };
    let compute: ComputeManagementClient;
    let network: NetworkManagementClient;

    beforeAll(async () => {
      const token = sim.credentials.azure.accessToken;
      const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
      const opts = { endpoint: sim.httpsUrl, tlsOptions: { ca: sim.caCertPem } };
      compute = new ComputeManagementClient(credential, SUB, opts);
      network = new NetworkManagementClient(credential, SUB, opts);
      await new ResourceManagementClient(credential, SUB, opts).resourceGroups.createOrUpdate(RG, {
        location: 'eastus',
      });
      await network.virtualNetworks.beginCreateOrUpdateAndWait(
        RG,
        'vnet',
        {
          location: 'eastus',
          addressSpace: { addressPrefixes: ['10.42.0.0/16'] },
          subnets: [{ name: 'default', addressPrefix: '10.42.0.0/24' }],
        },
        POLL,
      );
    });

    /** A VM with a NIC and a public IP of the given allocation (Dynamic needs the Basic SKU). */
    const vmWithPublicIp = async (name: string, allocation: 'Static' | 'Dynamic') => {
      const pip = await network.publicIPAddresses.beginCreateOrUpdateAndWait(
        RG,
        `${name}-ip`,
        {
          location: 'eastus',
          sku: { name: allocation === 'Static' ? 'Standard' : 'Basic' },
          publicIPAllocationMethod: allocation,
        },
        POLL,
      );
      const subnet = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`;
      const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(
        RG,
        `${name}-nic`,
        {
          location: 'eastus',
          ipConfigurations: [{ name: 'ipconfig1', subnet: { id: subnet }, publicIPAddress: { id: pip.id } }],
        },
        POLL,
      );
      await compute.virtualMachines.beginCreateOrUpdateAndWait(
        RG,
        name,
        {
          location: 'eastus',
          hardwareProfile: { vmSize: 'Standard_D2s_v5' },
          storageProfile: {
            imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
            osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
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
    const power = async (name: string) =>
      (await compute.virtualMachines.instanceView(RG, name)).statuses?.find((s) => s.code?.startsWith('PowerState/'))
        ?.code;
    const address = async (name: string) => (await network.publicIPAddresses.get(RG, `${name}-ip`)).ipAddress;

    it('powerOff keeps the VM allocated and its addresses; start runs it again', async () => {
      await vmWithPublicIp('vm-off', 'Dynamic');
      const ip = await address('vm-off');
      expect(await power('vm-off')).toBe('PowerState/running');
      await compute.virtualMachines.beginPowerOffAndWait(RG, 'vm-off', {}, POLL);
      expect(await power('vm-off')).toBe('PowerState/stopped');
      expect(await address('vm-off')).toBe(ip);
      await compute.virtualMachines.beginStartAndWait(RG, 'vm-off', POLL);
      expect(await power('vm-off')).toBe('PowerState/running');
      expect(await address('vm-off')).toBe(ip);
    });

    it('deallocate releases a Dynamic public IP (a new one on start) and keeps a Static one', async () => {
      await vmWithPublicIp('vm-dyn', 'Dynamic');
      await vmWithPublicIp('vm-static', 'Static');
      const dynamic = await address('vm-dyn');
      const fixed = await address('vm-static');
      expect(dynamic).toBeDefined();
      await Promise.all([
        compute.virtualMachines.beginDeallocateAndWait(RG, 'vm-dyn', {}, POLL),
        compute.virtualMachines.beginDeallocateAndWait(RG, 'vm-static', {}, POLL),
      ]);
      expect(await power('vm-dyn')).toBe('PowerState/deallocated');
      expect(await address('vm-dyn')).toBeUndefined();
      expect(await address('vm-static')).toBe(fixed);
      await Promise.all([
        compute.virtualMachines.beginStartAndWait(RG, 'vm-dyn', POLL),
        compute.virtualMachines.beginStartAndWait(RG, 'vm-static', POLL),
      ]);
      expect(await power('vm-dyn')).toBe('PowerState/running');
      const renewed = await address('vm-dyn');
      expect(renewed).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(renewed).not.toBe(dynamic);
      expect(await address('vm-static')).toBe(fixed);
    });
  });
});
