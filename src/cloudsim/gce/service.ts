import { createHash } from 'node:crypto';
import { bearerToken, type SimAuth, sameSecret } from '../core/credentials.js';
import type { CloudService, InventoryItem, SimContext, SimRequest, SimResponse } from '../core/types.js';
import * as catalog from './catalog-api.js';
import * as disks from './disks.js';
import { errorResponse, GceError, invalidField } from './errors.js';
import { applyFieldMask, requestFieldMask } from './field-mask.js';
import * as instances from './instances.js';
import { type QuotaGroup, rateLimitExceeded, takeQuota } from './limits.js';
import { gceNetworkView } from './net-view.js';
import * as network from './network.js';
import { findOperation, renderOperation, waitOperation } from './operations.js';
import { listResponse } from './paging.js';
import { restoreState, snapshotState } from './persist.js';
import { type GceCall, GceRuntime, type GceServiceOptions, ok } from './runtime.js';
import type { OpScope } from './state.js';
import * as templates from './templates.js';
import { validRequestId } from './validate.js';
import { inventoryVms } from './vm-lifecycle.js';

export type { GceServiceOptions } from './runtime.js';

/**
 * Simulated Compute Engine (REST compute/v1) for @google-cloud/compute and any client of the public JSON
 * format: bearer token required, per-project per-minute rate quotas, Google JSON errors, Operations that
 * finish asynchronously (capacity errors arrive in them), requestId idempotency.
 */
type Handler = (rt: GceRuntime, call: GceCall, params: readonly string[]) => SimResponse | Promise<SimResponse>;

interface Route {
  readonly method: string;
  readonly pattern: readonly string[];
  readonly action: string;
  readonly group: QuotaGroup;
  readonly handler: Handler;
}

const operationGet = (scope: OpScope) => (rt: GceRuntime, call: GceCall, p: readonly string[]) =>
  ok(renderOperation(rt, findOperation(rt, call.project, scope, scope === 'global' ? '' : p[0]!, p[p.length - 1]!)));
const operationWait = (scope: OpScope) => async (rt: GceRuntime, call: GceCall, p: readonly string[]) =>
  ok(
    renderOperation(
      rt,
      await waitOperation(
        rt,
        findOperation(rt, call.project, scope, scope === 'global' ? '' : p[0]!, p[p.length - 1]!),
      ),
    ),
  );

