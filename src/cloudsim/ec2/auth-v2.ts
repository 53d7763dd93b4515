import type { SimRequest } from '../core/types.js';
import { REGIONS } from './catalog.js';
import { Ec2Error } from './errors.js';

/**
 * Signature Version 2 (query parameters `AWSAccessKeyId`, `SignatureVersion=2`, `SignatureMethod`, `Signature`,
 * `Timestamp`), which EC2 still accepts and older clients send: Apache libcloud's EC2 driver signs with it in
 * us-east-1 and several other regions, boto 2 everywhere. Version 2 names no region; EC2 takes it from the
 * endpoint's host name, and a host that names none (the sim's loopback address) means us-east-1.
 */

/** Query parameters that only carry a signature (V2 or presigned V4): not part of what a request asks for. */
export const SIGNATURE_PARAMS =
  /^(AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires|X-Amz-.*)$/;

function formParams(request: SimRequest): URLSearchParams | undefined {
  if (request.method === 'GET') return request.url.searchParams;
  const type = String(request.headers['content-type'] ?? '');
  if (type.toLowerCase().startsWith('application/x-www-form-urlencoded'))
    return new URLSearchParams(request.body.toString('utf8'));
  return undefined;
}

/** The caller of a Signature Version 2 request, or undefined when the request is not signed that way. */
export function signatureV2Caller(request: SimRequest): { accessKeyId: string; region: string } | undefined {
  const params = formParams(request);
  if (params?.get('SignatureVersion') !== '2') return undefined;
  const accessKeyId = params.get('AWSAccessKeyId');
  if (!accessKeyId || !params.get('Signature'))
    throw new Ec2Error(
      'MissingParameter',
      `The request must contain the parameter ${accessKeyId ? 'Signature' : 'AWSAccessKeyId'}`,
    );
  const method = params.get('SignatureMethod');
  if (method !== 'HmacSHA256' && method !== 'HmacSHA1')
    throw new Ec2Error('InvalidParameterValue', `Value (${method ?? ''}) for parameter SignatureMethod is invalid.`);
  if (!params.get('Timestamp') && !params.get('Expires'))
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter Timestamp or Expires');
  const host = String(request.headers.host ?? '');
  const region = /^ec2\.([a-z0-9-]+)\.amazonaws\.com(:\d+)?$/.exec(host)?.[1] ?? 'us-east-1';
  if (!REGIONS.includes(region))
    throw new Ec2Error('AuthFailure', `Region '${region}' is not simulated. Simulated regions: ${REGIONS.join(', ')}.`);
  return { accessKeyId, region };
}
