import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionFaultKind, FaultRule, SimCloud, SimContext, SimRequest, SimResponse } from './types.js';

/**
 * Connection-level faults: what a cloud front end or a middlebox does to a connection now and then (a reset, a
 * body cut short, a silent pause), so every adapter's retry of idempotent reads can be tested against the real
 * socket behaviour and not a mocked error.
 */

const KINDS: readonly ConnectionFaultKind[] = ['reset', 'truncate', 'stall'];

/** `METHOD /path?query`; for a form POST (EC2) the body stands in for the query. */
export function requestLine(request: SimRequest): string {
  const form = String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  const query = form ? request.body.toString('latin1') : request.url.search.slice(1);
  return `${request.method} ${request.url.pathname}${query ? `?${query}` : ''}`;
}

/** The first connection fault that matches this request, consumed (times/probability as for other faults). */
export function takeConnectionFault(context: SimContext, cloud: SimCloud, request: SimRequest): FaultRule | undefined {
  if (!context.settings.faults.some((r) => r.cloud === cloud && (KINDS as readonly string[]).includes(r.kind)))
    return undefined;
  const line = requestLine(request);
  for (const kind of KINDS) {
    const rule = context.takeFault({ cloud, kind, request: line });
    if (rule) return rule;
  }
  return undefined;
}

/** Ends the connection with a TCP RST (the client reads ECONNRESET), or just destroys it where RST is not possible. */
function reset(res: ServerResponse): void {
  const socket = res.socket as (Socket & { resetAndDestroy?: () => void }) | null;
  if (!socket) return;
  try {
    // A TLS socket has no reset of its own; destroying it closes the TCP connection under it.
    if (typeof socket.resetAndDestroy === 'function' && !('encrypted' in socket)) socket.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

/** Applies `rule` to this exchange; `respond` produces the answer the request would have had. */
export async function applyConnectionFault(
  context: SimContext,
  cloud: SimCloud,
  rule: FaultRule,
  res: ServerResponse,
  respond: () => Promise<SimResponse>,
): Promise<void> {
  context.meter.record(cloud, `connection:${rule.kind}`, 'error');
  if (rule.kind === 'reset') return reset(res);
  if (rule.kind === 'stall') {
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    await Promise.race([new Promise((r) => setTimeout(r, rule.stallMs ?? 1000)), closed]);
    if (res.destroyed || res.writableEnded) return;
    if (rule.after === 'reset') return reset(res);
    const response = await respond();
    res.writeHead(response.status, response.headers ?? {});
    res.end(response.body ?? '');
    return;
  }
  // truncate: a full content-length, then half the bytes and a closed connection.
  const response = await respond();
  const body = Buffer.from(response.body ?? '');
  res.writeHead(response.status, { ...response.headers, 'content-length': String(body.length) });
  res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
}
