import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { CloudSim } from '../../src/cloudsim/index.js';

/**
 * Raw EC2 requests signed by the AWS SDK's own signer (@smithy/signature-v4), so tests of the wire format and of
 * forged requests start from what a real client sends and change one thing.
 */
class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: string | Uint8Array) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export interface SignOptions {
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly signingDate?: Date;
  /** Extra headers to send (and sign). */
  readonly headers?: Record<string, string>;
}

const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

function signer(sim: CloudSim, options: SignOptions): SignatureV4 {
  return new SignatureV4({
    service: 'ec2',
    region: options.region ?? 'us-east-1',
    credentials: options.credentials ?? sim.credentials.aws,
    sha256: NodeSha256,
  });
}

/** The request as the signer sees it, addressed to the sim's EC2 endpoint. */
function httpRequest(
  sim: CloudSim,
  method: 'GET' | 'POST',
  parts: { query?: Record<string, string>; headers?: Record<string, string>; body?: string },
) {
  const url = new URL(sim.httpUrl);
  return {
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: parts.query ?? {},
    headers: { host: url.host, ...parts.headers },
    ...(parts.body === undefined ? {} : { body: parts.body }),
  };
}

/** Headers of a SigV4-signed form POST of `body` to the sim's EC2 endpoint. */
export async function signedEc2Headers(
  sim: CloudSim,
  body: string,
  options: SignOptions = {},
): Promise<Record<string, string>> {
  const signed = await signer(sim, options).sign(
    httpRequest(sim, 'POST', { headers: { 'content-type': FORM, ...options.headers }, body }),
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}

/** A form POST to EC2 signed as the SDK signs it. */
export async function ec2Post(sim: CloudSim, body: string, options: SignOptions = {}): Promise<Response> {
  const headers = await signedEc2Headers(sim, body, options);
  delete headers.host; // fetch sends the same Host itself and refuses to be given one
  return fetch(`${sim.httpUrl}/`, { method: 'POST', headers, body });
}

/** A presigned GET URL for the EC2 query `params` (the X-Amz-* parameters in the query, no Authorization). */
export async function presignedEc2Url(
  sim: CloudSim,
  params: Record<string, string>,
  options: SignOptions & { expiresIn?: number } = {},
): Promise<string> {
  const presigned = await signer(sim, options).presign(httpRequest(sim, 'GET', { query: params }), {
    expiresIn: options.expiresIn ?? 300,
    ...(options.signingDate ? { signingDate: options.signingDate } : {}),
  });
  const query = new URLSearchParams(presigned.query as Record<string, string>).toString().replace(/\+/g, '%20');
  return `${sim.httpUrl}/?${query}`;
}

/** Signature Version 2 query parameters for `params`, as libcloud and boto 2 compute them. */
export function signV2(
  sim: CloudSim,
  method: 'GET' | 'POST',
  params: Record<string, string>,
  options: { secret?: string; accessKeyId?: string; algorithm?: 'HmacSHA256' | 'HmacSHA1'; timestamp?: Date } = {},
): Record<string, string> {
  const algorithm = options.algorithm ?? 'HmacSHA256';
  const all: Record<string, string> = {
    ...params,
    AWSAccessKeyId: options.accessKeyId ?? sim.credentials.aws.accessKeyId,
    SignatureVersion: '2',
    SignatureMethod: algorithm,
    Timestamp: (options.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const quote = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = Object.keys(all)
    .sort()
    .map((k) => `${quote(k)}=${quote(all[k]!)}`)
    .join('&');
  const toSign = `${method}\n${new URL(sim.httpUrl).host}\n/\n${query}`;
  const signature = createHmac(
    algorithm === 'HmacSHA256' ? 'sha256' : 'sha1',
    options.secret ?? sim.credentials.aws.secretAccessKey,
  )
    .update(toSign)
    .digest('base64');
  return { ...all, Signature: signature };
}
