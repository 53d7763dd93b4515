import type { TagSpecification } from '@aws-sdk/client-ec2';
import { SkypoolError } from '../../src/errors.js';
import { TAG_KEYS } from '../../src/providers/types.js';
import { sleep, throwIfCancelled } from '../../src/util/poll.js';
import type { Ec2Calls } from './calls.js';
import {
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteVpcCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from './sdk.js';

/**
 * One VPC per cluster and region when two processes set the network up at the same moment. EC2's CreateVpc has
 * no ClientToken and VPCs no unique name, so a find-then-create can make two. The rule that settles it: a process
 * that created a VPC looks again, and keeps it only when it is the cluster's only VPC; it then claims it with the
 * `skypool-network: claimed` tag before it builds anything in it. Otherwise it deletes its own (still empty) VPC
 * and starts over after a random pause. Two creators cannot both keep theirs: the later of the two looks finds the
 * earlier's VPC. A process that finds VPCs uses a claimed one (a VPC holding subnets counts as claimed: releases
 * before the tag built them), and waits while only unclaimed ones exist, which their creators settle within a few
 * calls; one still unclaimed after `claimWaitMs` was left by a crash between create and claim, and is removed.
 */

export const CLAIM_TAG = 'skypool-network';
const CLAIMED = 'claimed';

export interface ClaimSettings {
  readonly pollIntervalMs: number;
  /** How long a VPC may stay unclaimed before it counts as a crash's leftover (default 10 polls, at least 2 s). */
  readonly claimWaitMs?: number;
}

interface FoundVpc {
  readonly id: string;
  readonly cidr: string;
  readonly claimed: boolean;
}

const clusterFilter = (cluster: string) => ({ Name: `tag:${TAG_KEYS.cluster}`, Values: [cluster] });
const codeOf = (error: unknown) =>
  SkypoolError.isInstance(error) ? (error.details.code as string | undefined) : undefined;

/** Every VPC tagged with the cluster, by id. */
export async function clusterVpcs(ec2: Ec2Calls, cluster: string): Promise<FoundVpc[]> {
  const out = await ec2.call('DescribeVpcs', new DescribeVpcsCommand({ Filters: [clusterFilter(cluster)] }));
  const vpcs = (out.Vpcs ?? [])
    .filter((v) => v.VpcId && v.CidrBlock)
    .map((v) => ({
      id: v.VpcId!,
      cidr: v.CidrBlock!,
      claimed: (v.Tags ?? []).some((t) => t.Key === CLAIM_TAG && t.Value === CLAIMED),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
  if (vpcs.every((v) => v.claimed)) return vpcs;
  const subnets =
    (await ec2.call('DescribeSubnets', new DescribeSubnetsCommand({ Filters: [clusterFilter(cluster)] }))).Subnets ??
    [];
  const built = new Set(subnets.map((s) => s.VpcId));
  return vpcs.map((v) => (v.claimed || !built.has(v.id) ? v : { ...v, claimed: true }));
}

/** Deletes an empty VPC; gone already counts as done. */
async function dropVpc(ec2: Ec2Calls, id: string): Promise<void> {
  try {
    await ec2.call('DeleteVpc', new DeleteVpcCommand({ VpcId: id }));
  } catch (error) {
    const code = codeOf(error);
    // Not found: removed already. DependencyViolation: someone built in it after all; it stays a claimed VPC.
    if (code !== 'InvalidVpcID.NotFound' && code !== 'DependencyViolation') throw error;
  }
}

/** The cluster's one VPC in this region, made (and claimed) when there is none. */
export async function claimVpc(
  ec2: Ec2Calls,
  cluster: string,
  create: { readonly cidr: string; readonly tags: TagSpecification[] },
  settings: ClaimSettings,
): Promise<{ id: string; cidr: string }> {
  const wait = settings.claimWaitMs ?? Math.max(2000, 10 * settings.pollIntervalMs);
  const unclaimedSince = new Map<string, number>();
  for (let round = 0; ; round++) {
    throwIfCancelled(ec2.signal);
    const vpcs = await clusterVpcs(ec2, cluster);
    const claimed = vpcs.find((v) => v.claimed);
    if (claimed) return claimed;
    if (vpcs.length === 0) {
      const made = await ec2.call(
        'CreateVpc',
        new CreateVpcCommand({ CidrBlock: create.cidr, TagSpecifications: create.tags }),
      );
      const mine = { id: made.Vpc!.VpcId!, cidr: made.Vpc!.CidrBlock! };
      const others = (await clusterVpcs(ec2, cluster)).filter((v) => v.id !== mine.id);
      if (others.length === 0) {
        try {
          await ec2.call(
            'CreateTags',
            new CreateTagsCommand({ Resources: [mine.id], Tags: [{ Key: CLAIM_TAG, Value: CLAIMED }] }),
          );
          return mine;
        } catch (error) {
          // Taken for a crash's leftover and removed by another process (this one was very slow): look again.
          if (codeOf(error) !== 'InvalidVpcID.NotFound') throw error;
          continue;
        }
      }
      // Another process created one at the same moment: step back, and let the next look decide.
      await dropVpc(ec2, mine.id);
      await sleep(Math.random() * settings.pollIntervalMs * 2 ** Math.min(round + 1, 5), ec2.signal);
      continue;
    }
    const now = Date.now();
    for (const v of vpcs) if (!unclaimedSince.has(v.id)) unclaimedSince.set(v.id, now);
    const stale = vpcs.filter((v) => now - unclaimedSince.get(v.id)! >= wait);
    for (const v of stale) await dropVpc(ec2, v.id);
    if (stale.length === 0) await sleep(settings.pollIntervalMs, ec2.signal);
  }
}
