import { SeededRandom } from '../src/cloudsim/core/random.js';
import type { SimContext } from '../src/cloudsim/core/types.js';
import { instanceXml, renderInstanceXml } from '../src/cloudsim/ec2/instance-xml.js';
import type { Ec2Instance, Launch } from '../src/cloudsim/ec2/model.js';
import { Ec2Store } from '../src/cloudsim/ec2/store.js';
import { withoutTags, withTags } from '../src/cloudsim/ec2/tags.js';
import { RawXml, responseXml } from '../src/cloudsim/ec2/xml.js';

/**
 * DescribeInstances reuses each instance's rendering until something it shows changes. Every step below changes
 * one input (the clock, tags, addresses, termination) and checks the cached rendering against a fresh one.
 */

const BOOT_MS = 1000;
const REGION = 'us-east-1';

function setup(): { store: Ec2Store; launch: Launch; t0: number } {
  // The store reads only settings and random from its context; time is passed explicitly below.
  const context = { settings: { bootTimeMs: BOOT_MS }, random: new SeededRandom(7) } as unknown as SimContext;
  const store = new Ec2Store(context, { terminatedRetentionMs: 3_600_000 });
  const subnet = store.defaultSubnet(REGION);
  const t0 = Date.parse('2026-11-26T12:00:00Z');
  const launch: Launch = {
    reservationId: store.newId('r'),
    region: REGION,
    zone: subnet.zone,
    vpcId: subnet.vpcId,
    subnetId: subnet.id,
    imageId: 'ami-0123456789abcdef0',
    instanceType: 't3.medium',
    groupIds: [store.vpcs.get(subnet.vpcId)!.defaultGroupId],
    clientToken: 'token-1',
    metadata: { httpTokens: 'required', httpEndpoint: 'enabled', hopLimit: 2, instanceMetadataTags: 'disabled' },
    tags: Object.freeze([
      Object.freeze(['skypool-cluster', 'c1'] as const),
      Object.freeze(['Name', 'café & <web>'] as const),
    ]),
  };
  return { store, launch, t0 };
}

/** The cached rendering at `now`, after checking it equals a fresh one. */
function rendered(store: Ec2Store, i: Ec2Instance, now: number): RawXml {
  const state = store.stateOf(i, now);
  const cached = instanceXml(store, i, state);
  expect(cached.xml).toBe(renderInstanceXml(store, i, state));
  expect(cached.utf8Length).toBe(Buffer.byteLength(cached.xml, 'utf8'));
  return cached;
}

describe('cloudsim EC2 instance rendering cache', () => {
  it('renders again on state transitions, tag changes, address changes and termination, and only then', () => {
    const { store, launch, t0 } = setup();
    const i = store.addInstance(launch, 0, store.subnets.get(launch.subnetId)!.cidr.base + 10, t0);
    i.publicIp = store.nextPublicIp();

    const pending = rendered(store, i, t0);
    expect(pending.xml).toContain('<name>pending</name>');
    expect(pending.xml).not.toContain('<ipAddress>');
    expect(rendered(store, i, t0 + BOOT_MS - 1)).toBe(pending);

    // pending → running comes from the clock alone: no write to the instance.
    const running = rendered(store, i, t0 + BOOT_MS);
    expect(running).not.toBe(pending);
    expect(running.xml).toContain('<name>running</name>');
    expect(running.xml).toContain('<ipAddress>198.18.');
    expect(rendered(store, i, t0 + 5 * BOOT_MS)).toBe(running);

    i.tags = withTags(i.tags, [['owner', 'zoë']]);
    const tagged = rendered(store, i, t0 + 5 * BOOT_MS);
    expect(tagged.xml).toContain('<key>owner</key><value>zoë</value>');
    i.tags = withoutTags(i.tags, [['owner', undefined]]);
    expect(rendered(store, i, t0 + 5 * BOOT_MS).xml).not.toContain('<key>owner</key>');

    i.ip += 1;
    const moved = rendered(store, i, t0 + 5 * BOOT_MS);
    expect(moved).not.toBe(tagged);
    i.publicIp = store.nextPublicIp();
    expect(rendered(store, i, t0 + 5 * BOOT_MS).xml).not.toBe(moved.xml);

    const ended = t0 + 6 * BOOT_MS;
    i.endedAt = ended;
    i.reason = 'Client.UserInitiatedShutdown';
    expect(rendered(store, i, ended).xml).toContain('<name>shutting-down</name>');
    const terminated = rendered(store, i, ended + BOOT_MS);
    expect(terminated.xml).toContain('<name>terminated</name>');
    expect(terminated.xml).toContain('<networkInterfaceSet/>');
  });

  it('keeps one rendering per instance: instances of one launch do not share it', () => {
    const { store, launch, t0 } = setup();
    const base = store.subnets.get(launch.subnetId)!.cidr.base;
    const a = store.addInstance(launch, 0, base + 10, t0);
    const b = store.addInstance(launch, 1, base + 11, t0);
    const ra = rendered(store, a, t0 + BOOT_MS);
    const rb = rendered(store, b, t0 + BOOT_MS);
    expect(ra.xml).toContain(a.id);
    expect(rb.xml).toContain(b.id);
    expect(rendered(store, a, t0 + BOOT_MS)).toBe(ra);
  });

  it('assembles a page of cached renderings into the same bytes as the string document', () => {
    const { store, launch, t0 } = setup();
    const base = store.subnets.get(launch.subnetId)!.cidr.base;
    const instances = [0, 1, 2].map((n) => store.addInstance(launch, n, base + 20 + n, t0));
    instances[1]!.tags = withTags(launch.tags, [['Name', '日本語']]);
    const now = t0 + BOOT_MS;
    const page = (item: (i: Ec2Instance) => RawXml) =>
      responseXml('DescribeInstances', 'req-1', {
        reservationSet: [
          {
            reservationId: launch.reservationId,
            ownerId: '123456789012',
            groupSet: [],
            instancesSet: instances.map(item),
          },
        ],
        nextToken: 'abc',
      });
    const bytes = page((i) => instanceXml(store, i, store.stateOf(i, now)));
    const text = page((i) => new RawXml(renderInstanceXml(store, i, store.stateOf(i, now))));
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(typeof text).toBe('string');
    expect((bytes as Buffer).equals(Buffer.from(text as string, 'utf8'))).toBe(true);
    expect((bytes as Buffer).toString('utf8')).toContain('<value>日本語</value>');
  });
});
