import { X509Certificate } from 'node:crypto';

/**
 * A node's public identity, made by the node itself at boot and printed on its console (EC2 GetConsoleOutput,
 * GCE serial port 1, Azure boot diagnostics, the local VM's boot log): nothing in it is secret, and the cloud's
 * authenticated console API is what ties it to the instance. One line, so shells can print it and consoles that
 * wrap or drop lines still carry it whole:
 *
 *   SKYPOOL-IDENTITY v1 name=<node> fabric=<overlay IPv4> wg=<WireGuard public key, base64> cert=<server cert, base64 DER>
 */
export const IDENTITY_MARKER = 'SKYPOOL-IDENTITY';

export interface NodeIdentity {
  /** The node's name (its hostname and engine node name). */
  readonly name: string;
  /** The node's address on the cluster's fabric (WireGuard overlay). */
  readonly fabricIp: string;
  /** The node's WireGuard public key (base64, 32 bytes). */
  readonly wireguardKey: string;
  /** The engine API's self-signed server certificate (PEM), pinned by the SDK. */
  readonly certPem: string;
}

const LINE = new RegExp(`${IDENTITY_MARKER} v1 ((?:[a-z]+=\\S+ ?)+)`, 'g');
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function toPem(der: Buffer): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

/** Renders the identity line (the templates print the same from shell; this is for tests and the local sim). */
export function formatIdentity(identity: NodeIdentity): string {
  const der = new X509Certificate(identity.certPem).raw.toString('base64');
  return `${IDENTITY_MARKER} v1 name=${identity.name} fabric=${identity.fabricIp} wg=${identity.wireguardKey} cert=${der}`;
}

/**
 * The last well-formed identity line of a console text (a node that rebooted prints a new one), or undefined.
 * With `name`, only a line for that node counts. The certificate must parse and name the node in its subject CN.
 */
export function parseIdentity(consoleText: string, name?: string): NodeIdentity | undefined {
  let found: NodeIdentity | undefined;
  for (const match of consoleText.matchAll(LINE)) {
    const fields = Object.fromEntries(
      match[1]!
        .trim()
        .split(' ')
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    );
    const { name: node, fabric, wg, cert } = fields as Record<string, string | undefined>;
    if (!node || !fabric || !wg || !cert) continue;
    if (name !== undefined && node !== name) continue;
    if (!IPV4.test(fabric) || !WG_KEY.test(wg)) continue;
    let certPem: string;
    try {
      const x509 = new X509Certificate(Buffer.from(cert, 'base64'));
      if (!x509.subject.split('\n').includes(`CN=${node}`)) continue;
      certPem = toPem(x509.raw);
    } catch {
      continue;
    }
    found = { name: node, fabricIp: fabric, wireguardKey: wg, certPem };
  }
  return found;
}
