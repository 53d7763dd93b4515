import {
  FirewallsClient,
  GlobalOperationsClient,
  InstancesClient,
  MachineTypesClient,
  NetworksClient,
  RegionOperationsClient,
  RegionsClient,
  SubnetworksClient,
  ZoneOperationsClient,
  ZonesClient,
} from '@google-cloud/compute';
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

/** The Compute Engine clients the adapter uses, built once with the same endpoint and credentials. */
export class ComputeClients {
  readonly instances: InstancesClient;
  readonly zoneOperations: ZoneOperationsClient;
  readonly regionOperations: RegionOperationsClient;
  readonly globalOperations: GlobalOperationsClient;
  readonly networks: NetworksClient;
  readonly subnetworks: SubnetworksClient;
  readonly firewalls: FirewallsClient;
  readonly machineTypes: MachineTypesClient;
  readonly zones: ZonesClient;
  readonly regions: RegionsClient;

  constructor(settings: ClientSettings) {
    const options: ComputeClientOptions = { fallback: true };
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
    this.instances = new InstancesClient(options);
    this.zoneOperations = new ZoneOperationsClient(options);
    this.regionOperations = new RegionOperationsClient(options);
    this.globalOperations = new GlobalOperationsClient(options);
    this.networks = new NetworksClient(options);
    this.subnetworks = new SubnetworksClient(options);
    this.firewalls = new FirewallsClient(options);
    this.machineTypes = new MachineTypesClient(options);
    this.zones = new ZonesClient(options);
    this.regions = new RegionsClient(options);
  }

  async close(): Promise<void> {
    await Promise.all(
      [
        this.instances,
        this.zoneOperations,
        this.regionOperations,
        this.globalOperations,
        this.networks,
        this.subnetworks,
        this.firewalls,
        this.machineTypes,
        this.zones,
        this.regions,
      ].map((c) => c.close().catch(() => undefined)),
    );
  }
}
