import type { SimResponse } from '../core/types.js';
import { GceError, notFound, type OperationFailure } from './errors.js';
import { link } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import { type OpRec, type OpScope, opKey } from './state.js';

/** Operations: every mutation returns one; clients poll `get` or hold on `wait` until it is DONE. */
const HTTP_MESSAGE: Record<number, string> = {
  400: 'BAD REQUEST',
  403: 'FORBIDDEN',
  404: 'NOT FOUND',
  409: 'CONFLICT',
  412: 'PRECONDITION FAILED',
  503: 'SERVICE UNAVAILABLE',
};

export interface NewOperation {
  readonly project: string;
  readonly scope: OpScope;
  readonly location: string;
  readonly operationType: string;
  readonly targetLink: string;
  readonly targetId: string;
  readonly durationMs: number;
  readonly failure?: OperationFailure;
  readonly requestId?: string;
  readonly fingerprint?: string;
  readonly bulk?: OpRec['bulk'];
}

export function newOperation(rt: GceRuntime, init: NewOperation): OpRec {
  const now = rt.now();
  const { durationMs, ...rest } = init;
  const op: OpRec = {
    ...rest,
    name: rt.opName(),
    id: rt.newId(),
    createdAt: now,
    doneAt: now + Math.max(0, durationMs),
  };
  rt.state.addOperation(op, rt.options.maxOperations);
  return op;
}

function scopePath(op: Pick<OpRec, 'project' | 'scope' | 'location'>): string {
  return op.scope === 'global' ? `projects/${op.project}/global` : `projects/${op.project}/${op.scope}/${op.location}`;
}

export function renderOperation(rt: GceRuntime, op: OpRec): Record<string, unknown> {
  const done = rt.now() >= op.doneAt;
  const out: Record<string, unknown> = {
    kind: 'compute#operation',
    id: op.id,
    name: op.name,
    operationType: op.operationType,
    targetLink: op.targetLink,
    targetId: op.targetId,
    status: done ? 'DONE' : 'RUNNING',
    user: `skypool-sim@${op.project}.iam.gserviceaccount.com`,
    progress: done ? 100 : 0,
    insertTime: rt.timestamp(op.createdAt),
    startTime: rt.timestamp(op.createdAt),
    selfLink: link(`${scopePath(op)}/operations/${op.name}`),
    selfLinkWithId: link(`${scopePath(op)}/operations/${op.id}`),
  };
  if (op.scope === 'zones') out.zone = link(`projects/${op.project}/zones/${op.location}`);
  if (op.scope === 'regions') out.region = link(`projects/${op.project}/regions/${op.location}`);
  if (done) {
    out.endTime = rt.timestamp(op.doneAt);
    if (op.failure) {
      out.error = { errors: [{ code: op.failure.code, message: op.failure.message }] };
      out.httpErrorStatusCode = op.failure.httpStatus;
      out.httpErrorMessage = HTTP_MESSAGE[op.failure.httpStatus] ?? 'ERROR';
    }
  }
  if (op.bulk) {
    const finished = done;
    out.instancesBulkInsertOperationMetadata = {
      perLocationStatus: {
        [`zones/${op.location}`]: {
          targetVmCount: op.bulk.target,
          createdVmCount: finished ? op.bulk.created : 0,
          failedToCreateVmCount: finished ? op.bulk.failed : 0,
          deletedVmCount: 0,
          status: !finished ? 'CREATING' : op.failure ? 'FAILED' : 'FULFILLED',
        },
      },
    };
  }
  return out;
}

export function findOperation(rt: GceRuntime, project: string, scope: OpScope, location: string, name: string): OpRec {
  const op = rt.state.operations.get(opKey(project, scope, location, name));
  if (!op) throw notFound(`${scopePath({ project, scope, location })}/operations/${name}`);
  return op;
}

/** `operations.wait`: returns once the operation is DONE or after the configured longest hold. */
export async function waitOperation(rt: GceRuntime, op: OpRec): Promise<OpRec> {
  const remaining = op.doneAt - rt.now();
  if (remaining > 0) await rt.sleep(Math.min(remaining + 1, rt.options.operationWaitMaxMs));
  return op;
}

/** What a mutation did, for its Operation: scope, type, target and how long until it is DONE. */
export interface MutationResult {
  readonly scope: OpScope;
  readonly location: string;
  readonly operationType: string;
  /** Target resource path, e.g. `projects/p/zones/z/instances/i`. */
  readonly targetPath: string;
  readonly targetId: string;
  readonly durationMs: number;
  readonly failure?: OperationFailure;
  readonly bulk?: OpRec['bulk'];
}

/**
 * Runs a mutation and answers with its Operation. `requestId` idempotency: the same requestId again returns
 * the original Operation and does nothing else; the same requestId on a different request (other target or
 * body) is refused.
 */
export function mutate(rt: GceRuntime, call: GceCall, run: () => MutationResult): SimResponse {
  const previousKey = call.requestId ? rt.state.requestIds.get(`${call.project}/${call.requestId}`) : undefined;
  const previous = previousKey ? rt.state.operations.get(previousKey) : undefined;
  if (previous) {
    if (previous.fingerprint !== call.fingerprint) {
      throw new GceError(
        400,
        'invalid',
        `Invalid value for field 'requestId': '${call.requestId}'. The request ID was already used by a different request (operation '${previous.name}'); use a new request ID for a new request.`,
      );
    }
    return ok(renderOperation(rt, previous));
  }
  const { targetPath, ...result } = run();
  const op = newOperation(rt, {
    ...result,
    project: call.project,
    targetLink: link(targetPath),
    requestId: call.requestId,
    fingerprint: call.fingerprint,
  });
  return ok(renderOperation(rt, op));
}
