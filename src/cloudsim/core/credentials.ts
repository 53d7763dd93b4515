import * as crypto from 'node:crypto';

/** The credentials one sim run accepts; anything else is refused the way each cloud refuses it. */
export interface SimCredentials {
  readonly aws: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly gcp: { readonly accessToken: string };
  readonly azure: { readonly accessToken: string };
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Fresh credentials shaped like each cloud's (AKIA… key ids, 40-character secrets, `ya29.` tokens). */
export function generateCredentials(given: Partial<SimCredentials> = {}): SimCredentials {
  const keyId = () => `AKIA${[...crypto.randomBytes(16)].map((b) => BASE32[b & 31]).join('')}`;
  const token = (bytes: number) => crypto.randomBytes(bytes).toString('base64url');
  return {
    aws: given.aws ?? { accessKeyId: keyId(), secretAccessKey: crypto.randomBytes(30).toString('base64') },
    gcp: given.gcp ?? { accessToken: `ya29.${token(48)}` },
    azure: given.azure ?? { accessToken: token(48) },
  };
}

/**
 * Compares a presented secret with the expected one in time that does not depend on where they differ: both are
 * hashed first, so timingSafeEqual always sees equal lengths and the length of the secret does not leak either.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return crypto.timingSafeEqual(sha256(presented, 'buffer'), sha256(expected, 'buffer'));
}

/**
 * SHA-256 of `data`. Every verified request hashes a few times: crypto.hash (one shot, no Hash object, Node 20.12+)
 * costs a third of createHash, which older Node 20 releases fall back to.
 */
export function sha256(data: string | Buffer, encoding: 'hex'): string;
export function sha256(data: string | Buffer, encoding: 'buffer'): Buffer;
export function sha256(data: string | Buffer, encoding: 'hex' | 'buffer'): string | Buffer {
  if (typeof crypto.hash === 'function') return crypto.hash('sha256', data, encoding as 'hex');
  const hash = crypto.createHash('sha256').update(data);
  return encoding === 'hex' ? hash.digest('hex') : hash.digest();
}

/** Constant-time equality of two hex or base64 signatures (different lengths are simply unequal). */
export function sameSignature(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'latin1');
  const b = Buffer.from(expected, 'latin1');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * What the servers know about themselves that every service checks: the credentials and the `host:port` names a
 * request may carry in its Host header (a page in a browser that guessed the port sends its own host name).
 */
export interface SimAuth {
  readonly credentials: SimCredentials;
  /** Token for the admin API under `/_sim/` (Authorization: Bearer). */
  readonly adminToken: string;
  /** True if `host` (the Host header) names this sim. */
  isOwnHost(host: string | undefined): boolean;
  /** The names accepted, for the message that tells a caller which one to use. */
  readonly ownHosts: readonly string[];
}

/** The Host header values that reach a server listening on `host:port` from this machine. */
export function hostNames(host: string, port: number, scheme: 'http' | 'https'): string[] {
  const bracket = host.includes(':') ? `[${host}]` : host;
  const names = new Set([bracket, 'localhost']);
  // A wildcard listener is reached through the loopback addresses.
  if (host === '0.0.0.0' || host === '::') for (const loopback of ['127.0.0.1', '[::1]']) names.add(loopback);
  const out: string[] = [];
  const defaultPort = scheme === 'http' ? 80 : 443;
  for (const name of names) {
    out.push(`${name}:${port}`);
    if (port === defaultPort) out.push(name);
  }
  return out;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined when the header has another shape. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
