import type { SimContext } from '../core/types.js';
import { GceError } from './errors.js';

/**
 * Compute Engine rate quotas are per project per minute and per group of methods. Defaults are the documented
 * per-project defaults (compute/api-quota): 1,500 requests per minute for global mutations ("Queries",
 * compute.googleapis.com/default), reads (`*.get`), lists (`*.list`) and operation reads (`*Operations.get/wait`).
 * A per-minute quota is modelled as a token bucket of that size refilling limit/60 per second.
 */
export type QuotaGroup = 'mutation' | 'read' | 'list' | 'operationRead';

export const DEFAULT_PER_MINUTE: Readonly<Record<QuotaGroup, number>> = {
  mutation: 1500,
  read: 1500,
  list: 1500,
  operationRead: 1500,
};

const METRIC: Record<QuotaGroup, { metric: string; limitName: string; limitId: string; title: string }> = {
  mutation: {
    metric: 'compute.googleapis.com/default',
    limitName: 'Queries per minute',
    limitId: 'defaultPerMinutePerProject',
    title: 'Queries',
  },
  read: {
    metric: 'compute.googleapis.com/read_requests',
    limitName: 'Read requests per minute',
    limitId: 'ReadRequestsPerMinutePerProject',
    title: 'Read requests',
  },
  list: {
    metric: 'compute.googleapis.com/list_requests',
    limitName: 'List requests per minute',
    limitId: 'ListRequestsPerMinutePerProject',
    title: 'List requests',
  },
  operationRead: {
    metric: 'compute.googleapis.com/operation_read_requests',
    limitName: 'Operation read requests per minute',
    limitId: 'OperationReadRequestsPerMinutePerProject',
    title: 'Operation read requests',
  },
};

/** Takes a token for `group` in `project`, or throws the 403 rateLimitExceeded Compute Engine answers. */
export function takeQuota(
  ctx: SimContext,
  project: string,
  group: QuotaGroup,
  perMinute: Partial<Record<QuotaGroup, number>> | undefined,
): void {
  const settings = ctx.settings.rateLimits.gcp;
  if (settings.enabled === false) return;
  const limit = (perMinute?.[group] ?? DEFAULT_PER_MINUTE[group]) * (settings.scale ?? 1);
  const bucket = ctx.buckets.get(`gcp/${project}/${group}/${limit}`, Math.max(1, limit), limit / 60);
  if (bucket.tryTake()) return;
  throw rateLimitExceeded(project, group, limit);
}

/** The 403 rateLimitExceeded Compute Engine answers when a per-minute quota of `group` is used up. */
export function rateLimitExceeded(project: string, group: QuotaGroup, limit = DEFAULT_PER_MINUTE[group]): GceError {
  const m = METRIC[group];
  const consumer = `project_number:${projectNumber(project)}`;
  return new GceError(
    403,
    'rateLimitExceeded',
    `Quota exceeded for quota metric '${m.title}' and limit '${m.limitName}' of service 'compute.googleapis.com' for consumer '${consumer}'.`,
    {
      domain: 'usageLimits',
      infoReason: 'RATE_LIMIT_EXCEEDED',
      metadata: {
        service: 'compute.googleapis.com',
        consumer: `projects/${projectNumber(project)}`,
        quota_metric: m.metric,
        quota_limit: m.limitId,
        quota_limit_value: String(Math.round(limit)),
        quota_unit: '1/min/{project}',
      },
    },
  );
}

/** A stable fake project number, as real errors name the consumer by number. */
export function projectNumber(project: string): string {
  let h = 0;
  for (const c of project) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return String(100000000000 + (h % 900000000000));
}
