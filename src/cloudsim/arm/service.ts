import { randomUUID } from 'node:crypto';
import type { CloudService, SimContext, SimRequest, SimResponse } from '../core/types.js';
import { type ApiFamily, checkApiVersion, isApiVersionOf } from './api-versions.js';
import { principalOf } from './auth.js';
import { BLOB_PREFIX, retrieveBootDiagnosticsData, serveBlob } from './boot-diagnostics.js';
import { type ArmCall, type ArmReply, RawJson } from './call.js';
import * as compute from './compute.js';
import * as disks from './disks.js';
import { ArmError, badRequest } from './errors.js';
import * as groups from './groups.js';
import { armNetworkView } from './net-view.js';
import * as network from './network.js';
import * as nic from './nic.js';
import { operationResult, operationStatus } from './operations.js';
import { inventoryOf, restoreState, snapshotState } from './persist.js';
import * as publicIp from './public-ip.js';
import { type ArmRoute, parseRoute, wellEncoded } from './route.js';
import { ArmStore } from './store.js';
import { type ArmCallKind, throttle, throttled } from './throttle.js';

/**
 * Azure Resource Manager simulator: Microsoft.Resources resource groups, Microsoft.Network (VNets, subnets,
 * NSGs, NICs) and Microsoft.Compute (VMs, Flexible scale sets, resource SKUs), served over https only.
 */
type Handler = (call: ArmCall) => ArmReply;

