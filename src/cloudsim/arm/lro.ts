import { type ApiFamily, SDK_API_VERSION } from './api-versions.js';
import type { ArmCall } from './call.js';
import type { ArmErrorBody } from './errors.js';

/**
 * Long-running operations. An operation id is an opaque token naming the resource and the generation the
 * operation follows; its status is derived from that resource's state, so operations cost no memory and
 * survive a restart from a state file.
 */
export type ResourceKind = 'rg' | 'vnet' | 'subnet' | 'nsg' | 'rule' | 'nic' | 'pip' | 'vm' | 'vmss' | 'disk';

export interface OperationRef {
  readonly op: 'put' | 'delete';
  readonly kind: ResourceKind;
  readonly rg: string;
  readonly names: readonly string[];
  readonly gen: number;
  /** Wall-clock ms the operation started. */
  readonly started: number;
}

export function encodeOperation(ref: OperationRef): string {
  return Buffer.from(JSON.stringify([ref.op, ref.kind, ref.rg, ref.names, ref.gen, ref.started])).toString('base64url');
}

export function decodeOperation(token: string): OperationRef | undefined {
  try {
    const [op, kind, rg, names, gen, started] = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    ) as unknown[];
    if (
      (op !== 'put' && op !== 'delete') ||
      typeof kind !== 'string' ||
      typeof rg !== 'string' ||
      !Array.isArray(names) ||
      typeof gen !== 'number'
    )
      return undefined;
    return {
      op,
      kind: kind as ResourceKind,
      rg,
      names: names.map(String),
      gen,
      started: typeof started === 'number' ? started : Date.now(),
    };
  } catch {
    return undefined;
  }
}

export type OperationStatus =
  | { status: 'InProgress' | 'Succeeded' | 'Canceled' }
  | { status: 'Failed'; error: ArmErrorBody };

const NAMESPACE: Record<ApiFamily, string> = {
  compute: 'Microsoft.Compute',
  disks: 'Microsoft.Compute',
  skus: 'Microsoft.Compute',
  network: 'Microsoft.Network',
  resources: 'Microsoft.Resources',
  subscriptions: 'Microsoft.Resources',
};

/** Polls at the client's own pace: Retry-After stays 0 unless the operation has more than a second to go. */
export function retryAfter(remainingMs: number): string {
  return remainingMs > 1000 ? '1' : '0';
}

/**
 * ARM's operation URLs carry the api-version of the request that started the operation (it was checked before
 * the handler ran), so a client pinned to an older version polls with the version it knows.
 */
function callerVersion(call: ArmCall, family: ApiFamily): string {
  return call.request.url.searchParams.get('api-version') ?? SDK_API_VERSION[family];
}

/**
 * Headers of a 201/202 answer: `Azure-AsyncOperation` (status resource) and `Location` (operation result),
 * both absolute with the origin the client used, as ARM builds them from its own host name.
 */
export function operationHeaders(
  call: ArmCall,
  family: 'compute' | 'network',
  location: string,
  ref: OperationRef,
  remainingMs: number,
): Record<string, string> {
  const token = encodeOperation(ref);
  const base = `${call.request.origin}/subscriptions/${call.sub}/providers/${NAMESPACE[family]}/locations/${location}`;
  const version = callerVersion(call, family);
  return {
    'azure-asyncoperation': `${base}/operations/${token}?api-version=${version}`,
    location:
      family === 'compute'
        ? `${base}/operations/${token}?monitor=true&api-version=${version}`
        : `${base}/operationResults/${token}?api-version=${version}`,
    'retry-after': retryAfter(remainingMs),
  };
}

/** Location header of a resource-group delete (ARM's own operation results). */
export function groupDeleteLocation(call: ArmCall, ref: OperationRef): Record<string, string> {
  return {
    location: `${call.request.origin}/subscriptions/${call.sub}/operationresults/${encodeOperation(ref)}?api-version=${callerVersion(call, 'resources')}`,
    'retry-after': '0',
  };
}
