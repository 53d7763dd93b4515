import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { CloudApiError } from '../../src/errors.js';

/** The serial log can be large; the identity line is near its start and end, so a console read keeps 4 MiB. */
const MAX_BYTES = 4 * 1_048_576;

/**
 * GETs a boot diagnostics blob by its SAS URI (the URI is the credential: no bearer token goes to the storage
 * host). Trusts the public roots plus `extraCaPem` (cloudsim's CA). A blob not written yet (404) is an empty log.
 */
export function fetchBootLog(uri: string, options: { extraCaPem?: string; signal?: AbortSignal }): Promise<string> {
  const url = new URL(uri);
  if (url.protocol !== 'https:')
    return Promise.reject(
      new CloudApiError(`Azure gave a boot diagnostics URI that is not https (${url.protocol}): refusing it`, {
        host: url.host,
      }),
    );
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        ...(options.extraCaPem ? { ca: [...rootCertificates, options.extraCaPem] } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).subarray(0, MAX_BYTES).toString('utf8');
          if (res.statusCode === 200) return resolve(text);
          if (res.statusCode === 404) return resolve('');
          // The blob host's error carries no secret, but the URI does (its sig): only the host goes in the message.
          reject(
            new CloudApiError(
              `reading the boot diagnostics log from ${url.host} failed with HTTP ${res.statusCode}: ${/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'no error code'}`,
              { host: url.host, status: res.statusCode },
            ),
          );
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
