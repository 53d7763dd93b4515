import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { bearerToken, type SimAuth, sameSecret, sameSignature } from '../core/credentials.js';
import { ArmError } from './errors.js';

/** The principal the sim run's own token stands for (ARM throttles reads and writes per principal). */
const OWN_PRINCIPAL = 'cloudsim-principal';

const challenge = (error: string) => ({
  'www-authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${error}"`,
});
const invalidToken = (why: string) =>
  new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', { headers: challenge(why) });

const hs256 = (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('base64url');

/**
 * A JWT for more than one principal against one sim: signed HS256 with the sim's ARM token as the key, so only a
 * holder of that token can mint one. `oid` names the principal; `exp` (seconds) is honoured as ARM does.
 */
export function signArmToken(simToken: string, claims: { oid: string; exp?: number }): string {
  const head = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${head}.${hs256(simToken, head)}`;
}

/**
 * ARM's front door: a Host it serves, then a bearer token that is this sim run's token or a JWT signed with it.
 * Returns the principal the request counts against.
 */
export function principalOf(headers: IncomingHttpHeaders, auth: SimAuth): string {
  if (!auth.isOwnHost(headers.host))
    throw new ArmError(
      400,
      'InvalidHostName',
      `The request hostname '${headers.host ?? ''}' is invalid: this endpoint is ${auth.ownHosts.join(' or ')}.`,
    );
  const header = headers.authorization;
  if (!header) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", {
      headers: challenge("The authentication failed because of missing 'Authorization' header."),
    });
  }
  const token = bearerToken(header);
  if (token === undefined) {
    throw new ArmError(
      401,
      'AuthenticationFailedInvalidHeader',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      { headers: challenge("The 'Authorization' header is not a bearer token.") },
    );
  }
  const expected = auth.credentials.azure.accessToken;
  if (sameSecret(token, expected)) return OWN_PRINCIPAL;
  const parts = token.split('.');
  if (parts.length !== 3 || !sameSignature(parts[2]!, hs256(expected, `${parts[0]}.${parts[1]}`)))
    throw invalidToken('The access token is not one this endpoint issued.');
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalidToken('The access token is not a valid JWT.');
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
  if (typeof principal !== 'string' || !principal) throw invalidToken('The access token names no principal (oid).');
  return principal;
}
