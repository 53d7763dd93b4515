/**
 * What the aws adapter can check before @aws-sdk/client-ec2 loads (hundreds of ms): the settings that, missing,
 * make every call fail. Credentials are not checked here: the SDK's chain may still find an instance role.
 */
import { PrerequisiteError } from '../../src/errors.js';

/** Region of calls that name none (listing, termination): the setting, else AWS_REGION or AWS_DEFAULT_REGION. */
export function awsDefaultRegion(
  settings: { readonly region?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return settings.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
}

export function missingRegionError(): PrerequisiteError {
  return new PrerequisiteError(
    "no AWS region: set the pool's region, the aws provider's region option, or AWS_REGION",
    { option: 'region', env: 'AWS_REGION' },
  );
}

/**
 * Throws PrerequisiteError when the aws settings cannot work, without loading the SDK. A missing default region is
 * not such a case: pools name their regions and every verb carries one; a verb without one fails then.
 */
export function preflight(_settings: { readonly region?: string } = {}, _env: NodeJS.ProcessEnv = process.env): void {}

/** The EC2 endpoint calls go to: the setting, AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, else the region's. */
export function endpoint(
  settings: { readonly region?: string; readonly endpoint?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): string {
  return (
    settings.endpoint ??
    env.AWS_ENDPOINT_URL_EC2 ??
    env.AWS_ENDPOINT_URL ??
    `https://ec2.${awsDefaultRegion(settings, env) ?? 'us-east-1'}.amazonaws.com`
  );
}
