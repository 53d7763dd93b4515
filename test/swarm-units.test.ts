import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clusterPkiDir,
  ensureClusterPki,
  hasClusterPki,
  issueNodeCertificate,
  removeClusterState,
} from '../src/bootstrap/cluster-pki.js';
import { pickAddresses } from '../src/cluster/addresses.js';
import { buildHttpdImage } from '../src/demo/image.js';
import { tar } from '../src/demo/tar.js';
import type { ApiNode, ApiTask } from '../src/engines/swarm/nodes.js';
import { type ApiService, serviceSpec, workloadStatus } from '../src/engines/swarm/services.js';
import { itIf, missing } from './support/requirements.js';

describe('pickAddresses', () => {
  const network = { id: 'br', cidr: '10.213.7.0/24', reservedAddresses: ['10.213.7.0', '10.213.7.1', '10.213.7.255'] };

  it('skips reserved and used addresses, lowest first', () => {
    expect(pickAddresses(network, ['10.213.7.2', '10.213.7.4'], 3)).toEqual(['10.213.7.3', '10.213.7.5', '10.213.7.6']);
  });

  it('never hands out the network or broadcast address and fails when the subnet is full', () => {
    const tiny = { id: 'x', cidr: '192.168.1.0/30' };
    expect(pickAddresses(tiny, [], 2)).toEqual(['192.168.1.1', '192.168.1.2']);
    expect(() => pickAddresses(tiny, [], 3)).toThrow(/only 2 free addresses/);
  });
});

describe('swarm service spec', () => {
  const web = {
    name: 'web',
    image: 'skypool/demo-httpd:1',
    replicas: 6,
    port: 8080,
    command: ['httpd', '-f'],
    env: { A: '1' },
    constraints: ['node.labels.pool==workers'],
  };

  it('uses dnsrr and host-mode ports with dynamic host ports without the routing mesh', () => {
    const spec = serviceSpec(web, { routingMesh: false });
    expect(spec.EndpointSpec).toEqual({
      Mode: 'dnsrr',
      Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' }],
    });
    expect(spec.TaskTemplate).toMatchObject({
      ContainerSpec: {
        Image: 'skypool/demo-httpd:1',
        Args: ['httpd', '-f'],
        Env: ['A=1'],
        StopGracePeriod: 1_000_000_000,
      },
      RestartPolicy: { Condition: 'any', Delay: 0 },
      Placement: { Constraints: ['node.labels.pool==workers'] },
    });
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 6 } });
  });

  it('publishes through the ingress mesh where IPVS exists', () => {
    expect(serviceSpec(web, { routingMesh: true }).EndpointSpec).toEqual({
      Mode: 'vip',
      Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 8080, PublishMode: 'ingress' }],
    });
  });

  it('lists each running task with its node address and host port', () => {
    const service = { ID: 's1', Version: { Index: 1 }, Spec: serviceSpec(web, { routingMesh: false }) } as ApiService;
    const node = {
      ID: 'n1',
      Version: { Index: 1 },
      Spec: { Role: 'worker', Availability: 'active' },
      Description: { Hostname: 'c-workers-1' },
      Status: { State: 'ready', Addr: '10.0.0.3' },
    } as ApiNode;
    const task = (id: string, state: string, desired: string, port?: number): ApiTask => ({
      ID: id,
      ServiceID: 's1',
      NodeID: 'n1',
      Slot: 1,
      DesiredState: desired,
      Status: {
        State: state,
        ...(port ? { PortStatus: { Ports: [{ TargetPort: 8080, PublishedPort: port, PublishMode: 'host' }] } } : {}),
      },
    });
    const status = workloadStatus(
      service,
      [task('t1', 'running', 'running', 30001), task('t0', 'shutdown', 'shutdown')],
      [node],
      (n) => n.Status?.Addr,
    );
    expect(status).toMatchObject({
      runningReplicas: 1,
      desiredReplicas: 6,
      endpointMode: 'dnsrr',
      publishMode: 'host',
      targetPort: 8080,
    });
    expect(status.tasks).toEqual([
      {
        id: 't1',
        slot: 1,
        node: 'c-workers-1',
        state: 'running',
        desiredState: 'running',
        address: '10.0.0.3',
        hostPort: 30001,
      },
    ]);
  });
});

