import { CloudApiError } from '../../src/errors.js';
import { type NetworkRef, TAG_KEYS } from '../../src/providers/types.js';
import type { GceApi } from './api.js';
import { describeFailure, isNotFound, mapApiError } from './errors.js';
import {
  defaultSubnetCidr,
  engineFirewallName,
  FABRIC_PORT,
  fabricFirewallName,
  internalFirewallName,
  networkName,
  networkTag,
  ownerDescription,
  ownerLabels,
  reservedAddresses,
  subnetName,
} from './naming.js';
import { type Operation, operationOf } from './operations.js';

/**
 * The cluster's network on Compute Engine: a custom-mode VPC, one subnetwork per region used, and two firewall
 * rules (swarm traffic between the cluster's VMs by network tag; the engine API from configured ranges). Found
 * by deterministic names, owned when their description carries the cluster label (see naming.ts).
 */
export class GceNetworks {
  constructor(private readonly api: GceApi) {}

  private checkOwner(kind: string, name: string, description: string | null | undefined, cluster: string): void {
    if (ownerLabels(description)?.[TAG_KEYS.cluster] !== cluster) {
      throw new CloudApiError(
        `a ${kind} named ${name} exists in project ${this.api.project} but was not created by skypool for cluster ${cluster}; delete or rename it, or choose another cluster name`,
        { kind, name },
      );
    }
  }

  async ensureSubnet(cluster: string, region: string, signal?: AbortSignal): Promise<NetworkRef> {
    const project = this.api.project;
    const name = subnetName(cluster, region);
    const owner = ownerDescription({ [TAG_KEYS.cluster]: cluster });
    let subnet = await this.api.find('subnetworks.get', () =>
      this.api.clients.subnetworks.get({ project, region, subnetwork: name }),
    );
    if (!subnet) {
      const cidr =
        region === this.api.region && this.api.settings.subnetCidr
          ? this.api.settings.subnetCidr
          : defaultSubnetCidr(cluster, region);
      await this.api.create(
        'subnetworks.insert',
        (requestId) =>
          this.api.clients.subnetworks.insert({
            project,
            region,
            requestId,
            subnetworkResource: {
              name,
              network: `projects/${project}/global/networks/${networkName(cluster)}`,
              ipCidrRange: cidr,
              description: owner,
              privateIpGoogleAccess: true,
            },
          }),
        signal,
      );
      subnet = await this.api.find('subnetworks.get', () =>
        this.api.clients.subnetworks.get({ project, region, subnetwork: name }),
      );
      if (!subnet) throw new CloudApiError(`subnetwork ${name} was created but cannot be read back; retry`, { region });
    } else this.checkOwner('subnetwork', name, subnet.description, cluster);
    const cidr = String(subnet.ipCidrRange);
    return {
      id: `projects/${project}/regions/${region}/subnetworks/${name}`,
      cidr,
      reservedAddresses: reservedAddresses(cidr),
    };
  }

