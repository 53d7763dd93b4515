import { randomUUID } from 'node:crypto';
import type { CloudService, SimContext, SimRequest, SimResponse } from '../core/types.js';
import type { ActionContext, ActionHandler } from './action.js';
import * as addresses from './addresses.js';
import { Ec2Authenticator } from './auth.js';
import * as catalog from './catalog-actions.js';
import { getConsoleOutput } from './console.js';
import { Ec2Error } from './errors.js';
import { createFleet, deleteFleets, describeFleets } from './fleet.js';
import * as instances from './instances.js';
import * as templates from './launch-templates.js';
import { Ec2RateLimiter, familyOf } from './limits.js';
import { ec2NetworkView } from './net-view.js';
import * as network from './network.js';
import { QueryParams } from './query.js';
import { Ec2Store } from './store.js';
import * as tagging from './tagging.js';
import { isEc2ApiVersion } from './versions.js';
import * as volumes from './volumes.js';
import { errorXml, responseXml } from './xml.js';

const ACTIONS: Readonly<Record<string, ActionHandler>> = {
  DescribeRegions: catalog.describeRegions,
  DescribeAvailabilityZones: catalog.describeAvailabilityZones,
  DescribeInstanceTypes: catalog.describeInstanceTypes,
  DescribeInstanceTypeOfferings: catalog.describeInstanceTypeOfferings,
  DescribeImages: catalog.describeImages,
  CreateVpc: network.createVpc,
  DescribeVpcs: network.describeVpcs,
  DeleteVpc: network.deleteVpc,
  CreateSubnet: network.createSubnet,
  DescribeSubnets: network.describeSubnets,
  ModifySubnetAttribute: network.modifySubnetAttribute,
  DeleteSubnet: network.deleteSubnet,
  CreateSecurityGroup: network.createSecurityGroup,
  DescribeSecurityGroups: network.describeSecurityGroups,
  AuthorizeSecurityGroupIngress: network.authorizeSecurityGroupIngress,
  AuthorizeSecurityGroupEgress: network.authorizeSecurityGroupEgress,
  RevokeSecurityGroupIngress: network.revokeSecurityGroupIngress,
  RevokeSecurityGroupEgress: network.revokeSecurityGroupEgress,
  DeleteSecurityGroup: network.deleteSecurityGroup,
  CreateInternetGateway: network.createInternetGateway,
  AttachInternetGateway: network.attachInternetGateway,
  DetachInternetGateway: network.detachInternetGateway,
  DeleteInternetGateway: network.deleteInternetGateway,
  DescribeInternetGateways: network.describeInternetGateways,
  DescribeRouteTables: network.describeRouteTables,
  CreateRoute: network.createRoute,
  DeleteRoute: network.deleteRoute,
  CreateLaunchTemplate: templates.createLaunchTemplate,
  DescribeLaunchTemplates: templates.describeLaunchTemplates,
  DeleteLaunchTemplate: templates.deleteLaunchTemplate,
  RunInstances: instances.runInstances,
  DescribeInstances: instances.describeInstances,
  TerminateInstances: instances.terminateInstances,
  StopInstances: instances.stopInstances,
  StartInstances: instances.startInstances,
  GetConsoleOutput: getConsoleOutput,
  CreateFleet: createFleet,
  DescribeFleets: describeFleets,
  DeleteFleets: deleteFleets,
  AllocateAddress: addresses.allocateAddress,
  AssociateAddress: addresses.associateAddress,
  DisassociateAddress: addresses.disassociateAddress,
  ReleaseAddress: addresses.releaseAddress,
  DescribeAddresses: addresses.describeAddresses,
  DescribeVolumes: volumes.describeVolumes,
  DeleteVolume: volumes.deleteVolume,
  CreateTags: tagging.createTags,
  DeleteTags: tagging.deleteTags,
};

/** Actions the simulator answers, e.g. for documentation and tests. */
export const EC2_ACTIONS: readonly string[] = Object.keys(ACTIONS);

