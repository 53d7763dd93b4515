// The client modules one by one, not the package index: the index loads every v1, v1beta and v1small client
// (seconds); these ten are what the adapter calls.
import { FirewallsClient } from '@google-cloud/compute/build/src/v1/firewalls_client.js';
import { GlobalOperationsClient } from '@google-cloud/compute/build/src/v1/global_operations_client.js';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { MachineTypesClient } from '@google-cloud/compute/build/src/v1/machine_types_client.js';
import { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import { RegionOperationsClient } from '@google-cloud/compute/build/src/v1/region_operations_client.js';
import { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import { SubnetworksClient } from '@google-cloud/compute/build/src/v1/subnetworks_client.js';
import { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';
import { ZonesClient } from '@google-cloud/compute/build/src/v1/zones_client.js';
import { OAuth2Client } from 'google-auth-library';

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
    return this.client('instances', InstancesClient);
  }
  get zoneOperations(): ZoneOperationsClient {
    return this.client('zoneOperations', ZoneOperationsClient);
  }
  get regionOperations(): RegionOperationsClient {
    return this.client('regionOperations', RegionOperationsClient);
  }
  get globalOperations(): GlobalOperationsClient {
    return this.client('globalOperations', GlobalOperationsClient);
  }
  get networks(): NetworksClient {
    return this.client('networks', NetworksClient);
  }
  get subnetworks(): SubnetworksClient {
    return this.client('subnetworks', SubnetworksClient);
  }
  get firewalls(): FirewallsClient {
    return this.client('firewalls', FirewallsClient);
  }
  get machineTypes(): MachineTypesClient {
    return this.client('machineTypes', MachineTypesClient);
  }
  get zones(): ZonesClient {
    return this.client('zones', ZonesClient);
  }
  get regions(): RegionsClient {
    return this.client('regions', RegionsClient);
  }

  async close(): Promise<void> {
    const clients = [...this.built.values()];
    this.built.clear();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
