import { createHmac } from 'node:crypto';
import { type SimAuth, sameSignature, sha256 } from '../core/credentials.js';
import type { SimRequest } from '../core/types.js';
import { REGIONS } from './catalog.js';
import { Ec2Error } from './errors.js';

export interface Caller {
  readonly accessKeyId: string;
  readonly region: string;
}

/**
 * EC2 refuses a request stamped more than 15 minutes from its clock, either way, and a presigned URL more than 15
 * minutes past its expiry (RequestExpired in EC2's common errors).
 */
const SKEW_MS = 15 * 60_000;
/** Signature Version 2 carries no region: it is the endpoint's, and the one simulated endpoint answers as us-east-1. */
const SIGV2_REGION = 'us-east-1';
const CREDENTIAL = /^([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const authFailure = () => new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
const signatureMismatch = () =>
  new Ec2Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    403,
  );
const expired = () => new Ec2Error('RequestExpired', 'Request has expired.');
const incomplete = (message: string) => new Ec2Error('IncompleteSignature', message);

/** RFC 3986 encoding as both signature versions canonicalize: everything but A-Z a-z 0-9 - _ . ~ is %XX. */
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** `k=v` pairs, encoded and sorted by key then value, as the canonical query string of either version. */
function canonicalQuery(params: URLSearchParams, skip: string): string {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of params) if (k !== skip) pairs.push([encode(k), encode(v)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** The path as SigV4 signs it for every service but S3: dot segments removed, each segment encoded again. */
function canonicalPath(path: string): string {
  if (path === '/') return path;
  return encode(path).replace(/%2F/g, '/');
}

function headerValue(request: SimRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  const trimmed = (Array.isArray(value) ? value.join(',') : value).trim();
  return /\s\s|[\t\n\r]/.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
}

function parseTime(amzDate: string | undefined, httpDate: string | undefined): number | undefined {
  const m = amzDate ? AMZ_DATE.exec(amzDate) : null;
  if (m) return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  const t = httpDate ? Date.parse(httpDate) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
}

const sha256Hex = (data: string | Buffer) => sha256(data, 'hex');

interface SigV4Parts {
  readonly credential: string | undefined;
  readonly signedHeaders: string;
  readonly signature: string;
  /** Request time as sent (X-Amz-Date), which the string to sign carries verbatim. */
  readonly stamp: string;
  readonly time: number | undefined;
  /** Presigned only: seconds the URL stays valid. */
  readonly expiresSeconds?: number;
  readonly query: string;
}

/**
 * Verifies EC2 requests as EC2 does: Signature Version 4 in an Authorization header or presigned `X-Amz-*` query
 * parameters, and the older Signature Version 2 (`SignatureVersion=2`) some clients still send. The canonical
 * request is rebuilt from what arrived and the signature compared in constant time; the region comes from the
 * credential scope, since one simulated endpoint serves every region.
 */
export class Ec2Authenticator {
  /** SigV4 signing keys by `date/region`: the HMAC chain is the same for every request of a day. */
  private readonly signingKeys = new Map<string, Buffer>();

  constructor(private readonly auth: SimAuth) {}

  authenticate(request: SimRequest, formBody: string | undefined, now = Date.now()): Caller {
    if (!this.auth.isOwnHost(request.headers.host))
      throw new Ec2Error(
        'InvalidRequest',
        `The request received was invalid: Host '${request.headers.host ?? ''}' is not this endpoint; use ${this.auth.ownHosts.join(' or ')}.`,
      );
    const header = request.headers.authorization;
    if (typeof header === 'string' && header.length > 0)
      return this.verifyV4(request, this.headerParts(request, header), now);
    const query = request.url.searchParams;
    if (query.has('X-Amz-Algorithm')) return this.verifyV4(request, this.presignedParts(query), now);
    const params = formBody === undefined ? query : new URLSearchParams(formBody);
    if (params.has('Signature') || params.has('SignatureVersion') || params.has('AWSAccessKeyId'))
      return this.verifyV2(request, params, now);
    throw new Ec2Error(
      'MissingAuthenticationToken',
      'The request must contain either a valid (registered) AWS access key ID or X.509 certificate.',
    );
  }

  private headerParts(request: SimRequest, header: string): SigV4Parts {
    if (!header.startsWith('AWS4-HMAC-SHA256 ')) throw authFailure();
    let credential: string | undefined;
    let signedHeaders: string | undefined;
    let signature: string | undefined;
    for (const field of header.slice(17).split(',')) {
      const at = field.indexOf('=');
      const name = field.slice(0, at).trim();
      const value = field.slice(at + 1).trim();
      if (name === 'Credential') credential = value;
      else if (name === 'SignedHeaders') signedHeaders = value;
      else if (name === 'Signature') signature = value;
    }
    if (!credential || !signedHeaders || !signature)
      throw incomplete("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.");
    const stamp = headerValue(request, 'x-amz-date');
    const time = parseTime(stamp, headerValue(request, 'date'));
    if (time === undefined)
      throw incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    return {
      credential,
      signedHeaders,
      signature,
      stamp: stamp ?? new Date(time).toISOString().replace(/[-:]|\.\d{3}/g, ''),
      time,
      query: request.url.search.length > 1 ? canonicalQuery(request.url.searchParams, '') : '',
    };
  }

  private presignedParts(query: URLSearchParams): SigV4Parts {
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
      throw incomplete("X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'");
    const missing = ['X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter(
      (p) => !query.get(p),
    );
    if (missing.length)
      throw incomplete(`AWS query-string parameters must include ${missing.map((p) => `'${p}'`).join(', ')}.`);
    const stamp = query.get('X-Amz-Date')!;
    const expires = Number(query.get('X-Amz-Expires') ?? 604_800);
    if (!Number.isInteger(expires) || expires < 1 || expires > 604_800)
      throw new Ec2Error(
        'AuthFailure',
        'X-Amz-Expires must be a whole number of seconds from 1 to 604800 (seven days).',
      );
    return {
      credential: query.get('X-Amz-Credential') ?? undefined,
      signedHeaders: query.get('X-Amz-SignedHeaders')!,
      signature: query.get('X-Amz-Signature')!,
      stamp,
      time: parseTime(stamp, undefined),
      expiresSeconds: expires,
      query: canonicalQuery(query, 'X-Amz-Signature'),
    };
  }

  private verifyV4(request: SimRequest, parts: SigV4Parts, now: number): Caller {
    const scope = parts.credential ? CREDENTIAL.exec(parts.credential) : null;
    if (!scope)
      throw incomplete(
        `Credential '${parts.credential ?? ''}' is not of the form <access key>/<yyyymmdd>/<region>/ec2/aws4_request`,
      );
    const [, accessKeyId, day, region, service] = scope as unknown as [string, string, string, string, string];
    const { aws } = this.auth.credentials;
    if (accessKeyId !== aws.accessKeyId) throw authFailure();
    if (service !== 'ec2') throw new Ec2Error('AuthFailure', `Credential should be scoped to correct service: 'ec2'.`);
    if (!REGIONS.includes(region))
      throw new Ec2Error(
        'AuthFailure',
        `Credential should be scoped to a valid region, not '${region}'. Simulated regions: ${REGIONS.join(', ')}.`,
      );
    if (parts.time === undefined) throw incomplete(`X-Amz-Date '${parts.stamp}' is not of the form yyyyMMddTHHmmssZ.`);
    const lateBy = now - parts.time - (parts.expiresSeconds ?? 0) * 1000;
    if (lateBy > SKEW_MS || parts.time - now > SKEW_MS) throw expired();
    if (parts.expiresSeconds !== undefined && lateBy > 0) throw expired();
    if (!parts.stamp.startsWith(day))
      throw new Ec2Error(
        'SignatureDoesNotMatch',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day}' != '${parts.stamp.slice(0, 8)}', from '${parts.stamp}'.`,
        403,
      );
    const names = parts.signedHeaders.split(';');
    if (!names.includes('host'))
      throw incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    let headers = '';
    for (const name of names) headers += `${name}:${headerValue(request, name) ?? ''}\n`;
    const canonical = `${request.method}\n${canonicalPath(request.url.pathname)}\n${parts.query}\n${headers}\n${parts.signedHeaders}\n${sha256Hex(request.body)}`;
    const scopeText = `${day}/${region}/ec2/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${parts.stamp}\n${scopeText}\n${sha256Hex(canonical)}`;
    const expected = createHmac('sha256', this.signingKey(day, region)).update(toSign).digest('hex');
    if (!sameSignature(parts.signature, expected)) throw signatureMismatch();
    return { accessKeyId, region };
  }

  private signingKey(day: string, region: string): Buffer {
    const id = `${day}/${region}`;
    let key = this.signingKeys.get(id);
    if (!key) {
      const hmac = (k: string | Buffer, data: string) => createHmac('sha256', k).update(data).digest();
      key = hmac(
        hmac(hmac(hmac(`AWS4${this.auth.credentials.aws.secretAccessKey}`, day), region), 'ec2'),
        'aws4_request',
      );
      if (this.signingKeys.size > 64) this.signingKeys.clear();
      this.signingKeys.set(id, key);
    }
    return key;
  }

  /** Signature Version 2: HMAC of `METHOD\nhost\npath\ncanonical query` (every parameter but Signature), base64. */
  private verifyV2(request: SimRequest, params: URLSearchParams, now: number): Caller {
    const accessKeyId = params.get('AWSAccessKeyId');
    const signature = params.get('Signature');
    if (!accessKeyId || !signature)
      throw new Ec2Error(
        'MissingParameter',
        `The request must contain the parameter ${accessKeyId ? 'Signature' : 'AWSAccessKeyId'}`,
      );
    const version = params.get('SignatureVersion');
    if (version !== '2')
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value (${version ?? ''}) for parameter SignatureVersion is invalid. Valid Values: 2`,
      );
    const method = params.get('SignatureMethod');
    const algorithm = method === 'HmacSHA256' ? 'sha256' : method === 'HmacSHA1' ? 'sha1' : undefined;
    if (!algorithm)
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value (${method ?? ''}) for parameter SignatureMethod is invalid. Valid Values: HmacSHA256, HmacSHA1`,
      );
    const { aws } = this.auth.credentials;
    if (accessKeyId !== aws.accessKeyId) throw authFailure();
    const timestamp = params.get('Timestamp');
    const expires = params.get('Expires');
    if (!timestamp === !expires)
      throw new Ec2Error(
        timestamp ? 'InvalidParameterCombination' : 'MissingParameter',
        timestamp
          ? 'The parameter Timestamp cannot be used with the parameter Expires'
          : 'The request must contain the parameter Timestamp or Expires',
      );
    const time = Date.parse((timestamp ?? expires)!);
    if (Number.isNaN(time))
      throw new Ec2Error(
        'InvalidParameterValue',
        `Value (${timestamp ?? expires}) for parameter ${timestamp ? 'Timestamp' : 'Expires'} is invalid. Use ISO 8601, e.g. 2026-01-01T00:00:00Z.`,
      );
    if (timestamp ? Math.abs(now - time) > SKEW_MS : now > time) throw expired();
    const host = (request.headers.host ?? '').toLowerCase();
    const toSign = `${request.method}\n${host}\n${request.url.pathname || '/'}\n${canonicalQuery(params, 'Signature')}`;
    const expected = createHmac(algorithm, aws.secretAccessKey).update(toSign).digest('base64');
    if (!sameSignature(signature, expected)) throw signatureMismatch();
    return { accessKeyId, region: SIGV2_REGION };
  }
}