const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    pattern: ['zones'],
    action: 'zones.list',
    group: 'list',
    handler: (rt, c) => catalog.listZones(rt, c),
  },
  {
    method: 'GET',
    pattern: ['zones', ':'],
    action: 'zones.get',
    group: 'read',
    handler: (rt, c, p) => catalog.getZone(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['regions'],
    action: 'regions.list',
    group: 'list',
    handler: (rt, c) => catalog.listRegions(rt, c),
  },
  {
    method: 'GET',
    pattern: ['regions', ':'],
    action: 'regions.get',
    group: 'read',
    handler: (rt, c, p) => catalog.getRegion(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['zones', ':', 'machineTypes'],
    action: 'machineTypes.list',
    group: 'list',
    handler: (rt, c, p) => catalog.listMachineTypes(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['zones', ':', 'machineTypes', ':'],
    action: 'machineTypes.get',
    group: 'read',
    handler: (rt, c, p) => catalog.getMachineType(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'GET',
    pattern: ['aggregated', 'machineTypes'],
    action: 'machineTypes.aggregatedList',
    group: 'list',
    handler: (rt, c) => catalog.aggregatedMachineTypes(rt, c),
  },
  {
    method: 'GET',
    pattern: ['global', 'images', 'family', ':'],
    action: 'images.getFromFamily',
    group: 'read',
    handler: (rt, c, p) => catalog.getImageFromFamily(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['global', 'images'],
    action: 'images.list',
    group: 'list',
    handler: (rt, c) => catalog.listImages(rt, c),
  },
  {
    method: 'GET',
    pattern: ['global', 'images', ':'],
    action: 'images.get',
    group: 'read',
    handler: (rt, c, p) => catalog.getImage(rt, c, p[0]!),
  },

  {
    method: 'GET',
    pattern: ['zones', ':', 'disks'],
    action: 'disks.list',
    group: 'list',
    handler: (rt, c, p) => disks.listDisks(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['aggregated', 'disks'],
    action: 'disks.aggregatedList',
    group: 'list',
    handler: (rt, c) => disks.aggregatedDisks(rt, c),
  },
  {
    method: 'GET',
    pattern: ['zones', ':', 'disks', ':'],
    action: 'disks.get',
    group: 'read',
    handler: (rt, c, p) => disks.getDisk(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'DELETE',
    pattern: ['zones', ':', 'disks', ':'],
    action: 'disks.delete',
    group: 'mutation',
    handler: (rt, c, p) => disks.deleteDisk(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'GET',
    pattern: ['global', 'networks'],
    action: 'networks.list',
    group: 'list',
    handler: (rt, c) => network.listNetworks(rt, c),
  },
  {
    method: 'POST',
    pattern: ['global', 'networks'],
    action: 'networks.insert',
    group: 'mutation',
    handler: (rt, c) => network.insertNetwork(rt, c),
  },
  {
    method: 'GET',
    pattern: ['global', 'networks', ':'],
    action: 'networks.get',
    group: 'read',
    handler: (rt, c, p) => network.getNetwork(rt, c, p[0]!),
  },
  {
    method: 'DELETE',
    pattern: ['global', 'networks', ':'],
    action: 'networks.delete',
    group: 'mutation',
    handler: (rt, c, p) => network.deleteNetwork(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['regions', ':', 'subnetworks'],
    action: 'subnetworks.list',
    group: 'list',
    handler: (rt, c, p) => network.listSubnets(rt, c, p[0]!),
  },
  {
    method: 'POST',
    pattern: ['regions', ':', 'subnetworks'],
    action: 'subnetworks.insert',
    group: 'mutation',
    handler: (rt, c, p) => network.insertSubnet(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['regions', ':', 'subnetworks', ':'],
    action: 'subnetworks.get',
    group: 'read',
    handler: (rt, c, p) => network.getSubnet(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'DELETE',
    pattern: ['regions', ':', 'subnetworks', ':'],
    action: 'subnetworks.delete',
    group: 'mutation',
    handler: (rt, c, p) => network.deleteSubnet(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'GET',
    pattern: ['global', 'firewalls'],
    action: 'firewalls.list',
    group: 'list',
    handler: (rt, c) => network.listFirewalls(rt, c),
  },
  {
    method: 'POST',
    pattern: ['global', 'firewalls'],
    action: 'firewalls.insert',
    group: 'mutation',
    handler: (rt, c) => network.insertFirewall(rt, c),
  },
  {
    method: 'GET',
    pattern: ['global', 'firewalls', ':'],
    action: 'firewalls.get',
    group: 'read',
    handler: (rt, c, p) => network.getFirewall(rt, c, p[0]!),
  },
  {
    method: 'DELETE',
    pattern: ['global', 'firewalls', ':'],
    action: 'firewalls.delete',
    group: 'mutation',
    handler: (rt, c, p) => network.deleteFirewall(rt, c, p[0]!),
  },

  {
    method: 'GET',
    pattern: ['global', 'instanceTemplates'],
    action: 'instanceTemplates.list',
    group: 'list',
    handler: (rt, c) =>
      listResponse(
        c,
        'compute#instanceTemplateList',
        `projects/${c.project}/global/instanceTemplates`,
        templates.listTemplates(rt, c),
      ),
  },
  {
    method: 'POST',
    pattern: ['global', 'instanceTemplates'],
    action: 'instanceTemplates.insert',
    group: 'mutation',
    handler: (rt, c) => templates.insertTemplate(rt, c),
  },
  {
    method: 'GET',
    pattern: ['global', 'instanceTemplates', ':'],
    action: 'instanceTemplates.get',
    group: 'read',
    handler: (rt, c, p) => templates.getTemplate(rt, c, p[0]!),
  },
  {
    method: 'DELETE',
    pattern: ['global', 'instanceTemplates', ':'],
    action: 'instanceTemplates.delete',
    group: 'mutation',
    handler: (rt, c, p) => templates.deleteTemplate(rt, c, p[0]!),
  },

  {
    method: 'GET',
    pattern: ['zones', ':', 'instances'],
    action: 'instances.list',
    group: 'list',
    handler: (rt, c, p) => instances.listInstances(rt, c, p[0]!),
  },
  {
    method: 'POST',
    pattern: ['zones', ':', 'instances'],
    action: 'instances.insert',
    group: 'mutation',
    handler: (rt, c, p) => instances.insertInstance(rt, c, p[0]!),
  },
  {
    method: 'POST',
    pattern: ['zones', ':', 'instances', 'bulkInsert'],
    action: 'instances.bulkInsert',
    group: 'mutation',
    handler: (rt, c, p) => instances.bulkInsertInstances(rt, c, p[0]!),
  },
  {
    method: 'GET',
    pattern: ['zones', ':', 'instances', ':'],
    action: 'instances.get',
    group: 'read',
    handler: (rt, c, p) => instances.getInstance(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'POST',
    pattern: ['zones', ':', 'instances', ':', 'stop'],
    action: 'instances.stop',
    group: 'mutation',
    handler: (rt, c, p) => instances.stopInstance(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'POST',
    pattern: ['zones', ':', 'instances', ':', 'start'],
    action: 'instances.start',
    group: 'mutation',
    handler: (rt, c, p) => instances.startInstance(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'GET',
    pattern: ['zones', ':', 'instances', ':', 'serialPort'],
    action: 'instances.getSerialPortOutput',
    group: 'read',
    handler: (rt, c, p) => instances.getSerialPortOutput(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'DELETE',
    pattern: ['zones', ':', 'instances', ':'],
    action: 'instances.delete',
    group: 'mutation',
    handler: (rt, c, p) => instances.deleteInstance(rt, c, p[0]!, p[1]!),
  },
  {
    method: 'GET',
    pattern: ['aggregated', 'instances'],
    action: 'instances.aggregatedList',
    group: 'list',
    handler: (rt, c) => instances.aggregatedInstances(rt, c),
  },

  {
    method: 'GET',
    pattern: ['zones', ':', 'operations', ':'],
    action: 'zoneOperations.get',
    group: 'operationRead',
    handler: operationGet('zones'),
  },
  {
    method: 'POST',
    pattern: ['zones', ':', 'operations', ':', 'wait'],
    action: 'zoneOperations.wait',
    group: 'operationRead',
    handler: operationWait('zones'),
  },
  {
    method: 'GET',
    pattern: ['regions', ':', 'operations', ':'],
    action: 'regionOperations.get',
    group: 'operationRead',
    handler: operationGet('regions'),
  },
  {
    method: 'POST',
    pattern: ['regions', ':', 'operations', ':', 'wait'],
    action: 'regionOperations.wait',
    group: 'operationRead',
    handler: operationWait('regions'),
  },
  {
    method: 'GET',
    pattern: ['global', 'operations', ':'],
    action: 'globalOperations.get',
    group: 'operationRead',
    handler: operationGet('global'),
  },
  {
    method: 'POST',
    pattern: ['global', 'operations', ':', 'wait'],
    action: 'globalOperations.wait',
    group: 'operationRead',
    handler: operationWait('global'),
  },
];

function match(method: string, segments: readonly string[]): { route: Route; params: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method || route.pattern.length !== segments.length) continue;
    const params: string[] = [];
    let okay = true;
    for (let i = 0; i < segments.length && okay; i++) {
      if (route.pattern[i] === ':') params.push(segments[i]!);
      else okay = route.pattern[i] === segments[i];
    }
    if (okay) return { route, params };
  }
  return undefined;
}

const PREFIX = '/compute/v1/';
/** Project ids (optionally domain-scoped, or numeric) as the API accepts them; also keeps ids JSON-safe. */
const PROJECT_ID =
  /^(?:(?:[-a-z0-9]{1,63}\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?):)?(?:[0-9]{1,19}|(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?))$/;

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new GceError(400, 'parseError', `Invalid JSON payload received. ${(error as Error).message}`);
  }
}

const SEE = 'See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** The Google front end's checks: a Host it serves, then the OAuth 2 access token of this sim run. */
function authorize(request: SimRequest, auth: SimAuth): void {
  if (!auth.isOwnHost(request.headers.host))
    throw new GceError(
      400,
      'badRequest',
      `Invalid Host header '${request.headers.host ?? ''}': this endpoint is ${auth.ownHosts.join(' or ')}.`,
    );
  const header = request.headers.authorization;
  if (!header) {
    throw new GceError(
      401,
      'required',
      `Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE}`,
      {
        location: 'Authorization',
        locationType: 'header',
        infoReason: 'CREDENTIALS_MISSING',
        itemMessage: 'Login Required.',
      },
    );
  }
  const token = bearerToken(header);
  if (token === undefined || !sameSecret(token, auth.credentials.gcp.accessToken)) {
    throw new GceError(
      401,
      'authError',
      `Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE}`,
      {
        location: 'Authorization',
        locationType: 'header',
        infoReason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED',
        itemMessage: 'Invalid Credentials',
      },
    );
  }
}

export function createGceService(context: SimContext, options: GceServiceOptions = {}): CloudService {
  const rt = new GceRuntime(context, {
    operationWaitMaxMs: options.operationWaitMaxMs ?? 2000,
    maxOperations: options.maxOperations ?? 20_000,
    perMinute: options.perMinute,
  });

  async function handle(request: SimRequest): Promise<SimResponse> {
    let action = 'unknown';
    try {
      authorize(request, context.auth);
      let segments: string[];
      try {
        segments = request.url.pathname.slice(PREFIX.length).split('/').map(decodeURIComponent);
      } catch {
        throw new GceError(400, 'invalid', `Invalid URL path encoding: ${request.url.pathname}`);
      }
      if (segments[0] !== 'projects' || !segments[1])
        throw new GceError(404, 'notFound', `The requested URL ${request.url.pathname} was not found on this server.`);
      const project = segments[1];
      if (!PROJECT_ID.test(project))
        throw invalidField(
          'project',
          project,
          `Values must match the following regular expression: '${PROJECT_ID.source}'`,
        );
      network.ensureDefaultNetwork(rt, project);
      const found = match(request.method.toUpperCase(), segments.slice(2));
      if (!found)
        throw new GceError(404, 'notFound', `The requested URL ${request.url.pathname} was not found on this server.`);
      action = found.route.action;
      // A malformed mask is refused before the call counts or runs, as the front end does.
      const mask = requestFieldMask(request.url.searchParams, request.headers);
      takeQuota(context, project, found.route.group, rt.options.perMinute);
      if (context.takeFault({ cloud: 'gcp', kind: 'throttle' })) throw rateLimitExceeded(project, found.route.group);
      if (context.takeFault({ cloud: 'gcp', kind: 'server-error' }))
        throw new GceError(503, 'backendError', 'The service is currently unavailable.');
      const call: GceCall = {
        method: request.method,
        project,
        segments: segments.slice(2),
        query: request.url.searchParams,
        body: found.route.method === 'GET' || found.route.method === 'DELETE' ? undefined : parseBody(request.body),
        requestId:
          found.route.group === 'mutation' ? validRequestId(request.url.searchParams.get('requestId')) : undefined,
        fingerprint:
          found.route.group === 'mutation'
            ? createHash('sha1')
                .update(`${request.method} ${request.url.pathname}\n`)
                .update(request.body)
                .digest('base64')
            : '',
      };
      const response = await found.route.handler(rt, call, found.params);
      context.meter.record('gcp', action, 'ok');
      return mask && response.body !== undefined
        ? { ...response, body: JSON.stringify(applyFieldMask(JSON.parse(response.body.toString()), mask)) }
        : response;
    } catch (error) {
      if (!(error instanceof GceError)) throw error;
      context.meter.record('gcp', action, error.reason === 'rateLimitExceeded' ? 'throttled' : 'error');
      return errorResponse(error);
    }
  }

  return {
    cloud: 'gcp',
    claims: (request) => request.url.pathname.startsWith(PREFIX),
    handle,
    inventory(): InventoryItem[] {
      const items: InventoryItem[] = [];
      for (const n of rt.state.networks.values())
        if (!n.builtIn)
          items.push({ cloud: 'gcp', type: 'network', id: `projects/${n.project}/global/networks/${n.name}` });
      for (const s of rt.state.subnets.values()) {
        if (s.builtIn) continue;
        items.push({
          cloud: 'gcp',
          type: 'subnetwork',
          id: `projects/${s.project}/regions/${s.region}/subnetworks/${s.name}`,
          region: s.region,
        });
      }
      for (const f of rt.state.firewalls.values())
        if (!f.builtIn)
          items.push({ cloud: 'gcp', type: 'firewall', id: `projects/${f.project}/global/firewalls/${f.name}` });
      for (const t of rt.state.templates.values())
        items.push({
          cloud: 'gcp',
          type: 'instanceTemplate',
          id: `projects/${t.project}/global/instanceTemplates/${t.name}`,
        });
      for (const { vm, status } of inventoryVms(rt)) {
        items.push({
          cloud: 'gcp',
          type: 'instance',
          id: `projects/${vm.props.project}/zones/${vm.zone}/instances/${vm.name}`,
          zone: vm.zone,
          region: vm.props.subnetRegion,
          state: status,
          tags: vm.props.labels,
        });
      }
      for (const { disk, user } of disks.inventoryDisks(rt))
        items.push({
          cloud: 'gcp',
          type: 'disk',
          id: disks.diskPath(disk.project, disk.zone, disk.name),
          zone: disk.zone,
          state: user ? 'READY (in use)' : 'READY',
          tags: disk.labels,
          ...(disk.instanceLabels
            ? {
                origin: {
                  type: 'instance',
                  id: `projects/${disk.project}/zones/${disk.zone}/instances/${disk.name}`,
                  tags: disk.instanceLabels,
                },
              }
            : {}),
        });
      return items;
    },
    networkView: () => gceNetworkView(rt),
    snapshot: () => snapshotState(rt),
    restore: (state) => restoreState(rt, state),
    async close() {
      rt.close();
    },
  };
}