  /** The cluster's VPC network (global), its subnet in `region` and its firewall rules. */
  async ensureNetwork(cluster: string, region: string, signal?: AbortSignal): Promise<NetworkRef> {
    const project = this.api.project;
    const name = networkName(cluster);
    const owner = ownerDescription({ [TAG_KEYS.cluster]: cluster });
    const existing = await this.api.find('networks.get', () =>
      this.api.clients.networks.get({ project, network: name }),
    );
    if (existing) this.checkOwner('network', name, existing.description, cluster);
    else {
      await this.api.create(
        'networks.insert',
        (requestId) =>
          this.api.clients.networks.insert({
            project,
            requestId,
            networkResource: {
              name,
              description: owner,
              autoCreateSubnetworks: false,
              routingConfig: { routingMode: 'REGIONAL' },
            },
          }),
        signal,
      );
    }
    const ref = { ...(await this.ensureSubnet(cluster, region, signal)), region };
    const network = `projects/${project}/global/networks/${name}`;
    const tag = networkTag(cluster);
    const rules = [
      {
        name: internalFirewallName(cluster),
        description: owner,
        network,
        direction: 'INGRESS',
        // Swarm: manager API, gossip, VXLAN overlay, and ESP for encrypted overlay networks; only between the cluster's VMs.
        allowed: [
          { IPProtocol: 'tcp', ports: ['2377', '7946'] },
          { IPProtocol: 'udp', ports: ['7946', '4789'] },
          { IPProtocol: 'esp' },
        ],
        sourceTags: [tag],
        targetTags: [tag],
      },
      {
        name: engineFirewallName(cluster),
        description: owner,
        network,
        direction: 'INGRESS',
        allowed: [{ IPProtocol: 'tcp', ports: ['2376'] }],
        sourceRanges: [...(await this.api.engineApiSources(signal))],
        targetTags: [tag],
      },
      {
        name: fabricFirewallName(cluster),
        description: owner,
        network,
        direction: 'INGRESS',
        allowed: [{ IPProtocol: 'udp', ports: [String(FABRIC_PORT)] }],
        sourceRanges: ['0.0.0.0/0'],
        targetTags: [tag],
      },
    ];
    await Promise.all(
      rules.map(async (rule) => {
        const found = await this.api.find('firewalls.get', () =>
          this.api.clients.firewalls.get({ project, firewall: rule.name }),
        );
        if (found) return this.checkOwner('firewall rule', rule.name, found.description, cluster);
        await this.api.create(
          'firewalls.insert',
          (requestId) => this.api.clients.firewalls.insert({ project, requestId, firewallResource: rule }),
          signal,
        );
      }),
    );
    return ref;
  }

  /** Why the fabric's firewall rule does not admit 51820/udp from anywhere (missing, disabled), if it does not. */
  async fabricFirewallProblem(cluster: string): Promise<string | undefined> {
    const project = this.api.project;
    const firewall = fabricFirewallName(cluster);
    const network = await this.api.find('networks.get', () =>
      this.api.clients.networks.get({ project, network: networkName(cluster) }),
    );
    if (!network) return undefined;
    const found = await this.api.find('firewalls.get', () => this.api.clients.firewalls.get({ project, firewall }));
    const what = `the firewall rule ${firewall} (udp/${FABRIC_PORT} from 0.0.0.0/0) of network ${networkName(cluster)}`;
    if (!found) return `${what} is missing: the fabric's WireGuard packets cannot reach the nodes there`;
    if (found.disabled) return `${what} is disabled: the fabric's WireGuard packets cannot reach the nodes there`;
    return undefined;
  }

  async deleteNetwork(cluster: string, signal?: AbortSignal): Promise<void> {
    const project = this.api.project;
    const name = networkName(cluster);
    const remove = async (action: string, del: () => Promise<unknown>) => {
      let op: Operation;
      try {
        op = operationOf(((await this.api.call(del, signal)) as unknown[])[0]);
      } catch (error) {
        if (isNotFound(error)) return;
        const f = describeFailure(error);
        if (f.reason === 'resourceInUseByAnotherResource') {
          throw new CloudApiError(
            `cannot delete the network of cluster ${cluster}: ${f.message}; terminate the cluster's instances first`,
            { action, cloudCode: f.reason },
          );
        }
        throw mapApiError(error, { action });
      }
      await this.api.wait(op, { action }, signal);
    };
    for (const firewall of [internalFirewallName(cluster), engineFirewallName(cluster), fabricFirewallName(cluster)]) {
      const found = await this.api.find('firewalls.get', () => this.api.clients.firewalls.get({ project, firewall }));
      if (found && ownerLabels(found.description)?.[TAG_KEYS.cluster] === cluster)
        await remove('firewalls.delete', () => this.api.clients.firewalls.delete({ project, firewall }));
    }
    const network = await this.api.find('networks.get', () =>
      this.api.clients.networks.get({ project, network: name }),
    );
    if (!network || ownerLabels(network.description)?.[TAG_KEYS.cluster] !== cluster) return;
    for (const url of network.subnetworks ?? []) {
      const parts = url.split('/');
      const region = parts[parts.length - 3]!;
      const subnetwork = parts[parts.length - 1]!;
      await remove('subnetworks.delete', () => this.api.clients.subnetworks.delete({ project, region, subnetwork }));
    }
    await remove('networks.delete', () => this.api.clients.networks.delete({ project, network: name }));
  }
}
