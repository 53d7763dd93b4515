/** XML in the shapes the EC2 query API serves (namespace 2016-11-15, lists as `<item>` elements). */
export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

import type { Tags } from './tags.js';

/**
 * Pre-rendered element content, for hot paths (instances) that build their XML as one string. A rendering kept
 * for reuse carries its UTF-8 length, so a page of them is assembled as bytes (see responseXml).
 */
export class RawXml {
  constructor(
    readonly xml: string,
    readonly utf8Length?: number,
  ) {}

  static measured(xml: string): RawXml {
    return new RawXml(xml, Buffer.byteLength(xml, 'utf8'));
  }
}

/** A value serialisable to EC2 XML: objects become child elements, arrays `<item>` lists, undefined is left out. */
export type XmlValue =
  | string
  | number
  | boolean
  | undefined
  | null
  | RawXml
  | readonly XmlValue[]
  | { readonly [key: string]: XmlValue };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const escapeXml = (s: string): string => (/[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : s);

function write(out: Array<string | RawXml>, name: string, value: XmlValue): void {
  if (value === undefined || value === null) return;
  if (value instanceof RawXml) {
    out.push(`<${name}>`, value.utf8Length === undefined ? value.xml : value, `</${name}>`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`<${name}/>`);
      return;
    }
    out.push(`<${name}>`);
    for (const item of value as readonly XmlValue[]) write(out, 'item', item);
    out.push(`</${name}>`);
  } else if (typeof value === 'object') {
    out.push(`<${name}>`);
    for (const key in value) write(out, key, (value as Record<string, XmlValue>)[key]);
    out.push(`</${name}>`);
  } else {
    out.push(`<${name}>${typeof value === 'string' ? escapeXml(value) : String(value)}</${name}>`);
  }
}

/**
 * `<ActionResponse xmlns=...><requestId>..</requestId>...fields</ActionResponse>`. Pages of measured renderings
 * are assembled as bytes in one allocation: copying flat ASCII strings beats joining them into a long string
 * that the socket then flattens and encodes again.
 */
export function responseXml(action: string, requestId: string, fields: Record<string, XmlValue>): string | Buffer {
  const out: Array<string | RawXml> = [
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>`,
  ];
  for (const key in fields) write(out, key, fields[key]);
  out.push(`</${action}Response>`);
  return out.some((p) => p instanceof RawXml) ? utf8Body(out) : out.join('');
}

function utf8Body(parts: ReadonlyArray<string | RawXml>): Buffer {
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.utf8Length!;
  const body = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const p of parts) {
    if (typeof p === 'string') offset += body.write(p, offset, 'utf8');
    // ASCII (byte length = string length) copies as latin1, which is the same bytes without the UTF-8 encoder.
    else offset += body.write(p.xml, offset, p.utf8Length === p.xml.length ? 'latin1' : 'utf8');
  }
  return body;
}

export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

/** EC2 tag sets: `<tagSet><item><key/><value/></item></tagSet>`, left out when there are none. */
export function tagSet(tags: Tags): XmlValue {
  return tags.length ? tags.map(([key, value]) => ({ key, value })) : undefined;
}
