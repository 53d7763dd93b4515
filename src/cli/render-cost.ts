import type { CostEstimate } from '../pricing/cost.js';
import { table } from './output.js';

const usd = (n: number | undefined, digits: number): string => (n === undefined ? 'n/a' : `$${n.toFixed(digits)}`);

/** The cost table `skypool plan` prints, with the notes and the catalog's date under it. */
export function renderCost(cost: CostEstimate): string {
  const rows = [
    ['POOL', 'CLOUD', 'REGION', 'TYPE', 'NODES', '$/HOUR', '$/MONTH', 'POOL $/MONTH', 'WHY'],
    ...cost.pools.map((p) => [
      p.pool,
      p.provider,
      p.region ?? '-',
      p.instanceType ?? 'n/a',
      String(p.count),
      usd(p.hourlyUsd, 4),
      usd(p.monthlyUsd, 2),
      usd(p.poolMonthlyUsd, 2),
      p.reason ?? (p.instanceType && p.provider !== 'local' ? 'set in spec' : ''),
    ]),
  ];
  const total = `Cost: ${usd(cost.totalHourlyUsd, 4)}/hour, ${usd(cost.totalMonthlyUsd, 2)}/month (${cost.hoursPerMonth} h)${cost.complete ? '' : ' + pools marked n/a'}`;
  const notes = cost.pools.filter((p) => p.note).map((p) => `  note: ${p.pool}: ${p.note}`);
  return [
    table(rows),
    '',
    total,
    ...notes,
    `$/HOUR and $/MONTH are per node. On-demand list prices in USD as of ${cost.catalogDate} (bundled catalog; no discounts, disks or traffic).`,
  ].join('\n');
}
