import type { SimContext, SimRequest } from '../core/types.js';
import { ArmError, badRequest, resourceGroupNotFound } from './errors.js';
import type { ArmRoute } from './route.js';
import type { ArmStore, ResourceGroupRecord } from './store.js';

/** One ARM request as the resource handlers see it. */
export interface ArmCall {
  readonly request: SimRequest;
  readonly route: ArmRoute;
  readonly sub: string;
  /** Monotonic ms at the start of the request. */
  readonly now: number;
  readonly context: SimContext;
  readonly store: ArmStore;
  /** Milliseconds a network resource stays Updating after a PUT (network operations are quick). */
  readonly networkOpMs: number;
  /** Runs `run` at the first request after monotonic time `at` (pending deletes complete lazily, no timers). */
  defer(at: number, run: () => void): void;
}

export interface ArmReply {
  readonly status: number;
  /** JSON body; a `RawJson` is sent as is (already serialized). */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** Pre-serialized JSON, for hot paths that assemble a body from cached pieces. */
export class RawJson {
  constructor(readonly text: string) {}
}

export type Json = Record<string, unknown>;

/** The request body as a JSON object, or the error ARM gives for content it cannot deserialize. */
export function jsonBody(call: ArmCall): Json {
  const text = call.request.body.toString('utf8');
  if (text.trim() === '')
    throw badRequest(
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: the request body is empty.',
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(
      'InvalidRequestContent',
      `The request content was invalid and could not be deserialized: '${(error as Error).message}'.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(
      'InvalidRequestContent',
      'The request content was invalid and could not be deserialized: expected a JSON object.',
    );
  }
  return value as Json;
}

export function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The resource group of the route; 404 if absent, 409 while it is being deleted and the call writes. */
export function requireGroup(call: ArmCall, writing: boolean): ResourceGroupRecord {
  const rgName = call.route.resourceGroup!;
  const rg = call.store.group(call.sub, rgName);
  if (!rg) throw resourceGroupNotFound(rgName);
  if (writing && rg.deleteAt !== undefined) {
    throw new ArmError(
      409,
      'ResourceGroupBeingDeleted',
      `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`,
    );
  }
  return rg;
}

/** The groups a list call covers: the route's group (404 if absent), or every group of the subscription. */
export function groupsInScope(call: ArmCall): ResourceGroupRecord[] {
  return call.route.resourceGroup ? [requireGroup(call, false)] : [...call.store.groups(call.sub).values()];
}

export function isoTime(wallMs: number): string {
  return new Date(wallMs).toISOString().replace('Z', '0000+00:00');
}
