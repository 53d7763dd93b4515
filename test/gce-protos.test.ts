import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ComputeClients } from '../providers/gcp/clients.js';

const root = join(import.meta.dirname, '..');
const SERVICES = [
  'Instances',
  'ZoneOperations',
  'RegionOperations',
  'GlobalOperations',
  'Networks',
  'Subnetworks',
  'Firewalls',
  'MachineTypes',
  'Zones',
  'Regions',
];
const CLIENTS = [
  'instances',
  'zoneOperations',
  'regionOperations',
  'globalOperations',
  'networks',
  'subnetworks',
  'firewalls',
  'machineTypes',
  'zones',
  'regions',
] as const;

interface ProtoRoot {
  resolveAll(): void;
  lookupService(name: string): {
    methods: Record<string, { resolvedRequestType: unknown; resolvedResponseType: unknown }>;
  };
}
interface ProtoJson {
  nested: { google: { nested: { cloud: { nested: { compute: { nested: Record<string, unknown> } } } } } };
}

describe('the trimmed Compute Engine descriptor (providers/gcp/protos-v1.json)', () => {
  it('is the one scripts/gce-protos.mjs makes from the installed @google-cloud/compute', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts/gce-protos.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('holds every type the ten services reach (protobufjs resolves them all), and compute v1 only', () => {
    const require = createRequire(join(root, 'package.json'));
    const protobuf = createRequire(require.resolve('google-gax'))('protobufjs') as {
      Root: { fromJSON(json: unknown): ProtoRoot };
    };
    const trimmed = require('./providers/gcp/protos-v1.json') as { version: string; protos: ProtoJson };
    const descriptor = protobuf.Root.fromJSON(trimmed.protos);
    descriptor.resolveAll();
    for (const s of SERVICES) {
      const service = descriptor.lookupService(`google.cloud.compute.v1.${s}`);
      for (const m of Object.values(service.methods)) {
        expect(m.resolvedRequestType).toBeTruthy();
        expect(m.resolvedResponseType).toBeTruthy();
      }
    }
    expect(Object.keys(trimmed.protos.nested.google.nested.cloud.nested.compute.nested)).toEqual(['v1']);
  });

  it('builds every client the adapter uses', async () => {
    const clients = new ComputeClients({ accessToken: 'unused' });
    try {
      for (const name of CLIENTS) expect(clients[name]).toBeDefined();
    } finally {
      await clients.close();
    }
  });
});
