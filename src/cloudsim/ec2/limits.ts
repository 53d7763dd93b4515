import type { SimContext } from '../core/types.js';
import { Ec2Error } from './errors.js';

/** EC2 request token buckets (cloud-apis.md): [capacity, refill per second], per account and region. */
export const EC2_BUCKETS = {
  runInstances: [5, 2],
  instanceResource: [1000, 2],
  terminateInstances: [100, 5],
  describe: [100, 20],
  describeInstancesUnfiltered: [50, 10],
  mutating: [50, 5],
  createTags: [100, 10],
} as const satisfies Record<string, readonly [number, number]>;

export type BucketFamily = keyof typeof EC2_BUCKETS;

export function familyOf(action: string, unfiltered: boolean): BucketFamily {
  if (action === 'RunInstances') return 'runInstances';
  if (action === 'TerminateInstances') return 'terminateInstances';
  if (action === 'CreateTags' || action === 'DeleteTags') return 'createTags';
  if (action === 'DescribeInstances' && unfiltered) return 'describeInstancesUnfiltered';
  if (action.startsWith('Describe')) return 'describe';
  return 'mutating';
}

const limited = () => new Ec2Error('RequestLimitExceeded', 'Request limit exceeded.');

export class Ec2RateLimiter {
  constructor(private readonly context: SimContext) {}

  private bucket(account: string, region: string, family: BucketFamily) {
    const settings = this.context.settings.rateLimits.aws;
    const scale = settings.scale ?? 1;
    const [capacity, refill] = EC2_BUCKETS[family];
    return this.context.buckets.get(
      `aws/${account}/${region}/${family}/${scale}`,
      Math.max(1, capacity * scale),
      refill * scale,
    );
  }

  private get enabled(): boolean {
    return this.context.settings.rateLimits.aws.enabled !== false;
  }

  /** Takes one request token of the action's family or throws RequestLimitExceeded (503). */
  takeRequest(account: string, region: string, family: BucketFamily): void {
    if (this.enabled && !this.bucket(account, region, family).tryTake(1)) throw limited();
  }

  /** RunInstances/CreateFleet also spend one token per instance launched from a separate, larger bucket. */
  takeInstances(account: string, region: string, count: number): void {
    if (this.enabled && count > 0 && !this.bucket(account, region, 'instanceResource').tryTake(count)) throw limited();
  }
}
