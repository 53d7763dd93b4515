import { createHash, X509Certificate } from 'node:crypto';

/**
 * The k3s server makes its own server CA before k3s first starts (templates/k3s/server-ca.sh) and prints it on
 * the console: `SKYPOOL-K3S-CA v1 name=<node> cert=<base64 DER>`. The SDK pins it as the only CA it trusts for
 * that server's API, and agents join with a token that carries its hash (k3s checks the CA it is served).
 */
const LINE = /^SKYPOOL-K3S-CA v1 name=([a-z0-9][a-z0-9-]*) cert=([A-Za-z0-9+/]+={0,2})\s*$/;

/** The server CA of `node` from its console text (the last line for that node wins), as PEM; undefined if none. */
export function parseServerCa(console: string, node: string): string | undefined {
  let found: string | undefined;
  for (const line of console.split(/\r?\n/)) {
    const match = LINE.exec(line.replace(/^.*?(?=SKYPOOL-K3S-CA )/, ''));
    if (!match || match[1] !== node) continue;
    try {
      const cert = new X509Certificate(Buffer.from(match[2]!, 'base64'));
      if (cert.ca) found = cert.toString();
    } catch {
      // a truncated console line: keep looking
    }
  }
  return found;
}

/**
 * The agent's join token in k3s's secure form `K10<sha256 of the CA file>::server:<secret>`: k3s fetches the
 * server's CA bundle (/cacerts) and refuses it unless its hash matches. The PEM is openssl's (64-column base64,
 * trailing newline), the same bytes X509Certificate.toString() gives.
 */
export function secureToken(serverCaPem: string, secret: string): string {
  const pem = serverCaPem.endsWith('\n') ? serverCaPem : `${serverCaPem}\n`;
  return `K10${createHash('sha256').update(pem).digest('hex')}::server:${secret}`;
}
