import type { SpecIssue } from '../errors.js';
import type { ClusterSpec } from './schema.js';

const REGION_PATTERNS: Record<'aws' | 'gcp' | 'azure', { re: RegExp; example: string }> = {
  aws: { re: /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, example: 'us-east-1' },
  gcp: { re: /^[a-z]+-[a-z]+\d+$/, example: 'europe-west4' },
  azure: { re: /^[a-z]+[a-z0-9]*$/, example: 'westeurope' },
};

/** Rules that span fields or pools, which the schema alone cannot express. */
export function crossFieldIssues(spec: ClusterSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const seen = new Map<string, number>();
  spec.pools.forEach((pool, i) => {
    const at = `pools[${i}]`;
    const first = seen.get(pool.name);
    if (first !== undefined) {
      issues.push({
        path: `${at}.name`,
        message: `duplicate pool name "${pool.name}" (also pools[${first}]); give each pool its own name`,
      });
    } else {
      seen.set(pool.name, i);
    }
    if (pool.provider !== 'local') {
      const rule = REGION_PATTERNS[pool.provider];
      if (!pool.region) {
        issues.push({
          path: `${at}.region`,
          message: `provider "${pool.provider}" needs a region, e.g. region: ${rule.example}`,
        });
      } else if (!rule.re.test(pool.region)) {
        issues.push({
          path: `${at}.region`,
          message: `"${pool.region}" is not a ${pool.provider} region name (e.g. ${rule.example})`,
        });
      }
      if (!pool.size && !pool.instanceType) {
        issues.push({
          path: `${at}.size`,
          message: 'give either size: { cpus, memoryGiB } or instanceType for a cloud pool',
        });
      }
    } else if (pool.region || pool.zones) {
      issues.push({
        path: `${at}.region`,
        message: 'the local provider has no regions or zones; remove region/zones from this pool',
      });
    }
    if (pool.size && pool.instanceType) {
      issues.push({ path: `${at}.instanceType`, message: 'give either size or instanceType, not both' });
    }
  });

  if (spec.engine === 'swarm' || spec.engine === 'k3s' || spec.engine === 'slurm') {
    const managers = spec.pools.filter((p) => p.role === 'manager').reduce((n, p) => n + p.count, 0);
    if (managers === 0) {
      issues.push({
        path: 'pools',
        message: `engine "${spec.engine}" needs at least one manager: add a pool with role: manager and count: 1 (or 3 for high availability)`,
      });
    }
  }
  return issues;
}
