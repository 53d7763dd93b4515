import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { App, type AppProps, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type CertificateBundle, createCertificateAuthority } from '../src/bootstrap/pki.js';
import { renderUserData, USER_DATA_MAX_BYTES } from '../src/bootstrap/user-data.js';
import { SkypoolCluster, type SkypoolClusterProps } from '../src/cdk/cluster.js';
import { buildExampleApp, EXAMPLE_SPEC } from '../src/cdk/example.js';
import { instanceTypeForSize } from '../src/cdk/instance-types.js';
import { userDataSizeIssue } from '../src/cdk/resolve.js';
import { createCdkTlsSecret, ensureCdkClusterPki } from '../src/cdk/tls.js';
import { TAG_KEYS } from '../src/providers/types.js';
import { type ClusterSpecInput, parseSpec, poolSpecHash } from '../src/spec/index.js';

type Resource = { Type: string; Properties: Record<string, any> };

// Every App synthesizes into a directory of this file's own temp dir (an App without outdir makes a cdk.outXXXX
// in the system temp dir and never removes it).
const outRoot = mkdtempSync(join(tmpdir(), 'skypool-cdk-test-'));
let apps = 0;
const newApp = (props: AppProps = {}) => new App({ outdir: join(outRoot, String((apps += 1))), ...props });
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

