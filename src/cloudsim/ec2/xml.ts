/** XML in the shapes the EC2 query API serves (namespace 2016-11-15, lists as `<item>` elements). */
export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

import type { Tags } from './tags.js';

/** Pre-rendered element content, for hot paths (instances) that build their XML as one string. */
export class RawXml {
  constructor(readonly xml: string) {}
}

/** A value serialisable to EC2 XML: objects become child elements, arrays `<item>` lists, undefined is left out. */
export type XmlValue = string | number | boolean | undefined | null | RawXml | readonly XmlValue[] | { readonly [key: string]: XmlValue };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const escapeXml = (s: string): string => (/[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : s);

function write(out: string[], name: string, value: XmlValue): void {
  if (value === undefined || value === null) return;
  if (value instanceof RawXml) {
    out.push(`<${name}>`, value.xml, `</${name}>`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) { out.push(`<${name}/>`); return; }
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

/** `<ActionResponse xmlns=...><requestId>..</requestId>...fields</ActionResponse>` */
export function responseXml(action: string, requestId: string, fields: Record<string, XmlValue>): string {
  const out = [`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>`];
  for (const key in fields) write(out, key, fields[key]);
  out.push(`</${action}Response>`);
  return out.join('');
}

export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

/** EC2 tag sets: `<tagSet><item><key/><value/></item></tagSet>`, left out when there are none. */
export function tagSet(tags: Tags): XmlValue {
  return tags.length ? tags.map(([key, value]) => ({ key, value })) : undefined;
}
