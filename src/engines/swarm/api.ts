import { createHash } from 'node:crypto';
import { Agent } from 'node:https';
import { createRequire } from 'node:module';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type Docker from 'dockerode';
import { EngineError } from '../../errors.js';
import { redact } from '../../redact.js';
import type { EngineClientTls, EngineEndpoint } from '../types.js';

/** Docker's remote API port with TLS. */
export const DOCKER_TLS_PORT = 2376;
const CALL_TIMEOUT_MS = 15_000;

// dockerode (with ssh2) costs hundreds of milliseconds to load: load it on the first engine call, not when the
// SDK is imported. It is CommonJS, so a lazy require keeps `get()` synchronous.
const requireLazily = createRequire(import.meta.url);
let DockerClass: typeof Docker | undefined;
const dockerode = (): typeof Docker => (DockerClass ??= requireLazily('dockerode') as typeof Docker);

/**
 * One dockerode client per node, always over mTLS on 2376 with the cluster's client certificate: never the
 * unix socket, never SSH. A node with a pinned certificate (`serverCertPem`, made on the node) is trusted only
 * with that certificate and checked against its name, whatever address the cloud gave it; without one (nodes
 * of older releases) the cluster CA signs the server certificate, which carries the node's IP.
 */
export class DockerClients {
  private readonly clients = new Map<string, Docker>();
  private readonly agents: Agent[] = [];
  constructor(private readonly tls: EngineClientTls) {}

  get(endpoint: EngineEndpoint, timeoutMs = CALL_TIMEOUT_MS): Docker {
    const pin = endpoint.serverCertPem;
    const key = `${endpoint.host}/${timeoutMs}/${pin ? `${endpoint.name}/${createHash('sha256').update(pin).digest('hex')}` : 'ca'}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new (dockerode())({
        host: endpoint.host,
        port: DOCKER_TLS_PORT,
        protocol: 'https',
        ca: pin ?? this.tls.caPem,
        // Its own agent: a pooled connection made under another name's check must never be reused here.
        ...(pin
          ? {
              checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(endpoint.name, cert),
              agent: this.agent(),
            }
          : {}),
        cert: this.tls.client.certPem,
        key: this.tls.client.keyPem,
        timeout: timeoutMs,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  private agent(): Agent {
    const agent = new Agent({ keepAlive: true });
    this.agents.push(agent);
    return agent;
  }

  clear(): void {
    this.clients.clear();
    for (const agent of this.agents.splice(0)) agent.destroy();
  }
}

interface DockerApiError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
  code?: string;
}

export function apiMessage(error: unknown): string {
  const e = error as DockerApiError;
  const text = e?.json?.message ?? e?.message ?? String(error);
  return redact(text.trim());
}

export function apiStatus(error: unknown): number | undefined {
  return (error as DockerApiError)?.statusCode;
}

/** Runs one engine API call and turns a failure into an EngineError naming the node and the action. */
export async function call<T>(endpoint: EngineEndpoint, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const status = apiStatus(error);
    throw new EngineError(
      `${action} failed on ${endpoint.name} (${endpoint.host}:${DOCKER_TLS_PORT}): ${apiMessage(error)}`,
      { node: endpoint.name, host: endpoint.host, action, ...(status ? { status } : {}) },
      error,
    );
  }
}
