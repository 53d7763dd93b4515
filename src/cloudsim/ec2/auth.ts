import type { SimRequest } from '../core/types.js';
import { signatureV2Caller } from './auth-v2.js';
import { REGIONS } from './catalog.js';
import { Ec2Error } from './errors.js';

export interface Caller {
  readonly accessKeyId: string;
  readonly region: string;
}

const CREDENTIAL = /^([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request$/;

/**
 * Any keys are accepted, but a request must be SigV4-signed in one of the two shapes AWS accepts (an
 * `Authorization` header or presigned `X-Amz-*` query parameters); the region comes from the credential scope,
 * since one simulated endpoint serves every region.
 */
export function authenticate(request: SimRequest): Caller {
  const header = request.headers.authorization;
  let credential: string | undefined;
  if (typeof header === 'string' && header.length > 0) {
    if (!header.startsWith('AWS4-HMAC-SHA256 ')) {
      throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
    }
    const fields = new Map(
      header
        .slice(17)
        .split(',')
        .map((f) => {
          const [k, ...v] = f.trim().split('=');
          return [k ?? '', v.join('=')];
        }),
    );
    if (!fields.get('SignedHeaders') || !fields.get('Signature')) {
      throw new Ec2Error(
        'IncompleteSignature',
        "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
        400,
      );
    }
    credential = fields.get('Credential');
  } else if (
    request.url.searchParams.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256' &&
    request.url.searchParams.get('X-Amz-Signature')
  ) {
    credential = request.url.searchParams.get('X-Amz-Credential') ?? undefined;
  } else {
    const v2 = signatureV2Caller(request);
    if (v2) return v2;
    throw new Ec2Error(
      'MissingAuthenticationToken',
      'The request must contain either a valid (registered) AWS access key ID or X.509 certificate.',
    );
  }
  const scope = credential ? CREDENTIAL.exec(credential) : null;
  if (!scope)
    throw new Ec2Error(
      'IncompleteSignature',
      `Credential '${credential ?? ''}' is not of the form <access key>/<yyyymmdd>/<region>/ec2/aws4_request`,
      400,
    );
  const [, accessKeyId, , region, service] = scope as unknown as [string, string, string, string, string];
  if (service !== 'ec2') throw new Ec2Error('AuthFailure', `Credential should be scoped to correct service: 'ec2'.`);
  if (!REGIONS.includes(region))
    throw new Ec2Error(
      'AuthFailure',
      `Credential should be scoped to a valid region, not '${region}'. Simulated regions: ${REGIONS.join(', ')}.`,
    );
  return { accessKeyId, region };
}