export interface Ec2ServiceOptions {
  /** How long terminated instances stay visible in DescribeInstances; EC2 keeps them about an hour. */
  readonly terminatedRetentionMs?: number;
}

function isFormPost(request: SimRequest): boolean {
  const type = request.headers['content-type'];
  return (
    request.method === 'POST' &&
    typeof type === 'string' &&
    type.toLowerCase().startsWith('application/x-www-form-urlencoded')
  );
}

/**
 * The EC2 query API (`POST /` with a form body, XML answers in the 2016-11-15 namespace). Requests must be
 * SigV4-signed with any keys; throttling, faults and errors follow EC2's codes and statuses.
 */
export function createEc2Service(context: SimContext, options: Ec2ServiceOptions = {}): CloudService {
  const store = new Ec2Store(context, { terminatedRetentionMs: options.terminatedRetentionMs ?? 3_600_000 });
  const limiter = new Ec2RateLimiter(context);
  const authenticator = new Ec2Authenticator(context.auth);

  const reply = (status: number, body: string | Buffer, requestId: string): SimResponse => ({
    status,
    headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId, server: 'AmazonEC2' },
    body,
  });

  return {
    cloud: 'aws',
    claims(request) {
      const path = request.url.pathname;
      if (path.startsWith('/compute/') || path.startsWith('/subscriptions/')) return false;
      // A form POST to the root is EC2's even without Action (it answers MissingAction), as is any form with Action=.
      if (isFormPost(request)) return path === '/' || /(^|&)Action=/.test(request.body.toString('latin1'));
      return request.method === 'GET' && request.url.searchParams.has('Action');
    },

    async handle(request) {
      const requestId = randomUUID();
      const form = request.method === 'GET' ? undefined : request.body.toString('utf8');
      const params = QueryParams.parse(form ?? request.url.search.slice(1));
      const action = params.str('Action') ?? '';
      try {
        const caller = authenticator.authenticate(request, form);
        if (!action) throw new Ec2Error('MissingAction', 'The request is missing an action or a required parameter.');
        const version = params.str('Version');
        if (!version) throw new Ec2Error('MissingParameter', 'The request must contain the parameter Version');
        if (!isEc2ApiVersion(version))
          throw new Ec2Error('NoSuchVersion', `The requested version (${version}) of service AmazonEC2 does not exist`);
        const handler = ACTIONS[action];
        if (!handler) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
        const unfiltered = action === 'DescribeInstances' && !params.has('Filter') && !params.has('InstanceId');
        limiter.takeRequest(caller.accessKeyId, caller.region, familyOf(action, unfiltered));
        if (context.takeFault({ cloud: 'aws', kind: 'throttle', region: caller.region }))
          throw new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
        if (context.takeFault({ cloud: 'aws', kind: 'server-error', region: caller.region })) {
          throw new Ec2Error('InternalError', 'An internal error has occurred');
        }
        const ctx: ActionContext = {
          params,
          region: caller.region,
          account: caller.accessKeyId,
          store,
          sim: context,
          limiter,
        };
        const fields = await handler(ctx);
        context.meter.record('aws', action, 'ok');
        return reply(200, responseXml(action, requestId, fields), requestId);
      } catch (caught) {
        // A simulator bug still answers in EC2's error format, so clients see a 500 they know how to handle.
        const error =
          caught instanceof Ec2Error
            ? caught
            : new Ec2Error('InternalError', `An internal error has occurred (cloudsim: ${(caught as Error).message})`);
        context.meter.record('aws', action || 'unknown', error.code === 'RequestLimitExceeded' ? 'throttled' : 'error');
        return reply(error.status, errorXml(error.code, error.message, requestId), requestId);
      }
    },

    inventory: () => store.inventory(),
    networkView: () => ec2NetworkView(store),
    snapshot: () => store.snapshot(),
    restore: (state) => store.restore(state),
  };
}
