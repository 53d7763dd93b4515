import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIPv4 } from 'node:net';
import { PrerequisiteError } from '../errors.js';
import { parseCidr } from './ipv4.js';
import { isLoopbackHost } from './net.js';

/**
 * Who may reach the Docker engine API (2376/tcp, mutual TLS) of a cluster's nodes: the operator, i.e. the
 * machine skypool runs on, unless the caller widens it. Every adapter opens the port to what this returns.
 */
export interface OperatorAddressOptions {
  /** The cloud API endpoints (URLs or hosts) the adapter talks to; undefined means the cloud's public one. */
  readonly endpoints: readonly (string | undefined)[];
  /** Sources given explicitly (spec `adminCidrs`, `--admin-cidr`, a provider setting): used as they are. */
  readonly override?: readonly string[];
  /** Finds this machine's public IPv4 address as the internet sees it. Default: GET `lookupUrl`. */
  readonly lookup?: (signal?: AbortSignal) => Promise<string>;
  /**
   * Where the default lookup asks: a URL answering the caller's IPv4 address as plain text (the provider setting
   * `operatorAddressUrl`). Default `OPERATOR_ADDRESS_URL`; plain http only to loopback.
   */
  readonly lookupUrl?: string;
  /** How long the default lookup waits for the whole answer; default 5000 ms. */
  readonly lookupTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
}

/** Where skypool asks for this machine's public address by default. */
export const OPERATOR_ADDRESS_URL = 'https://checkip.amazonaws.com/';

/** The environment variable that sets the engine API sources (comma-separated CIDRs) for every cloud. */
export const ENGINE_API_CIDR_ENV = 'SKYPOOL_ENGINE_API_CIDR';

const hostOf = (endpoint: string): string => {
  try {
    return new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return endpoint;
  }
};

/** The CIDRs the engine API port is opened to. Throws PrerequisiteError naming the fix when none can be found. */
export async function operatorAddress(options: OperatorAddressOptions): Promise<string[]> {
  const env = options.env ?? process.env;
  const given = options.override?.length
    ? [...options.override]
    : (env[ENGINE_API_CIDR_ENV] ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
  if (given.length > 0) return given.map((c) => normalizeCidr(c));
  // A cloud on this machine (cloudsim) sees the operator on loopback.
  if (options.endpoints.length > 0 && options.endpoints.every((e) => e !== undefined && isLoopbackHost(hostOf(e)))) {
    return ['127.0.0.1/32'];
  }
  const url = options.lookupUrl ?? OPERATOR_ADDRESS_URL;
  const lookup =
    options.lookup ?? ((signal?: AbortSignal) => publicAddress(url, options.lookupTimeoutMs ?? 5_000, signal));
  try {
    const ip = (await lookup(options.signal)).trim();
    if (!isIPv4(ip)) throw new Error(`${url} answered ${JSON.stringify(ip.slice(0, 40))}, not an IPv4 address`);
    return [`${ip}/32`];
  } catch (cause) {
    throw new PrerequisiteError(
      `could not find this machine's public address to open the engine API (2376/tcp) to: ${(cause as Error).message}. ` +
        `Give it explicitly: adminCidrs in the spec, --admin-cidr <cidr> or ${ENGINE_API_CIDR_ENV}=<cidr>`,
      { option: 'adminCidrs', env: ENGINE_API_CIDR_ENV, url },
    );
  }
}

/** `a.b.c.d` becomes `a.b.c.d/32`; anything that is not an IPv4 CIDR is refused. */
export function normalizeCidr(text: string): string {
  const cidr = parseCidr(text);
  if (!cidr)
    throw new PrerequisiteError(`"${text}" is not an IPv4 CIDR (e.g. 203.0.113.7/32) for the engine API sources`, {
      option: 'adminCidrs',
    });
  return `${text.trim().split('/')[0]}/${cidr.bits}`;
}

/** True when the sources let the whole internet reach the engine API. */
export const isWholeInternet = (cidrs: readonly string[]): boolean => cidrs.some((c) => /\/0$/.test(c));

/** An answer longer than this is not an address: stop reading. */
const MAX_ANSWER_BYTES = 256;

/** GETs `url` (https, or http to loopback) and resolves with its body; the whole exchange within `timeoutMs`. */
export function publicAddress(url: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new Error(`the address lookup URL "${url}" is not a URL`));
  }
  const secure = parsed.protocol === 'https:';
  if (!secure && !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)))
    return Promise.reject(new Error(`the address lookup URL ${url} must be https (plain http only to loopback)`));
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      reject(error);
      req.destroy();
    };
    const req = (secure ? httpsRequest : httpRequest)(
      parsed,
      { method: 'GET', ...(signal ? { signal } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > MAX_ANSWER_BYTES)
            fail(new Error(`${url} answered more than ${MAX_ANSWER_BYTES} bytes, not an IPv4 address`));
        });
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`${url} answered HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      },
    );
    // The whole exchange, not only the idle time: a server trickling bytes must not hold apply.
    const timer = setTimeout(() => fail(new Error(`${url} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}
