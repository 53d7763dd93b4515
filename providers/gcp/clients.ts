import { createRequire, Module } from 'node:module';
import type { FirewallsClient } from '@google-cloud/compute/build/src/v1/firewalls_client.js';
import type { GlobalOperationsClient } from '@google-cloud/compute/build/src/v1/global_operations_client.js';
import type { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import type { MachineTypesClient } from '@google-cloud/compute/build/src/v1/machine_types_client.js';
import type { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import type { RegionOperationsClient } from '@google-cloud/compute/build/src/v1/region_operations_client.js';
import type { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import type { SubnetworksClient } from '@google-cloud/compute/build/src/v1/subnetworks_client.js';
import type { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';
import type { ZonesClient } from '@google-cloud/compute/build/src/v1/zones_client.js';
import { OAuth2Client } from 'google-auth-library';
import trimmed from './protos-v1.json' with { type: 'json' };

const require = createRequire(import.meta.url);

/**
 * Every generated client module requires the package's protos.json (11.7 MB: each type of compute v1, v1beta and
 * v1small), and each client hashes it and builds a protobufjs Root from it: about 1 s and 100 MB before the first
 * call. protos-v1.json holds the part the ten services below reach (scripts/gce-protos.mjs makes it from the
 * installed package); it stands in for protos.json in the module cache when it was made from the same version,
 * else the package's own file loads as before.
 */
function useTrimmedProtos(): void {
  const file = require.resolve('@google-cloud/compute/build/protos/protos.json');
  if (require.cache[file]) return;
  const { version } = require('@google-cloud/compute/package.json') as { version: string };
  if (trimmed.version !== version) return;
  const entry = new Module(file);
  entry.filename = file;
  entry.loaded = true;
  entry.exports = trimmed.protos;
  require.cache[file] = entry;
}
useTrimmedProtos();

// The client modules one by one, not the package index: the index loads every v1, v1beta and v1small client
// (seconds); these ten are what the adapter calls.
const v1 = (name: string) => require(`@google-cloud/compute/build/src/v1/${name}_client.js`);
const { FirewallsClient: Firewalls } = v1('firewalls') as { FirewallsClient: typeof FirewallsClient };
const { GlobalOperationsClient: GlobalOperations } = v1('global_operations') as {
  GlobalOperationsClient: typeof GlobalOperationsClient;
};
const { InstancesClient: Instances } = v1('instances') as { InstancesClient: typeof InstancesClient };
const { MachineTypesClient: MachineTypes } = v1('machine_types') as { MachineTypesClient: typeof MachineTypesClient };
const { NetworksClient: Networks } = v1('networks') as { NetworksClient: typeof NetworksClient };
const { RegionOperationsClient: RegionOperations } = v1('region_operations') as {
  RegionOperationsClient: typeof RegionOperationsClient;
};
const { RegionsClient: Regions } = v1('regions') as { RegionsClient: typeof RegionsClient };
const { SubnetworksClient: Subnetworks } = v1('subnetworks') as { SubnetworksClient: typeof SubnetworksClient };
const { ZoneOperationsClient: ZoneOperations } = v1('zone_operations') as {
  ZoneOperationsClient: typeof ZoneOperationsClient;
};
const { ZonesClient: Zones } = v1('zones') as { ZonesClient: typeof ZonesClient };

/** Options of the generated Compute Engine clients (google-gax ClientOptions). */
export type ComputeClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;
/** The auth client the Compute Engine clients accept (e.g. google-auth-library's OAuth2Client or GoogleAuth client). */
export type GcpAuthClient = NonNullable<ComputeClientOptions['authClient']>;

export interface ClientSettings {
  readonly apiEndpoint?: string;
  readonly port?: number;
  readonly protocol?: 'http' | 'https';
  readonly authClient?: GcpAuthClient;
  readonly accessToken?: string;
}

interface Closable {
  close(): Promise<void>;
}

/**
 * The Compute Engine clients the adapter uses, with the same endpoint and credentials, each built on first use:
 * every constructor parses the whole Compute API description (~0.3 s each), and `plan` needs only `instances`.
 */
export class ComputeClients {
  private readonly options: ComputeClientOptions = { fallback: true };
  private readonly built = new Map<string, Closable>();

  constructor(settings: ClientSettings) {
    const options = this.options;
    if (settings.apiEndpoint) options.apiEndpoint = settings.apiEndpoint;
    if (settings.port !== undefined) options.port = settings.port;
    if (settings.protocol) options.protocol = settings.protocol;
    if (settings.authClient) options.authClient = settings.authClient;
    else if (settings.accessToken) {
      // A bare access token (e.g. from `gcloud auth print-access-token`): no refresh, good for its lifetime.
      const client = new OAuth2Client();
      client.setCredentials({ access_token: settings.accessToken, expiry_date: Date.now() + 3_600_000 });
      options.authClient = client as unknown as GcpAuthClient;
    }
  }

  private client<T extends Closable>(name: string, Client: new (options: ComputeClientOptions) => T): T {
    let client = this.built.get(name);
    if (!client) {
      client = new Client(this.options);
      this.built.set(name, client);
    }
    return client as T;
  }

  get instances(): InstancesClient {
    return this.client('instances', Instances);
  }
  get zoneOperations(): ZoneOperationsClient {
    return this.client('zoneOperations', ZoneOperations);
  }
  get regionOperations(): RegionOperationsClient {
    return this.client('regionOperations', RegionOperations);
  }
  get globalOperations(): GlobalOperationsClient {
    return this.client('globalOperations', GlobalOperations);
  }
  get networks(): NetworksClient {
    return this.client('networks', Networks);
  }
  get subnetworks(): SubnetworksClient {
    return this.client('subnetworks', Subnetworks);
  }
  get firewalls(): FirewallsClient {
    return this.client('firewalls', Firewalls);
  }
  get machineTypes(): MachineTypesClient {
    return this.client('machineTypes', MachineTypes);
  }
  get zones(): ZonesClient {
    return this.client('zones', Zones);
  }
  get regions(): RegionsClient {
    return this.client('regions', Regions);
  }

  async close(): Promise<void> {
    const clients = [...this.built.values()];
    this.built.clear();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