describe('cluster PKI files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypool-pki-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('creates the CA and client identity once, keys 0600 in a 0700 directory, and reloads them', async () => {
    expect(hasClusterPki(dir, 'c1')).toBe(false);
    const first = await ensureClusterPki(dir, 'c1');
    expect(first.created).toBe(true);
    expect(hasClusterPki(dir, 'c1')).toBe(true);
    const pkiDir = clusterPkiDir(dir, 'c1');
    expect(statSync(pkiDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(pkiDir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(pkiDir, 'key.pem')).mode & 0o777).toBe(0o600);
    const again = await ensureClusterPki(dir, 'c1');
    expect(again.ca.certPem).toBe(first.ca.certPem);
    expect(again.created).toBe(false);
    const server = await issueNodeCertificate(again, 'c1-workers-1', '10.213.7.3');
    const cert = new X509Certificate(server.certPem);
    expect(cert.subjectAltName).toContain('IP Address:10.213.7.3');
    expect(cert.checkIssued(new X509Certificate(first.ca.certPem))).toBe(true);
    await removeClusterState(dir, 'c1');
    expect(existsSync(join(dir, 'clusters', 'c1'))).toBe(false);
  });
});

describe('docker-load image tarball', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypool-img-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes ustar archives GNU tar reads back byte for byte', () => {
    const archive = tar([
      { type: 'dir', path: 'a' },
      { type: 'file', path: 'a/hello.txt', data: Buffer.from('hello\n'), mode: 0o600 },
      { type: 'symlink', path: 'a/link', target: 'hello.txt' },
    ]);
    const listing = execFileSync('tar', ['-tvf', '-'], { input: archive, encoding: 'utf8' });
    expect(listing).toMatch(/^drwxr-xr-x .* a\/$/m);
    expect(listing).toMatch(/^-rw------- .* 6 .* a\/hello.txt$/m);
    expect(listing).toMatch(/a\/link -> hello.txt$/m);
    expect(execFileSync('tar', ['-xOf', '-', 'a/hello.txt'], { input: archive, encoding: 'utf8' })).toBe('hello\n');
  });

  itIf(missing({ files: ['/bin/busybox'] }))(
    'packs busybox as a docker save archive whose manifest names the layer and config',
    async () => {
      const image = await buildHttpdImage(join(dir, 'img.tar'));
      const archive = readFileSync(image.tarball);
      const manifest = JSON.parse(
        execFileSync('tar', ['-xOf', '-', 'manifest.json'], { input: archive, encoding: 'utf8' }),
      ) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
      expect(manifest[0]!.RepoTags).toEqual(['skypool/demo-httpd:1']);
      const config = JSON.parse(
        execFileSync('tar', ['-xOf', '-', manifest[0]!.Config], { input: archive, encoding: 'utf8' }),
      ) as { rootfs: { diff_ids: string[] }; config: { Cmd: string[] } };
      expect(config.rootfs.diff_ids[0]).toBe(`sha256:${manifest[0]!.Layers[0]!.split('/')[0]}`);
      const layer = execFileSync('tar', ['-xOf', '-', manifest[0]!.Layers[0]!], {
        input: archive,
        maxBuffer: 64 << 20,
      });
      expect(execFileSync('tar', ['-tf', '-'], { input: layer, encoding: 'utf8' }).split('\n')).toEqual(
        expect.arrayContaining(['bin/busybox', 'bin/httpd', 'bin/sh', 'www/']),
      );
    },
  );
});
