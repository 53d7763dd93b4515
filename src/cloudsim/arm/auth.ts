import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ArmError } from './errors.js';

/**
 * Any bearer token is accepted, as long as it is present in the shape the SDK sends. A JWT's `oid`/`appid`
 * names the principal (for per-principal throttling) and an expired `exp` is refused as ARM does; an opaque
 * token is its own principal.
 */
const opaque = new Map<string, string>();

export function principalOf(headers: IncomingHttpHeaders): string {
  const header = headers.authorization;
  const challenge = (error: string) => ({
    'www-authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${error}"`,
  });
  if (!header) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", {
      headers: challenge("The authentication failed because of missing 'Authorization' header."),
    });
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new ArmError(
      401,
      'AuthenticationFailedInvalidHeader',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      { headers: challenge("The 'Authorization' header is not a bearer token.") },
    );
  }
  const token = match[1]!;
  const parts = token.split('.');
  if (parts.length === 3) {
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', {
        headers: challenge('The access token is not a valid JWT.'),
      });
    }
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) {
      const expiry = new Date(claims.exp * 1000).toISOString();
      throw new ArmError(
        401,
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${expiry}' is earlier than current UTC time '${new Date().toISOString()}'.`,
        { headers: challenge('The access token has expired.') },
      );
    }
    const principal = claims.oid ?? claims.appid ?? claims.sub;
    if (typeof principal === 'string' && principal) return principal;
  }
  if (token.length < 8)
    throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', {
      headers: challenge('The access token is too short to be valid.'),
    });
  let principal = opaque.get(token);
  if (principal === undefined) {
    if (opaque.size > 1000) opaque.clear();
    principal = createHash('sha256').update(token).digest('hex').slice(0, 16);
    opaque.set(token, principal);
  }
  return principal;
}
