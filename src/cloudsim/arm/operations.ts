import { type ArmCall, type ArmReply, isoTime, type Json } from './call.js';
import { ArmError } from './errors.js';
import { decodeOperation, encodeOperation, type OperationRef, retryAfter } from './lro.js';
import { type Lifecycle, provisioningState } from './store.js';

/** Status of async operations, derived from the state of the resource they follow. */

function target(call: ArmCall, ref: OperationRef): (Lifecycle & { backingPending?: boolean }) | undefined {
  const rg = call.store.group(call.sub, ref.rg);
  if (!rg) return undefined;
  const [a = '', b = ''] = ref.names.map((n) => n.toLowerCase());
  switch (ref.kind) {
    case 'rg':
      return rg;
    case 'vnet':
      return rg.vnets.get(a);
    case 'subnet':
      return rg.vnets.get(a)?.subnets.get(b);
    case 'nsg':
      return rg.nsgs.get(a);
    case 'rule':
      return rg.nsgs.get(a)?.rules.get(b);
    case 'nic':
      return rg.nics.get(a);
    case 'pip':
      return rg.publicIps.get(a);
    case 'vm':
      return rg.vms.get(a);
    case 'vmss':
      return rg.vmss.get(a);
    case 'disk':
      return rg.disks.get(a);
  }
}

interface Status {
  readonly status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  readonly error?: { code: string; message: string };
  readonly remainingMs: number;
}

function statusOf(call: ArmCall, ref: OperationRef): Status {
  const record = target(call, ref);
  if (ref.op === 'delete') {
    if (record && record.gen === ref.gen && record.deleteAt !== undefined)
      return { status: 'InProgress', remainingMs: record.deleteAt - call.now };
    return { status: 'Succeeded', remainingMs: 0 };
  }
  if (!record) return { status: 'Canceled', remainingMs: 0 };
  if (record.gen !== ref.gen)
    return { status: record.deleteAt !== undefined ? 'Canceled' : 'Succeeded', remainingMs: 0 };
  switch (provisioningState(record, call.now, record.backingPending)) {
    case 'Creating':
    case 'Updating':
      return { status: 'InProgress', remainingMs: record.readyAt - call.now };
    case 'Failed':
      return { status: 'Failed', error: record.failed, remainingMs: 0 };
    case 'Deleting':
      return { status: 'Canceled', remainingMs: 0 };
    case 'Succeeded':
      return { status: 'Succeeded', remainingMs: 0 };
  }
}

function decode(token: string): OperationRef {
  const ref = decodeOperation(token);
  if (!ref) throw new ArmError(404, 'OperationNotFound', `The operation '${token}' could not be found.`);
  return ref;
}

/** `GET .../locations/{loc}/operations/{id}` (Azure-AsyncOperation): `{ status, error? }`, always 200. */
export function operationStatus(call: ArmCall, family: 'compute' | 'network', token: string): ArmReply {
  const ref = decode(token);
  const s = statusOf(call, ref);
  const body: Json =
    family === 'compute'
      ? {
          startTime: isoTime(ref.started),
          ...(s.status === 'InProgress' ? {} : { endTime: isoTime(Date.now()) }),
          status: s.status,
          name: token,
        }
      : { status: s.status };
  if (s.error) body.error = s.error;
  return { status: 200, body, headers: s.status === 'InProgress' ? { 'retry-after': retryAfter(s.remainingMs) } : {} };
}

/**
 * `Location` URL semantics (operationResults, compute `monitor=true`, resource-group deletes): 202 while running,
 * then 200 (or the operation's error with its status).
 */
export function operationResult(call: ArmCall, token: string): ArmReply {
  const ref = decode(token);
  const s = statusOf(call, ref);
  if (s.status === 'InProgress') {
    return {
      status: 202,
      headers: { location: call.request.url.toString(), 'retry-after': retryAfter(s.remainingMs) },
    };
  }
  if (s.status === 'Failed' && s.error) return { status: 409, body: { error: s.error } };
  return { status: 200 };
}

export { encodeOperation };
