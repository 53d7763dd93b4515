import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';
import { CloudApiError, NoFittingSizeError } from '../../src/errors.js';
import type { TypeShape } from '../../src/pricing/catalog-2026-12.js';
import { chooseInstanceType } from '../../src/pricing/select.js';
import type { NodeSize } from '../../src/spec/schema.js';
import type { Ec2Calls } from './calls.js';
import { DescribeImagesCommand, DescribeInstanceTypesCommand } from './sdk.js';

/** Canonical's account, which publishes the official Ubuntu AMIs. */
export const CANONICAL_OWNER = '099720109477';
export const UBUNTU_2404_NAME = 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*';
/** Used when a pool names neither `instanceType` nor `size`. */
export const DEFAULT_INSTANCE_TYPE = 't3.medium';

/** Newest Ubuntu 24.04 amd64 AMI of the region (the SSM public parameter resolves to the same image). */
export async function findUbuntuImage(ec2: Ec2Calls): Promise<string> {
  const out = await ec2.call(
    'DescribeImages',
    new DescribeImagesCommand({
      Owners: [CANONICAL_OWNER],
      Filters: [
        { Name: 'name', Values: [UBUNTU_2404_NAME] },
        { Name: 'architecture', Values: ['x86_64'] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  const newest = (out.Images ?? [])
    .filter((i) => i.ImageId)
    .sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  if (!newest?.ImageId)
    throw new CloudApiError(
      `no Ubuntu 24.04 AMI from Canonical (${CANONICAL_OWNER}) found in ${ec2.region}: set the aws provider's imageId option`,
      { region: ec2.region },
    );
  return newest.ImageId;
}

/** Every current-generation x86_64 type of the region (the AMI is amd64), following NextToken. */
export async function listInstanceTypes(ec2: Ec2Calls): Promise<InstanceTypeInfo[]> {
  const types: InstanceTypeInfo[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.call(
      'DescribeInstanceTypes',
      new DescribeInstanceTypesCommand({
        Filters: [
          { Name: 'current-generation', Values: ['true'] },
          { Name: 'processor-info.supported-architecture', Values: ['x86_64'] },
        ],
        MaxResults: 100,
        NextToken: token,
      }),
    );
    types.push(...(out.InstanceTypes ?? []));
    token = out.NextToken;
  } while (token);
  return types;
}

/** The cloud's listing as shapes for the shared selection (memory in GiB). */
export function typeShapes(types: readonly InstanceTypeInfo[]): TypeShape[] {
  return types
    .filter((t) => t.InstanceType && t.VCpuInfo?.DefaultVCpus && t.MemoryInfo?.SizeInMiB)
    .map((t) => ({
      name: t.InstanceType!,
      cpus: t.VCpuInfo!.DefaultVCpus!,
      memoryGiB: t.MemoryInfo!.SizeInMiB! / 1024,
    }));
}

/**
 * The type for `size` among those the region lists, by skypool's one selection policy (`chooseInstanceType`:
 * cheapest list price that fits), so a launch picks what `plan` and the CDK synthesizer show.
 */
export function pickInstanceType(types: readonly InstanceTypeInfo[], size: NodeSize, region: string): string {
  const choice = chooseInstanceType('aws', region, size, { available: typeShapes(types) });
  if (!choice)
    throw new NoFittingSizeError(
      `no EC2 instance type in ${region} has ${size.cpus} vCPUs and ${size.memoryGiB} GiB: lower the pool's size or set instanceType`,
      { region, size },
    );
  return choice.instanceType;
}