// One synthesized example (with cdk-nag) shared by every test of the stack: synth takes seconds. aws-cdk-lib's
// CloudFormation validation runs too, with its findings as errors: synth throws on an invalid template.
const { app, stack } = (() => {
  const app = newApp({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
  Aspects.of(app).add(new AwsSolutionsChecks());
  return buildExampleApp(app, '203.0.113.0/24');
})();
let template: Template;
let annotations: Annotations;
beforeAll(() => {
  template = Template.fromStack(stack);
  annotations = Annotations.fromStack(stack);
});

const spec = parseSpec(EXAMPLE_SPEC);
const poolSpec = (name: string) => spec.pools.find((p) => p.name === name)!;
const byType = (type: string): [string, Resource][] =>
  Object.entries(template.findResources(type)) as [string, Resource][];
/** The resource of `type` whose logical id contains the pool's construct id. */
const ofPool = (type: string, pool: string): [string, Resource] => {
  const found = byType(type).filter(([id]) => id.includes(`Pool${pool.replace(/-/g, '')}`));
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('SkypoolCluster: the example stack', () => {
  it('has one launch template, Auto Scaling group, security group and role per AWS pool (plus a shared group), nothing for the GCP pool', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
    template.resourceCountIs('AWS::EC2::LaunchTemplate', 2);
    template.resourceCountIs('AWS::EC2::SecurityGroup', 3);
    template.resourceCountIs('AWS::IAM::InstanceProfile', 2);
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    template.resourceCountIs('AWS::EC2::EIP', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain('gcp-workers');
    template.hasParameter('*', {
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      Default: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
    });
  });

  it.each([
    ['managers', '3', 't3.medium'],
    ['workers', '4', 'm6i.large'],
  ])(
    'pool %s: min = max = desired = %s, instance type %s, ownership tags propagated at launch',
    (pool, count, instanceType) => {
      const [, group] = ofPool('AWS::AutoScaling::AutoScalingGroup', pool);
      expect([group.Properties.MinSize, group.Properties.MaxSize, group.Properties.DesiredCapacity]).toEqual([
        count,
        count,
        count,
      ]);
      const tags = {
        [TAG_KEYS.cluster]: 'demo',
        [TAG_KEYS.pool]: pool,
        [TAG_KEYS.role]: poolSpec(pool).role,
        [TAG_KEYS.specHash]: poolSpecHash(spec, poolSpec(pool)),
      };
      expect(group.Properties.Tags).toEqual(
        Object.entries(tags).map(([Key, Value]) => ({ Key, Value, PropagateAtLaunch: true })),
      );
      const [, lt] = ofPool('AWS::EC2::LaunchTemplate', pool);
      const data = lt.Properties.LaunchTemplateData;
      expect(data.InstanceType).toBe(instanceType);
      const instanceTags = data.TagSpecifications.find(
        (t: { ResourceType: string }) => t.ResourceType === 'instance',
      ).Tags;
      expect(instanceTags).toEqual(
        expect.arrayContaining(Object.entries(tags).map(([Key, Value]) => ({ Key, Value }))),
      );
      expect(instanceTags).toContainEqual({ Key: 'Name', Value: `demo-${pool}` });
    },
  );

  it('requires IMDSv2 (tokens required, one hop) and an encrypted root volume', () => {
    for (const [, lt] of byType('AWS::EC2::LaunchTemplate')) {
      const data = lt.Properties.LaunchTemplateData;
      expect(data.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
      expect(data.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/sda1', Ebs: { Encrypted: true, VolumeSize: 20, VolumeType: 'gp3' } },
      ]);
    }
  });

  it.each(['managers', 'workers'])('pool %s boots exactly the bytes renderUserData gives for the same pool', (pool) => {
    const expected = renderUserData({
      engine: 'swarm',
      role: poolSpec(pool).role,
      cluster: 'demo',
      pool,
      source: { kind: 'aws-secrets-manager', joinSecretId: 'skypool/demo/swarm-join', tlsSecretId: 'skypool/demo/tls' },
      deadlineSeconds: 1800,
    });
    const [, lt] = ofPool('AWS::EC2::LaunchTemplate', pool);
    expect(lt.Properties.LaunchTemplateData.UserData).toEqual({ 'Fn::Base64': expected });
    expect(Buffer.byteLength(expected)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
    expect(expected).not.toMatch(/PRIVATE KEY|SWMTKN|\{\{\s*[A-Za-z_]\w*\s*\}\}|\{\{>/);
    execFileSync('/bin/sh', ['-n', '-c', expected]);
  });

  it('gives workers read of the two secrets only, managers also the token write and the Elastic IP', () => {
    const statements = (pool: string) => {
      const [roleId] = ofPool('AWS::IAM::Role', pool);
      const policies = byType('AWS::IAM::Policy').filter(([, p]) =>
        p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
      );
      expect(policies).toHaveLength(1);
      return policies[0]![1].Properties.PolicyDocument.Statement as {
        Sid: string;
        Action: string;
        Resource: unknown;
        Condition?: unknown;
      }[];
    };
    const [joinId] = byType('AWS::SecretsManager::Secret').find(([id]) => /Cluster(?!.*Worker)JoinSecret/.test(id))!;
    const [workerJoinId] = byType('AWS::SecretsManager::Secret').find(([id]) => id.includes('WorkerJoinSecret'))!;
    const [tlsId] = byType('AWS::SecretsManager::Secret').find(([id]) => id.includes('TlsSecret'))!;
    expect(new Set([joinId, workerJoinId, tlsId]).size).toBe(3);
    const read = (secret: string) => ({
      Sid: 'ReadClusterSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: [{ Ref: secret }, { Ref: tlsId }],
    });
    const clusterTag = { 'aws:ResourceTag/skypool-cluster': 'demo' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the IAM policy variable, literally
    const self = '${ec2:SourceInstanceARN}';
    const ownInstance = { ...clusterTag, 'aws:ARN': self };
    const name = {
      Sid: 'NameOwnInstance',
      Effect: 'Allow',
      Action: 'ec2:CreateTags',
      Condition: { StringEquals: ownInstance, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Name'] } },
    };
    const drop = {
      Sid: 'DropOwnCredentials',
      Action: 'ec2:ModifyInstanceMetadataOptions',
      Condition: {
        StringEquals: { ...ownInstance, 'ec2:Attribute/HttpEndpoint': 'disabled' },
        'ForAllValues:StringEquals': { 'ec2:Attribute': ['HttpEndpoint'] },
        Null: { 'ec2:Attribute': 'false' },
      },
    };

    const workers = statements('workers');
    expect(workers.map((s) => s.Sid)).toEqual(['ReadClusterSecrets', 'NameOwnInstance', 'DropOwnCredentials']);
    expect(workers[0]).toEqual(read(workerJoinId));
    expect(workers[1]).toMatchObject(name);
    expect(workers[2]).toMatchObject(drop);
    // The bar of issue 11: nothing lets a worker read the manager join token.
    const workerReads = workers.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(workerReads.map((s) => s.Resource))).not.toContain(`"${joinId}"`);

    const managers = statements('managers');
    expect(managers.map((s) => s.Sid)).toEqual([
      'ReadClusterSecrets',
      'NameOwnInstance',
      'DropOwnCredentials',
      'PublishJoinTokens',
      'TakeManagerAddress',
      'TakeManagerAddressForSelf',
    ]);
    expect(managers[0]).toEqual(read(joinId));
    expect(managers[3]).toEqual({
      Sid: 'PublishJoinTokens',
      Effect: 'Allow',
      Action: 'secretsmanager:PutSecretValue',
      Resource: [{ Ref: joinId }, { Ref: workerJoinId }],
    });
    expect(managers[4]).toMatchObject({ Action: 'ec2:AssociateAddress', Condition: { StringEquals: clusterTag } });
    expect(JSON.stringify(managers[4]!.Resource)).toContain('"AllocationId"');
    expect(managers[5]).toMatchObject({ Action: 'ec2:AssociateAddress', Condition: { StringEquals: ownInstance } });
    // Every statement on instances applies to the calling instance only.
    for (const s of [...workers, ...managers].filter((x) => JSON.stringify(x.Resource).includes(':instance/'))) {
      expect(s.Condition).toMatchObject({ StringEquals: { 'aws:ARN': self } });
    }
    for (const s of [...workers, ...managers]) expect(s.Action).not.toMatch(/\*/);
    // No managed policies at all (no SSM core, no admin).
    for (const [, role] of byType('AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('opens only the swarm ports between nodes (2377 to managers only) and 2376 to the given CIDR', () => {
    const [managersSg, managers] = ofPool('AWS::EC2::SecurityGroup', 'managers');
    const [workersSg, workers] = ofPool('AWS::EC2::SecurityGroup', 'workers');
    const [nodesSg, nodes] = byType('AWS::EC2::SecurityGroup').find(([id]) => id.includes('NodesSecurityGroup'))!;
    const cidrRules = (sg: Resource) =>
      (sg.Properties.SecurityGroupIngress ?? [])
        .map((r: Record<string, unknown>) => `${r.CidrIp} ${r.IpProtocol}/${r.FromPort}-${r.ToPort}`)
        .sort();
    expect(cidrRules(nodes)).toEqual([
      '198.51.100.0/24 tcp/7946-7946',
      '198.51.100.0/24 udp/4789-4789',
      '198.51.100.0/24 udp/7946-7946',
    ]);
    expect(cidrRules(managers)).toEqual(['198.51.100.0/24 tcp/2377-2377', '203.0.113.0/24 tcp/2376-2376']);
    expect(cidrRules(workers)).toEqual(['203.0.113.0/24 tcp/2376-2376']);
    const name = (ref: unknown) =>
      ({ [managersSg]: 'managers', [workersSg]: 'workers', [nodesSg]: 'nodes' })[
        (ref as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]
      ];
    const peerRules = byType('AWS::EC2::SecurityGroupIngress').map(
      ([, r]) =>
        `${name(r.Properties.SourceSecurityGroupId)}->${name(r.Properties.GroupId)} ${r.Properties.IpProtocol}/${r.Properties.FromPort}`,
    );
    expect(peerRules.sort()).toEqual([
      'nodes->managers tcp/2377',
      'nodes->nodes tcp/7946',
      'nodes->nodes udp/4789',
      'nodes->nodes udp/7946',
    ]);
    // Every node is in its pool's group and in the cluster's group.
    for (const pool of ['managers', 'workers']) {
      const [, lt] = ofPool('AWS::EC2::LaunchTemplate', pool);
      expect(lt.Properties.LaunchTemplateData.SecurityGroupIds.map(name).sort()).toEqual(['nodes', pool].sort());
    }
  });

  it('outputs the manager address (Elastic IP) and the secret names, and pins the region', () => {
    const [eipId] = byType('AWS::EC2::EIP')[0]!;
    template.hasOutput('*', { Value: { 'Fn::GetAtt': [eipId, 'PublicIp'] } });
    template.hasOutput('*', { Value: 'skypool/demo/swarm-join' });
    template.hasOutput('*', { Value: 'skypool/demo/tls' });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'skypool/demo/swarm-join',
      SecretString: {
        'Fn::Join': [
          '',
          [
            '{"eipAllocationId":"',
            { 'Fn::GetAtt': [eipId, 'AllocationId'] },
            '","eipAddress":"',
            { 'Fn::GetAtt': [eipId, 'PublicIp'] },
            '"}',
          ],
        ],
      },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'skypool/demo/tls', SecretString: '{}' });
    expect(stack.region).toBe('eu-west-1');
  });

  it('warns about the GCP pool by name, and about nothing else', () => {
    const warnings = annotations.findWarning('*', Match.anyValue());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.id).toBe('/SkypoolDemo/Cluster');
    expect(String(warnings[0]!.entry.data)).toMatch(
      /pool "gcp-workers" \(gcp, europe-west4, 2 workers\) is not deployed by this stack.*ManagerAddress/,
    );
  });

  it('is clean under cdk-nag AwsSolutionsChecks, and every suppression has a reason', () => {
    expect(annotations.findError('*', Match.anyValue()).map((e) => String(e.entry.data).slice(0, 200))).toEqual([]);
    const suppressions = Object.values(
      template.toJSON().Resources as Record<
        string,
        { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }
      >,
    ).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(new Set(suppressions.map((s) => s.id))).toEqual(
      new Set(['AwsSolutions-SMG4', 'AwsSolutions-IAM5', 'AwsSolutions-AS3']),
    );
    for (const s of suppressions) expect(s.reason.length).toBeGreaterThan(30);
  });

  it('keeps the app synthesizable to a cloud assembly without lookups', () => {
    const assembly = app.synth();
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });
});

describe('SkypoolCluster: with a given VPC and an existing TLS secret', () => {
  it('creates no VPC, places the pool in the given VPC and grants read of the named secret (any ARN suffix)', () => {
    const stack = new Stack(newApp({ builtinCloudFormationValidation: false }), 'Given');
    const vpc = new ec2.Vpc(stack, 'Mine', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }],
    });
    new SkypoolCluster(stack, 'C', {
      spec: {
        name: 'g',
        engine: 'swarm',
        pools: [
          { name: 'm', provider: 'aws', region: 'us-east-1', instanceType: 't3.small', count: 1, role: 'manager' },
        ],
      },
      engineApiCidr: '10.1.0.0/16',
      vpc,
      tlsSecretName: 'team/skypool-tls',
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.resourceCountIs('AWS::EC2::FlowLog', 0);
    t.resourceCountIs('AWS::SecretsManager::Secret', 2);
    // An env-agnostic stack gets a deploy-time rule pinning the pools' region.
    expect(JSON.stringify(t.toJSON().Rules)).toContain('deploy this stack to us-east-1');
    const policy = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policy).toContain(':secretsmanager:');
    expect(policy).toContain(':secret:team/skypool-tls-??????');
    const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0] as Resource;
    expect(lt.Properties.LaunchTemplateData.UserData['Fn::Base64']).toContain("TLS_SECRET_ID='team/skypool-tls'");
  });
});

describe('SkypoolCluster: validation at synth names the construct path and the field', () => {
  const base: ClusterSpecInput = {
    name: 'v',
    engine: 'swarm',
    pools: [
      { name: 'm', provider: 'aws', region: 'us-east-1', instanceType: 't3.small', count: 1, role: 'manager' },
      { name: 'w', provider: 'aws', region: 'us-east-1', size: { cpus: 2, memoryGiB: 2 }, count: 2, role: 'worker' },
    ],
  };
  const build =
    (specInput: ClusterSpecInput | string, props: Partial<SkypoolClusterProps> = {}, region?: string) =>
    () =>
      new SkypoolCluster(new Stack(newApp(), 'Val', region ? { env: { region } } : {}), 'Pool', {
        spec: specInput,
        engineApiCidr: '10.0.0.0/8',
        ...props,
      });
  const withPool = (i: number, patch: Record<string, unknown>): ClusterSpecInput => ({
    ...base,
    pools: base.pools.map((p, j) => (j === i ? { ...p, ...patch } : p)) as ClusterSpecInput['pools'],
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'a negative count',
      build(withPool(0, { count: -1 })),
      /construct Val\/Pool[\s\S]*pools\[0\]\.count: count must be 0 or more/,
    ],
    [
      'a fractional count',
      build(withPool(1, { count: 1.5 })),
      /construct Val\/Pool[\s\S]*pools\[1\]\.count: count must be a whole number/,
    ],
    [
      'a size no instance type has',
      build(withPool(1, { size: { cpus: 256, memoryGiB: 2048 } })),
      /construct Val\/Pool[\s\S]*pools\[1\]\.size: no instance type of skypool's price catalog has 256 vCPUs and 2048 GiB; set instanceType/,
    ],
    [
      'two regions in one stack',
      build(withPool(1, { region: 'us-west-2' })),
      /construct Val\/Pool[\s\S]*pools\[1\]\.region: a stack deploys to one region/,
    ],
    [
      'a region other than the stack',
      build(base, {}, 'eu-west-1'),
      /pools\[0\]\.region: "us-east-1" differs from the stack's region "eu-west-1"/,
    ],
    [
      'a bad engine API CIDR',
      build(base, { engineApiCidr: '10.0.0.300/8' }),
      /construct Val\/Pool[\s\S]*props\.engineApiCidr: "10\.0\.0\.300\/8" is not an IPv4 CIDR/,
    ],
    [
      'AWS workers without an AWS manager',
      build(withPool(0, { provider: 'gcp', region: 'europe-west4' })),
      /pools\[1\]\.role: AWS workers join through a manager of this stack/,
    ],
    [
      'a missing spec file',
      build('/nonexistent/skypool.yaml'),
      /construct Val\/Pool: cannot read the cluster spec \/nonexistent\/skypool\.yaml/,
    ],
  ])('rejects %s', (_what, make, message) => {
    expect(make).toThrow(message);
  });

  it('names user-data over 16 KB with the pool field', () => {
    expect(userDataSizeIssue('pools[1].userData', 'x'.repeat(USER_DATA_MAX_BYTES + 1))).toEqual({
      path: 'pools[1].userData',
      message: `the rendered user-data is ${USER_DATA_MAX_BYTES + 1} bytes, over the 16384-byte EC2 limit`,
    });
    expect(userDataSizeIssue('pools[1].userData', 'x'.repeat(USER_DATA_MAX_BYTES))).toBeUndefined();
  });

  it('keeps the pool boot script under 16 KB even with the longest names the spec allows', () => {
    const cluster = 'c'.repeat(24);
    const script = renderUserData({
      engine: 'swarm',
      role: 'manager',
      cluster,
      pool: 'p'.repeat(20),
      source: {
        kind: 'aws-secrets-manager',
        joinSecretId: `skypool/${cluster}/swarm-join`,
        tlsSecretId: `skypool/${cluster}/tls`,
      },
    });
    expect(Buffer.byteLength(script)).toBeLessThanOrEqual(USER_DATA_MAX_BYTES);
  });

  it('reads a YAML spec file and reports its errors with the file and the construct path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skypool-cdk-'));
    try {
      const file = join(dir, 'skypool.yaml');
      writeFileSync(
        file,
        'name: f\nengine: swarm\npools:\n  - { name: m, provider: aws, region: us-east-1, instanceType: t3.small, count: 1, role: manager }\n',
      );
      const stack = new Stack(newApp(), 'File');
      const cluster = new SkypoolCluster(stack, 'C', { spec: file, engineApiCidr: '10.0.0.0/8' });
      expect(cluster.spec.name).toBe('f');
      expect(cluster.pools.map((p) => p.pool.name)).toEqual(['m']);
      writeFileSync(
        file,
        'name: f\nengine: swarm\npools:\n  - { name: m, provider: aws, region: us-east-1, instanceType: t3.small, count: -2, role: manager }\n',
      );
      expect(build(file)).toThrow(
        new RegExp(
          `construct Val/Pool \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)[\\s\\S]*pools\\[0\\]\\.count`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps sizes to the cheapest type of the price catalog that fits', () => {
    expect(instanceTypeForSize({ cpus: 1, memoryGiB: 0.5 })).toBe('t3.nano');
    expect(instanceTypeForSize({ cpus: 2, memoryGiB: 4 })).toBe('t3.medium');
    expect(instanceTypeForSize({ cpus: 4, memoryGiB: 8 })).toBe('t3.xlarge');
    expect(instanceTypeForSize({ cpus: 12, memoryGiB: 8 })).toBe('m5.4xlarge');
    expect(instanceTypeForSize({ cpus: 128, memoryGiB: 512 })).toBe('m6i.32xlarge');
    expect(instanceTypeForSize({ cpus: 129, memoryGiB: 1 })).toBeUndefined();
  });
});

describe('CDK node boot: TLS made at boot, AWS calls signed by the node', () => {
  const templates = join(process.cwd(), 'templates');
  let dir: string;
  let ca: CertificateBundle;
  let client: CertificateBundle;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skypool-cdk-tls-'));
    const pki = await ensureCdkClusterPki(join(dir, 'state'), 'demo');
    ({ ca, client } = pki);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs templates/aws/tls.sh with the secret served from a local JSON file instead of Secrets Manager. */
  function bootTls(secretJson: string): string {
    const tlsDir = join(dir, 'tls');
    writeFileSync(join(dir, 'secret.json'), secretJson, { mode: 0o600 });
    const fakeAws = `import json,os,sys\ns=json.load(open(${JSON.stringify(join(dir, 'secret.json'))}))\nif sys.argv[1]=='field': print(s[sys.argv[3]]); sys.exit(0)\nfor p in sys.argv[4:]:\n  n,f=p.split(':')\n  fd=os.open(os.path.join(sys.argv[3],f),os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600)\n  os.write(fd,(s[n].strip()+'\\n').encode())`;
    writeFileSync(join(dir, 'fake-aws.py'), fakeAws);
    const fragment = readFileSync(join(templates, 'aws/tls.sh'), 'utf8').replaceAll('/etc/skypool/tls', tlsDir);
    const script = [
      'set -u',
      `LOG_DIR=${dir}; NODE_NAME=demo-managers-0abc; NODE_IP=10.0.1.23; PUBLIC_IP=198.51.100.9; SKYPOOL_ROLE=manager`,
      'TLS_SECRET_ID=skypool/demo/tls; JOIN_SECRET_ID=skypool/demo/swarm-join',
      `AWS="python3 ${dir}/fake-aws.py"`,
      'remaining() { echo 1; }; log() { echo "$*"; }; fail() { echo "FAIL $*"; exit 1; }',
      fragment,
    ].join('\n');
    execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    return tlsDir;
  }

  it('makes a server cert the SDK trusts with its cluster CA, and rejects clients the node issuer could mint', async () => {
    // A CA that cannot sign intermediates (the SDK's default) is refused with what to do.
    await expect(createCdkTlsSecret(await createCertificateAuthority('old CA', 3650, 0))).rejects.toThrow(
      /path length 0.*ensureCdkClusterPki/,
    );
    const secret = await createCdkTlsSecret(ca);
    expect(secret.issuerKeyPem).toContain('PRIVATE KEY');
    const tlsDir = bootTls(JSON.stringify({ ...secret, eipAddress: '203.0.113.50' }));
    const files = execFileSync('ls', ['-l', tlsDir], { encoding: 'utf8' });
    expect(files).not.toContain('issuer-key.pem');
    expect(files).toMatch(/-rw------- .* key\.pem/);
    const read = (f: string) => readFileSync(join(tlsDir, f), 'utf8');
    expect(read('ca.pem').trim()).toBe(ca.certPem.trim());
    const sans = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], {
      input: read('cert.pem'),
      encoding: 'utf8',
    });
    expect(sans).toMatch(
      /DNS:demo-managers-0abc, IP Address:10\.0\.1\.23, IP Address:127\.0\.0\.1, IP Address:198\.51\.100\.9, IP Address:203\.0\.113\.50/,
    );
    expect(sans).toMatch(/TLS Web Server Authentication/);

    // A client cert signed by the node issuer (what a compromised node could make) is refused by the engine side.
    const rogueKey = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], {
      encoding: 'utf8',
    });
    writeFileSync(join(dir, 'rogue.key'), rogueKey, { mode: 0o600 });
    writeFileSync(join(dir, 'issuer-key.pem'), secret.issuerKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
    const csr = execFileSync('openssl', ['req', '-new', '-key', join(dir, 'rogue.key'), '-subj', '/CN=rogue'], {
      encoding: 'utf8',
    });
    const rogue = execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-CA',
        join(tlsDir, 'issuer.pem'),
        '-CAkey',
        join(dir, 'issuer-key.pem'),
        '-set_serial',
        '7',
        '-days',
        '1',
        '-extfile',
        join(dir, 'ext'),
      ],
      { input: csr, encoding: 'utf8' },
    );

    // Refused for the reason the design relies on: the issuer's EKU does not allow client authentication.
    writeFileSync(join(dir, 'rogue.pem'), rogue);
    const verify = (purpose: string, file: string) =>
      execFileSync(
        'sh',
        [
          '-c',
          `openssl verify -purpose ${purpose} -CAfile ${tlsDir}/ca.pem -untrusted ${tlsDir}/issuer.pem ${file} 2>&1 || true`,
        ],
        { encoding: 'utf8' },
      );
    expect(verify('sslserver', join(tlsDir, 'cert.pem'))).toMatch(/: OK/);
    expect(verify('sslclient', join(dir, 'rogue.pem'))).toMatch(/at 1 depth lookup: unsuitable certificate purpose/);

    const server = createServer(
      { cert: read('cert.pem'), key: read('key.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true },
      (_req, res) => res.end('engine'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const get = (cert: string, key: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', ca: ca.certPem, cert, key }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await expect(get(client.certPem, client.keyPem)).resolves.toBe('engine');
      await expect(get(`${rogue}${secret.issuerCertPem}`, rogueKey)).rejects.toThrow();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('elects one swarm creator among racing managers; the others and the workers join it with the published tokens', () => {
    const script = renderUserData({
      engine: 'swarm',
      role: 'manager',
      cluster: 'demo',
      pool: 'managers',
      source: { kind: 'aws-secrets-manager', joinSecretId: 'skypool/demo/swarm-join', tlsSecretId: 'skypool/demo/tls' },
    });
    const election = script.slice(script.indexOf('swarm_create() {'), script.indexOf('# --- common/done.sh'));
    const state = join(dir, 'election');
    execFileSync('mkdir', ['-p', state]);
    // Secrets Manager semantics that matter: one version per ClientRequestToken, a different value under a used token fails.
    writeFileSync(
      join(state, 'secret.json'),
      JSON.stringify({ value: { eipAllocationId: 'eipalloc-1' }, token: null }),
    );
    writeFileSync(
      join(state, 'aws.py'),
      `import json,os,sys
p=${JSON.stringify(join(state, 'secret.json'))}
s=json.load(open(p)); cmd, args = sys.argv[1], sys.argv[2:]
log=open(${JSON.stringify(join(state, 'events'))},'a')
if cmd=='field':
  v=s['value'].get(args[1])
  stale=${JSON.stringify(join(state, 'stale-read-done'))}
  if os.environ.get('STALE') and args[1]=='managerToken' and not os.path.exists(stale): open(stale,'w').close(); v=None
  if not v: sys.exit(3)
  print(v)
elif cmd=='publish':
  new=dict(s['value'], managerAddr=args[1], workerToken=os.environ['SKYPOOL_WORKER_TOKEN'], managerToken=os.environ['SKYPOOL_MANAGER_TOKEN'])
  if s['token'] and new!=s['value']: sys.exit(4)
  s['value'], s['token'] = new, 'fixed'; json.dump(s, open(p,'w')); log.write('publish %s\\n' % args[1])
elif cmd=='associate-address': log.write('associate %s %s\\n' % (s['value']['eipAllocationId'], os.environ['NODE']))
`,
    );
    writeFileSync(
      join(state, 'docker.sh'),
      `node=$1; shift; f=${state}/$node.state; touch "$f"
case "$1 $2" in
  "info --format") cat "$f" ;;
  "swarm init") echo active >"$f"; echo "$node init" >>${state}/events ;;
  "swarm join-token") echo "SWMTKN-$4-$node" ;;
  "swarm leave") : >"$f"; echo "$node leave" >>${state}/events ;;
  "swarm join") echo active >"$f"; echo "$node join $4 $(eval echo \\\${$#})" >>${state}/events ;;
esac
`,
    );
    const boot = (node: string, role: 'manager' | 'worker', ip: string, stale = false) =>
      execFileSync(
        '/bin/sh',
        [
          '-c',
          [
            'set -u',
            `SKYPOOL_ROLE=${role}; NODE_IP=${ip}; LOG_DIR=${state}; JOIN_SECRET_ID=skypool/demo/swarm-join; export NODE=${node}`,
            'WORKER_JOIN_SECRET_ID=skypool/demo/swarm-join-worker',
            `AWS="env ${stale ? 'STALE=1 ' : ''}python3 ${state}/aws.py"; DOCKER="sh ${state}/docker.sh ${node}"`,
            `swarm_state() { $DOCKER info --format x; }`,
            'START=$(date +%s); remaining() { echo $((START + 10 - $(date +%s))); }; log() { :; }; fail() { echo "FAIL $*" >&2; exit 1; }',
            election,
          ].join('\n'),
        ],
        { encoding: 'utf8' },
      );
    boot('a', 'manager', '10.0.1.1');
    boot('c', 'manager', '10.0.1.3', true); // read the secret before a's tokens were visible
    boot('b', 'manager', '10.0.1.2');
    boot('w', 'worker', '10.0.2.1');
    expect(readFileSync(join(state, 'events'), 'utf8').trim().split('\n')).toEqual([
      'a init',
      'publish 10.0.1.1',
      'associate eipalloc-1 a',
      'c init',
      'c leave',
      'c join SWMTKN-manager-a 10.0.1.1:2377',
      'b join SWMTKN-manager-a 10.0.1.1:2377',
      'w join SWMTKN-worker-a 10.0.1.1:2377',
    ]);
  });

  it('signs Secrets Manager calls exactly like the AWS SDK (SigV4), with credentials from IMDSv2', async () => {
    const identity = readFileSync(join(templates, 'aws/identity.sh'), 'utf8');
    const py = identity.split("<<'PY'\n")[1]!.split('\nPY\n')[0]!;
    const harness = `
import json, sys
src = sys.stdin.read()
g = {'__name__': 'aws'}
exec(src[:src.index('\\ntry:\\n    sys.exit(main(')], g)
creds = {'AccessKeyId': 'AKIDEXAMPLE', 'SecretAccessKey': 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 'Token': 'session-token'}
g['meta'] = lambda p: {'meta-data/placement/region': 'eu-west-1', 'meta-data/iam/security-credentials/': 'node-role\\n',
  'meta-data/iam/security-credentials/node-role': json.dumps(creds), 'meta-data/instance-id': 'i-0abc'}[p]
seen = []
class Resp:
    def read(self): return json.dumps({'SecretString': json.dumps({'managerToken': 'SWMTKN-x', 'managerAddr': '10.0.1.5'})}).encode()
def urlopen(req, timeout=None):
    seen.append({'url': req.full_url, 'headers': {k.lower(): v for k, v in req.header_items()}, 'body': req.data.decode()})
    return Resp()
g['urllib'].request.urlopen = urlopen
rc = g['main']('field', ['skypool/demo/swarm-join', 'managerAddr'])
print(json.dumps({'rc': rc, 'seen': seen}))`;
    const out = execFileSync('python3', ['-c', harness], { input: py, encoding: 'utf8' }).trim().split('\n');
    expect(out[0]).toBe('10.0.1.5');
    const { rc, seen } = JSON.parse(out[1]!) as {
      rc: number;
      seen: { url: string; headers: Record<string, string>; body: string }[];
    };
    expect(rc).toBe(0);
    expect(seen).toHaveLength(1);
    const call = seen[0]!;
    expect(call.url).toBe('https://secretsmanager.eu-west-1.amazonaws.com/');
    expect(JSON.parse(call.body)).toEqual({ SecretId: 'skypool/demo/swarm-join' });

    class NodeSha256 {
      private readonly hash;
      constructor(secret?: Uint8Array | string) {
        this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
      }
      update(data: Uint8Array | string): void {
        this.hash.update(data);
      }
      async digest(): Promise<Uint8Array> {
        return new Uint8Array(this.hash.digest());
      }
    }
    const signer = new SignatureV4({
      service: 'secretsmanager',
      region: 'eu-west-1',
      sha256: NodeSha256,
      applyChecksum: false,
      credentials: {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        sessionToken: 'session-token',
      },
    });
    const d = call.headers['x-amz-date']!;
    const signingDate = new Date(
      Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15)),
    );
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: 'secretsmanager.eu-west-1.amazonaws.com',
        path: '/',
        query: {},
        headers: {
          host: 'secretsmanager.eu-west-1.amazonaws.com',
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.GetSecretValue',
        },
        body: call.body,
      },
      { signingDate },
    );
    expect(call.headers.authorization).toBe(signed.headers.authorization);
    expect(call.headers['x-amz-security-token']).toBe('session-token');
  });
});

