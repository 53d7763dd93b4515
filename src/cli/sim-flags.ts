import { InvalidArgumentError } from 'commander';
import type { FaultRule, RateLimitSettings, SimCloud } from '../cloudsim/core/types.js';

/**
 * `skypool sim` flags for rate limits and faults. Values name clouds (`aws=3,gcp=5`) or give one value for all
 * three (`3`). Kept free of the sim itself so `skypool --help` does not load it.
 */
const CLOUDS: readonly SimCloud[] = ['aws', 'gcp', 'azure'];

/** `aws=0.1,gcp=0.5` or `0.1` (every cloud) → a number per cloud, each checked by `check`. */
export function perCloud(flag: string, check: (n: number) => boolean, expected: string) {
  return (value: string, previous: Partial<Record<SimCloud, number>> = {}): Partial<Record<SimCloud, number>> => {
    const out = { ...previous };
    for (const part of value.split(',')) {
      const [left, right] = part.includes('=') ? part.split('=', 2) : [undefined, part];
      const clouds = left === undefined ? CLOUDS : [left.trim() as SimCloud];
      if (!CLOUDS.includes(clouds[0]!))
        throw new InvalidArgumentError(`${flag}: unknown cloud "${left}"; use aws, gcp or azure`);
      const n = Number(right?.trim());
      if (right === undefined || right.trim() === '' || !Number.isFinite(n) || !check(n))
        throw new InvalidArgumentError(`${flag}: ${expected}, got "${right ?? ''}"`);
      for (const c of clouds) out[c] = n;
    }
    return out;
  };
}

export const rateScaleFlag = perCloud('--rate-scale', (n) => n > 0, 'a scale greater than 0');
export const throttleEveryFlag = perCloud(
  '--throttle-every',
  (n) => Number.isInteger(n) && n >= 1,
  'a whole number of calls, 1 or more',
);
export const probabilityFlag = (flag: string) => perCloud(flag, (n) => n >= 0 && n <= 1, 'a probability from 0 to 1');

/** `--fault '<json>'`: one fault rule as the admin API takes it (POST /_sim/faults). */
export function faultFlag(value: string, previous: FaultRule[] = []): FaultRule[] {
  let rule: unknown;
  try {
    rule = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`--fault: not JSON: ${value}`);
  }
  const r = rule as Partial<FaultRule> | null;
  if (typeof r !== 'object' || r === null || !CLOUDS.includes(r.cloud as SimCloud) || typeof r.kind !== 'string')
    throw new InvalidArgumentError('--fault: give an object with "cloud" (aws, gcp, azure) and "kind"');
  return [...previous, r as FaultRule];
}

export interface SimFaultFlags {
  readonly rateScale?: Partial<Record<SimCloud, number>>;
  /** false: `--no-rate-limits`. */
  readonly rateLimits?: boolean;
  readonly throttleEvery?: Partial<Record<SimCloud, number>>;
  readonly serverErrors?: Partial<Record<SimCloud, number>>;
  readonly resets?: Partial<Record<SimCloud, number>>;
  readonly fault?: FaultRule[];
}

/** The sim's rate limit settings and fault rules the flags ask for. */
export function simSettingsFromFlags(flags: SimFaultFlags): {
  rateLimits: Partial<Record<SimCloud, RateLimitSettings>>;
  faults: FaultRule[];
} {
  const rateLimits: Partial<Record<SimCloud, RateLimitSettings>> = {};
  for (const cloud of CLOUDS) {
    const scale = flags.rateScale?.[cloud];
    if (scale !== undefined || flags.rateLimits === false)
      rateLimits[cloud] = { ...(flags.rateLimits === false ? { enabled: false } : {}), ...(scale ? { scale } : {}) };
  }
  const faults: FaultRule[] = [];
  for (const [cloud, every] of Object.entries(flags.throttleEvery ?? {}))
    faults.push({ cloud: cloud as SimCloud, kind: 'throttle', every });
  for (const [cloud, probability] of Object.entries(flags.serverErrors ?? {}))
    if (probability > 0) faults.push({ cloud: cloud as SimCloud, kind: 'server-error', probability });
  for (const [cloud, probability] of Object.entries(flags.resets ?? {}))
    if (probability > 0) faults.push({ cloud: cloud as SimCloud, kind: 'reset', probability });
  faults.push(...(flags.fault ?? []));
  return { rateLimits, faults };
}

/** Lines for the sim's banner: the rate limit changes and fault rules in force (none: no lines). */
export function describeFaults(settings: {
  readonly rateLimits: Readonly<Record<SimCloud, RateLimitSettings>>;
  readonly faults: readonly FaultRule[];
}): string[] {
  const limits = CLOUDS.flatMap((c) => {
    const l = settings.rateLimits[c];
    if (l.enabled === false) return [`${c} off`];
    return l.scale !== undefined && l.scale !== 1 ? [`${c} x${l.scale}`] : [];
  });
  const faults = settings.faults.map((f) => {
    const when = f.every !== undefined ? `1 call in ${f.every}` : `p=${f.probability ?? 1}`;
    return `${f.cloud} ${f.kind} (${when}${f.request ? `, ${f.request}` : ''})`;
  });
  return [
    ...(limits.length ? [`  rate limits:    ${limits.join(', ')}`] : []),
    ...(faults.length ? [`  faults:         ${faults.join('; ')}`] : []),
  ];
}