interface Endpoint {
  /** Operation id as in the REST specs, for the call meter. */
  readonly action: string;
  readonly family: ApiFamily;
  readonly resourceType: string;
  readonly handler: Handler;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const methodNotAllowed = (method: string) =>
  new ArmError(405, 'HttpMethodNotAllowed', `The requested resource does not support http method '${method}'.`);

function crud(
  method: string,
  prefix: string,
  family: ApiFamily,
  type: string,
  ops: { put?: Handler; get?: Handler; del?: Handler; patch?: Handler },
): Endpoint {
  if (method === 'PUT' && ops.put)
    return { action: `${prefix}_CreateOrUpdate`, family, resourceType: type, handler: ops.put };
  if (method === 'PATCH' && ops.patch)
    return { action: `${prefix}_Update`, family, resourceType: type, handler: ops.patch };
  if (method === 'GET' && ops.get) return { action: `${prefix}_Get`, family, resourceType: type, handler: ops.get };
  if (method === 'DELETE' && ops.del)
    return { action: `${prefix}_Delete`, family, resourceType: type, handler: ops.del };
  throw methodNotAllowed(method);
}

function list(method: string, action: string, family: ApiFamily, type: string, handler: Handler): Endpoint {
  if (method !== 'GET') throw methodNotAllowed(method);
  return { action, family, resourceType: type, handler };
}

function unknownType(namespace: string, type: string): ArmError {
  return new ArmError(
    404,
    'InvalidResourceType',
    `The resource type '${type}' could not be found in the namespace '${namespace}' for api version of this request.`,
  );
}

function operationEndpoint(
  method: string,
  family: 'compute' | 'network',
  rest: readonly string[],
  url: URL,
): Endpoint | undefined {
  // locations/{loc}/operations/{id} or locations/{loc}/operationResults/{id}
  if (rest.length !== 4 || rest[0]!.toLowerCase() !== 'locations') return undefined;
  const kind = rest[2]!.toLowerCase();
  if (kind !== 'operations' && kind !== 'operationresults') return undefined;
  if (method !== 'GET') throw methodNotAllowed(method);
  const token = rest[3]!;
  const asResult = kind === 'operationresults' || url.searchParams.get('monitor') === 'true';
  const namespace = family === 'compute' ? 'Microsoft.Compute' : 'Microsoft.Network';
  // Disk operations are polled with the disk resource provider's api-version.
  const versionFamily = family === 'compute' && isApiVersionOf('disks', url) ? 'disks' : family;
  return {
    action: asResult ? 'OperationResults_Get' : 'AsyncOperations_Get',
    family: versionFamily,
    resourceType: `${namespace}/locations/${kind}`,
    handler: (call) => (asResult ? operationResult(call, token) : operationStatus(call, family, token)),
  };
}

/** POST actions on a VM that change its power state, by their lower-case path segment. */
const POWER_ACTIONS = new Map<string, 'powerOff' | 'deallocate' | 'start'>([
  ['poweroff', 'powerOff'],
  ['deallocate', 'deallocate'],
  ['start', 'start'],
]);

function computeEndpoint(method: string, route: ArmRoute, url: URL): Endpoint {
  const rest = route.rest;
  const op = operationEndpoint(method, 'compute', rest, url);
  if (op) return op;
  const type = rest[0]?.toLowerCase();
  const rg = route.resourceGroup !== undefined;
  if (type === 'skus' && rest.length === 1 && !rg)
    return list(method, 'ResourceSkus_List', 'skus', 'Microsoft.Compute/skus', compute.listSkus);
  if (type === 'locations' && rest.length === 3 && rest[2]!.toLowerCase() === 'vmsizes' && !rg) {
    const location = rest[1]!;
    return list(method, 'VirtualMachineSizes_List', 'compute', 'Microsoft.Compute/locations/vmSizes', (c) =>
      compute.listVmSizes(c, location),
    );
  }
  if (type === 'virtualmachines') {
    const T = 'Microsoft.Compute/virtualMachines';
    if (rest.length === 1)
      return list(method, rg ? 'VirtualMachines_List' : 'VirtualMachines_ListAll', 'compute', T, compute.listVms);
    const name = rest[1]!;
    if (rg && rest.length === 2)
      return crud(method, 'VirtualMachines', 'compute', T, {
        put: (c) => compute.putVm(c, name),
        get: (c) => compute.getVm(c, name),
        del: (c) => compute.deleteVm(c, name),
        patch: (c) => compute.patchVm(c, name),
      });
    if (rg && rest.length === 3 && rest[2]!.toLowerCase() === 'retrievebootdiagnosticsdata') {
      if (method !== 'POST') throw methodNotAllowed(method);
      return {
        action: 'VirtualMachines_RetrieveBootDiagnosticsData',
        family: 'compute',
        resourceType: T,
        handler: (c) => retrieveBootDiagnosticsData(c, name),
      };
    }
    const power = rest.length === 3 ? POWER_ACTIONS.get(rest[2]!.toLowerCase()) : undefined;
    if (rg && power) {
      if (method !== 'POST') throw methodNotAllowed(method);
      return {
        action: `VirtualMachines_${power[0]!.toUpperCase()}${power.slice(1)}`,
        family: 'compute',
        resourceType: T,
        handler: (c) => compute.powerVm(c, name, power),
      };
    }
    if (rg && rest.length === 3 && rest[2]!.toLowerCase() === 'instanceview')
      return list(method, 'VirtualMachines_InstanceView', 'compute', T, (c) => compute.getVmInstanceView(c, name));
  }
  if (type === 'disks') {
    const T = 'Microsoft.Compute/disks';
    if (rest.length === 1)
      return list(method, rg ? 'Disks_ListByResourceGroup' : 'Disks_List', 'disks', T, disks.listDisks);
    const name = rest[1]!;
    if (rg && rest.length === 2)
      return crud(method, 'Disks', 'disks', T, {
        get: (c) => disks.getDisk(c, name),
        del: (c) => disks.deleteDisk(c, name),
      });
  }
  if (type === 'virtualmachinescalesets') {
    const T = 'Microsoft.Compute/virtualMachineScaleSets';
    if (rest.length === 1)
      return list(
        method,
        rg ? 'VirtualMachineScaleSets_List' : 'VirtualMachineScaleSets_ListAll',
        'compute',
        T,
        compute.listVmss,
      );
    const name = rest[1]!;
    if (rg && rest.length === 2)
      return crud(method, 'VirtualMachineScaleSets', 'compute', T, {
        put: (c) => compute.putVmss(c, name),
        get: (c) => compute.getVmss(c, name),
        del: (c) => compute.deleteVmss(c, name),
      });
  }
  throw unknownType('Microsoft.Compute', rest.join('/'));
}

function networkEndpoint(method: string, route: ArmRoute, url: URL): Endpoint {
  const rest = route.rest;
  const op = operationEndpoint(method, 'network', rest, url);
  if (op) return op;
  const type = rest[0]?.toLowerCase();
  const rg = route.resourceGroup !== undefined;
  const [, name = '', child = '', childName = ''] = rest;
  if (type === 'virtualnetworks') {
    const T = 'Microsoft.Network/virtualNetworks';
    if (rest.length === 1)
      return list(method, rg ? 'VirtualNetworks_List' : 'VirtualNetworks_ListAll', 'network', T, network.listVnets);
    if (rg && rest.length === 2)
      return crud(method, 'VirtualNetworks', 'network', T, {
        put: (c) => network.putVnet(c, name),
        get: (c) => network.getVnet(c, name),
        del: (c) => network.deleteVnet(c, name),
      });
    if (rg && child.toLowerCase() === 'subnets') {
      if (rest.length === 3)
        return list(method, 'Subnets_List', 'network', `${T}/subnets`, (c) => network.listSubnets(c, name));
      if (rest.length === 4)
        return crud(method, 'Subnets', 'network', `${T}/subnets`, {
          put: (c) => network.putSubnet(c, name, childName),
          get: (c) => network.getSubnet(c, name, childName),
          del: (c) => network.deleteSubnet(c, name, childName),
        });
    }
  }
  if (type === 'networksecuritygroups') {
    const T = 'Microsoft.Network/networkSecurityGroups';
    if (rest.length === 1)
      return list(
        method,
        rg ? 'NetworkSecurityGroups_List' : 'NetworkSecurityGroups_ListAll',
        'network',
        T,
        network.listNsgs,
      );
    if (rg && rest.length === 2)
      return crud(method, 'NetworkSecurityGroups', 'network', T, {
        put: (c) => network.putNsg(c, name),
        get: (c) => network.getNsg(c, name),
        del: (c) => network.deleteNsg(c, name),
      });
    if (rg && child.toLowerCase() === 'securityrules') {
      if (rest.length === 3)
        return list(method, 'SecurityRules_List', 'network', `${T}/securityRules`, (c) => network.listRules(c, name));
      if (rest.length === 4)
        return crud(method, 'SecurityRules', 'network', `${T}/securityRules`, {
          put: (c) => network.putRule(c, name, childName),
          get: (c) => network.getRule(c, name, childName),
          del: (c) => network.deleteRule(c, name, childName),
        });
    }
  }
  if (type === 'networkinterfaces') {
    const T = 'Microsoft.Network/networkInterfaces';
    if (rest.length === 1)
      return list(method, rg ? 'NetworkInterfaces_List' : 'NetworkInterfaces_ListAll', 'network', T, nic.listNics);
    if (rg && rest.length === 2)
      return crud(method, 'NetworkInterfaces', 'network', T, {
        put: (c) => nic.putNic(c, name),
        get: (c) => nic.getNic(c, name),
        del: (c) => nic.deleteNic(c, name),
      });
  }
  if (type === 'publicipaddresses') {
    const T = 'Microsoft.Network/publicIPAddresses';
    if (rest.length === 1)
      return list(
        method,
        rg ? 'PublicIPAddresses_List' : 'PublicIPAddresses_ListAll',
        'network',
        T,
        publicIp.listPublicIps,
      );
    if (rg && rest.length === 2)
      return crud(method, 'PublicIPAddresses', 'network', T, {
        put: (c) => publicIp.putPublicIp(c, name),
        get: (c) => publicIp.getPublicIp(c, name),
        del: (c) => publicIp.deletePublicIp(c, name),
      });
  }
  throw unknownType('Microsoft.Network', rest.join('/'));
}

function resolve(request: SimRequest, route: ArmRoute): Endpoint {
  const method = request.method;
  const rg = route.resourceGroup;
  if (route.namespace) {
    const ns = route.namespace.toLowerCase();
    if (ns === 'microsoft.compute') return computeEndpoint(method, route, request.url);
    if (ns === 'microsoft.network') return networkEndpoint(method, route, request.url);
    throw new ArmError(
      409,
      'MissingSubscriptionRegistration',
      `The subscription is not registered to use namespace '${route.namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions.`,
    );
  }
  const T = 'Microsoft.Resources/resourceGroups';
  if (rg === undefined && !route.groupsCollection && route.tail.length === 0) {
    return list(method, 'Subscriptions_Get', 'subscriptions', 'Microsoft.Resources/subscriptions', (c) => ({
      status: 200,
      body: {
        id: `/subscriptions/${c.sub}`,
        subscriptionId: c.sub,
        displayName: 'cloudsim',
        state: 'Enabled',
        subscriptionPolicies: {
          locationPlacementId: 'Public_2014-09-01',
          quotaId: 'PayAsYouGo_2014-09-01',
          spendingLimit: 'Off',
        },
        authorizationSource: 'RoleBased',
      },
    }));
  }
  if (route.groupsCollection && route.tail.length === 0)
    return list(method, 'ResourceGroups_List', 'resources', T, groups.listGroups);
  if (rg !== undefined && route.tail.length === 0) {
    if (method === 'HEAD')
      return {
        action: 'ResourceGroups_CheckExistence',
        family: 'resources',
        resourceType: T,
        handler: (c) => groups.headGroup(c, rg),
      };
    return crud(method, 'ResourceGroups', 'resources', T, {
      put: (c) => groups.putGroup(c, rg),
      get: (c) => groups.getGroup(c, rg),
      del: (c) => groups.deleteGroup(c, rg),
      patch: (c) => groups.patchGroup(c, rg),
    });
  }
  if (route.tail.length === 1 && route.tail[0]!.toLowerCase() === 'resources') {
    return list(
      method,
      rg === undefined ? 'Resources_List' : 'Resources_ListByResourceGroup',
      'resources',
      'Microsoft.Resources/resources',
      groups.listResources,
    );
  }
  if (rg === undefined && route.tail.length === 2 && route.tail[0]!.toLowerCase() === 'operationresults') {
    const token = route.tail[1]!;
    return list(method, 'ResourceGroups_OperationResults', 'resources', T, (c) => operationResult(c, token));
  }
  throw new ArmError(
    404,
    'InvalidResourceType',
    `No HTTP resource was found that matches the request URI '${request.url.pathname}'.`,
  );
}

function kindOf(method: string): ArmCallKind {
  if (method === 'DELETE') return 'deletes';
  return method === 'GET' || method === 'HEAD' ? 'reads' : 'writes';
}

export function createArmService(context: SimContext): CloudService {
  const store = new ArmStore();
  let pending: Array<{ at: number; run: () => void }> = [];
  const networkOpMs = () => Math.max(1, Math.min(50, Math.round(context.settings.bootTimeMs / 4)));

  /** Completes deletes whose time has come (all of them when `all`, e.g. before a snapshot). */
  let nextDue = Number.POSITIVE_INFINITY;
  const sweep = (now: number, all = false) => {
    if (pending.length === 0 || (!all && now < nextDue)) return;
    const due = all ? pending : pending.filter((p) => p.at <= now);
    pending = all ? [] : pending.filter((p) => p.at > now);
    nextDue = pending.reduce((min, p) => Math.min(min, p.at), Number.POSITIVE_INFINITY);
    for (const p of due) p.run();
  };

  const respond = (reply: ArmReply, headers: Record<string, string>, method: string): SimResponse => {
    const out: Record<string, string> = { 'cache-control': 'no-cache', ...headers, ...reply.headers };
    if (reply.body === undefined || method === 'HEAD') return { status: reply.status, headers: out, body: '' };
    out['content-type'] = 'application/json; charset=utf-8';
    return {
      status: reply.status,
      headers: out,
      body: reply.body instanceof RawJson ? reply.body.text : JSON.stringify(reply.body),
    };
  };

  const handle = async (request: SimRequest): Promise<SimResponse> => {
    const now = context.now();
    sweep(now);
    const requestId = randomUUID();
    const correlation = request.headers['x-ms-correlation-request-id'];
    const headers: Record<string, string> = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': typeof correlation === 'string' ? correlation : requestId,
    };
    const clientRequestId = request.headers['x-ms-client-request-id'];
    if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId;
    let action = `${request.method} (unrouted)`;
    if (request.url.pathname.startsWith(BLOB_PREFIX)) {
      const reply = await serveBlob(context, request);
      context.meter.record('azure', 'BootDiagnosticsBlob_Get', reply.status === 200 ? 'ok' : 'error');
      return reply;
    }
    try {
      const route = parseRoute(request.url.pathname);
      const principal = principalOf(request.headers, context.auth);
      if (!wellEncoded(request.url.pathname))
        throw badRequest(
          'InvalidRequestUri',
          `The request URI '${request.url.pathname}' is not valid: it has a malformed percent-encoding.`,
        );
      if (!route?.subscription)
        throw new ArmError(
          404,
          'InvalidResourceType',
          `No HTTP resource was found that matches the request URI '${request.url.pathname}'.`,
        );
      if (!GUID.test(route.subscription))
        throw badRequest(
          'InvalidSubscriptionId',
          `The provided subscription identifier '${route.subscription}' is malformed or invalid.`,
        );
      const endpoint = resolve(request, route);
      action = endpoint.action;
      checkApiVersion(request.url, endpoint.family, endpoint.resourceType);
      const limits = throttle(
        context,
        principal,
        route.subscription,
        kindOf(request.method),
        action === 'VirtualMachines_CreateOrUpdate',
      );
      Object.assign(headers, limits.headers);
      if (context.takeFault({ cloud: 'azure', kind: 'throttle' }))
        throw throttled(principal, route.subscription, kindOf(request.method));
      if (context.takeFault({ cloud: 'azure', kind: 'server-error' })) {
        throw new ArmError(
          500,
          'InternalServerError',
          `Encountered internal server error. Diagnostic information: timestamp '${new Date().toISOString()}', subscription id '${route.subscription}', tracking id '${requestId}', request correlation id '${headers['x-ms-correlation-request-id']}'.`,
        );
      }
      const call: ArmCall = {
        request,
        route,
        sub: route.subscription,
        now,
        context,
        store,
        networkOpMs: networkOpMs(),
        defer: (at, run) => {
          pending.push({ at, run });
          nextDue = Math.min(nextDue, at);
        },
      };
      const reply = endpoint.handler(call);
      context.meter.record('azure', action, 'ok');
      return respond(reply, headers, request.method);
    } catch (error) {
      if (!(error instanceof ArmError)) throw error;
      context.meter.record('azure', action, error.status === 429 ? 'throttled' : 'error');
      return respond(
        { status: error.status, body: error.body(), headers: error.extra.headers },
        headers,
        request.method,
      );
    }
  };

  return {
    cloud: 'azure',
    claims: (request) =>
      request.scheme === 'https' &&
      (/^\/(subscriptions|providers)(\/|$)/i.test(request.url.pathname) ||
        request.url.pathname.startsWith(BLOB_PREFIX)),
    handle,
    inventory: () => inventoryOf(store, context.now()),
    networkView: () => armNetworkView(store),
    snapshot: () => {
      sweep(context.now(), true);
      return snapshotState(store, context.now());
    },
    restore: (state) => {
      pending = [];
      nextDue = Number.POSITIVE_INFINITY;
      restoreState(store, state, context.now());
    },
  };
}