describe('SkypoolCluster: the engine API port is never open to the internet by default', () => {
  const spec1: ClusterSpecInput = {
    name: 'e',
    engine: 'swarm',
    pools: [{ name: 'm', provider: 'aws', region: 'us-east-1', instanceType: 't3.small', count: 1, role: 'manager' }],
  };
  const synth = (props: Partial<SkypoolClusterProps>) => {
    const stack = new Stack(newApp({ builtinCloudFormationValidation: false }), 'Api', {
      env: { region: 'us-east-1' },
    });
    new SkypoolCluster(stack, 'C', { spec: spec1, engineApiCidr: '203.0.113.7/32', ...props });
    return stack;
  };
  const engineSources = (stack: Stack) =>
    Object.values(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroup')).flatMap((sg) =>
      ((sg as Resource).Properties.SecurityGroupIngress ?? [])
        .filter((r: Record<string, unknown>) => r.FromPort === 2376)
        .map((r: Record<string, unknown>) => r.CidrIp),
    );

  it('the example template has no 0.0.0.0/0 on 2376', () => {
    const rules = byType('AWS::EC2::SecurityGroup').flatMap(([, sg]) => sg.Properties.SecurityGroupIngress ?? []);
    const engine = rules.filter((r: Record<string, unknown>) => r.FromPort === 2376);
    expect(engine.length).toBeGreaterThan(0);
    for (const r of engine) expect(r.CidrIp).not.toBe('0.0.0.0/0');
  });

  it('refuses 0.0.0.0/0 without the opt-in, naming the field and the fix', () => {
    expect(() => synth({ engineApiCidr: '0.0.0.0/0' })).toThrow(
      /props\.engineApiCidr: "0\.0\.0\.0\/0" opens the Docker engine API.*allowEngineApiFromAnywhere: true/,
    );
  });

  it('accepts 0.0.0.0/0 on explicit opt-in, with a warning annotation', () => {
    const stack = synth({ engineApiCidr: '0.0.0.0/0', allowEngineApiFromAnywhere: true });
    expect(engineSources(stack)).toEqual(['0.0.0.0/0']);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('whole internet'));
    expect(warnings).toHaveLength(1);
    expect(engineSources(synth({}))).toEqual(['203.0.113.7/32']);
    expect(Annotations.fromStack(synth({})).findWarning('*', Match.stringLikeRegexp('whole internet'))).toHaveLength(0);
  });
});
