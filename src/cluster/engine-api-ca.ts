import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { beginCaRotation, finishCaRotation, readCaRotation } from '../bootstrap/cluster-pki.js';
import type { CertificateBundle } from '../bootstrap/pki.js';
import { DOCKER_TLS_PORT } from '../engines/swarm/api.js';
import type { EngineDriver, EngineEndpoint } from '../engines/types.js';
import { EngineError } from '../errors.js';
import { pushTrust } from '../fabric/index.js';
import type { Instance } from '../providers/types.js';
import { pollUntil } from '../util/poll.js';
import type { ClusterContext } from './context.js';
import { findManager } from './nodes.js';

/**
 * In-place rotation of the CA the nodes' engine APIs trust clients from (the one in the state directory and in
 * user-data), over the SDK -> node channel:
 *
 * 1. `switching` (rotation.json): a new CA N, a client certificate C' from it and N cross-signed by the old CA O
 *    are made (next/). The SDK presents C' with the cross-signed N from now on: a node still trusting O accepts
 *    it through the cross-signature, a node trusting N directly; new nodes' user-data carries N.
 * 2. Node by node (workers first, the leader last, one at a time so services keep replicas and managers their
 *    quorum): volume `skypool-tls-ca` tells the node N; its fabric loop rewrites dockerd's CA file and restarts
 *    dockerd (TLS files are read only at start; live-restore is incompatible with swarm, so the node's
 *    containers restart and swarm reconciles). Done when the node refuses the old client certificate and
 *    accepts the new one; the restarted manager is unlocked, and the services are back to their replicas.
 * 3. `promoting`: N and C' replace O and the old client in the state directory; O's key is deleted.
 *
 * Interrupted, rotation.json says where it stood and the next `rotate-ca` resumes (nodes already moved are seen
 * to refuse the old certificate and are skipped). Nothing secret is pushed or printed: the volume holds N only.
 */

export interface EngineApiCaRotation {
  /** Nodes that trust only the new CA. */
  readonly nodes: number;
  /** Nodes whose dockerd was restarted by this call (the others had moved before an interruption). */
  readonly restarted: number;
  /** When the new CA expires (ISO 8601). */
  readonly validUntil: string;
  /** True when this call finished a rotation an earlier one began. */
  readonly resumed: boolean;
}

/** What a node's engine API makes of a client identity: a TLS handshake and GET /_ping. */
export type ClientVerdict = 'accepted' | 'refused' | 'unreachable';

/** Asks the node's engine API whether it accepts `client` (the server checked as the SDK checks it). */
export function probeEngineClient(
  endpoint: EngineEndpoint,
  client: CertificateBundle,
  serverCaPem: string,
  timeoutMs = 5_000,
): Promise<ClientVerdict> {
  return new Promise((resolve) => {
    const pin = endpoint.serverCertPem;
    let answer = '';
    const socket = connect({
      host: endpoint.host,
      port: DOCKER_TLS_PORT,
      ca: pin ?? serverCaPem,
      cert: client.certPem,
      key: client.keyPem,
      ...(pin
        ? {
            servername: endpoint.name,
            checkServerIdentity: (_h: string, c: PeerCertificate) => checkServerIdentity(endpoint.name, c),
          }
        : {}),
    });
    const done = (verdict: ClientVerdict) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    const timer = setTimeout(() => done('unreachable'), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (/^HTTP\/1\.[01] 200/.test(answer)) done('accepted');
    });
    // The server's refusal of the client certificate arrives as a TLS alert (after the handshake in TLS 1.3).
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done(
        /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE)/.test(error.code ?? '')
          ? 'refused'
          : 'unreachable',
      ),
    );
    socket.on('close', () => done('unreachable'));
  });
}

/** Workers first, then managers, the leader last: the control plane moves once, at the end. */
async function rotationOrder(
  ctx: ClusterContext,
  driver: EngineDriver,
  instances: readonly Instance[],
): Promise<Instance[]> {
  const manager = await findManager(ctx, instances);
  const leader = manager ? (await driver.listNodes(manager.endpoint)).find((n) => n.leader)?.name : undefined;
  const rank = (i: Instance) => (i.tags.role !== 'manager' ? 0 : i.name === leader ? 2 : 1);
  return [...instances].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** Waits until every service the engine runs has its replicas running again (after a node's restart). */
async function servicesSettled(
  ctx: ClusterContext,
  driver: EngineDriver,
  instances: readonly Instance[],
  signal?: AbortSignal,
) {
  if (!driver.services) return;
  const services = driver.services;
  await pollUntil(
    async () => {
      const manager = await findManager(ctx, instances, { waitMs: 3_000, ...(signal ? { signal } : {}) });
      if (!manager) return undefined;
      const all = await services.services(manager.endpoint);
      return all.every((s) => s.runningReplicas >= s.desiredReplicas) ? true : undefined;
    },
    {
      deadline: Date.now() + ctx.readyTimeoutMs,
      intervalMs: 250,
      what: 'every service to run all its replicas again',
      ...(signal ? { signal } : {}),
    },
  );
}

/** Moves one node to the new CA: returns whether its dockerd had to restart. */
async function moveNode(
  ctx: ClusterContext,
  driver: EngineDriver,
  instance: Instance,
  previous: CertificateBundle,
  signal?: AbortSignal,
): Promise<boolean> {
  const pki = await ctx.pki();
  const endpoint = ctx.endpoint(instance);
  const verdicts = async () =>
    Promise.all([
      probeEngineClient(endpoint, previous, pki.serverCaPem),
      probeEngineClient(endpoint, pki.client, pki.serverCaPem),
    ]);
  const moved = ([old, current]: ClientVerdict[]) => old === 'refused' && current === 'accepted';
  if (moved(await verdicts())) return false;
  const wait = { deadline: Date.now() + ctx.readyTimeoutMs, ...(signal ? { signal } : {}) };
  ctx.progress.message(`${instance.name}: its engine API moves to the new client CA (dockerd restarts)`);
  await pollUntil(() => pushTrust(driver.nodeChannel!(endpoint), pki.ca.certPem), {
    ...wait,
    what: `the new client CA to reach ${instance.name}`,
  });
  await pollUntil(async () => (moved(await verdicts()) ? true : undefined), {
    ...wait,
    intervalMs: 250,
    what: `${instance.name} to refuse the old client certificate and accept the new one`,
    hint: 'see /var/log/skypool/fabric.log on the node; run rotate-ca again to resume',
  });
  await driver.waitReady(endpoint, instance.tags.role === 'manager' ? 'manager' : 'worker', wait);
  return true;
}

/** Rotates (or resumes rotating) the engine API client CA of every running node; holds no lock itself. */
export async function rotateEngineApiCa(ctx: ClusterContext, signal?: AbortSignal): Promise<EngineApiCaRotation> {
  const driver = await ctx.driver();
  if (!driver.nodeChannel)
    throw new EngineError(
      `the ${ctx.spec.engine} engine has no SDK-to-node channel: its engine API CA cannot be rotated in place`,
      { engine: ctx.spec.engine },
    );
  const { stateDir } = ctx.options;
  const cluster = ctx.spec.name;
  const resumed = (await readCaRotation(stateDir, cluster)) !== undefined;
  const instances = (await ctx.inventory(signal)).filter((i) => i.state === 'running');
  if (!(await findManager(ctx, instances, signal ? { signal } : {})))
    throw new EngineError(`no manager of cluster ${cluster} answers: run \`skypool up\` first`, { cluster });
  await beginCaRotation(stateDir, cluster);
  await ctx.reloadPki();
  const pki = await ctx.pki();
  const previous = pki.rotating?.previous;
  if (!previous) throw new EngineError(`the CA rotation of ${cluster} lost its previous identity`, { cluster });
  const rotating = await ctx.driver();
  let restarted = 0;
  for (const instance of await rotationOrder(ctx, rotating, instances)) {
    if (await moveNode(ctx, rotating, instance, previous, signal)) {
      restarted += 1;
      await servicesSettled(ctx, rotating, instances, signal);
    }
  }
  await finishCaRotation(stateDir, cluster);
  await ctx.reloadPki();
  const validUntil = new Date(new X509Certificate((await ctx.pki()).ca.certPem).validTo).toISOString();
  ctx.progress.message(
    `the engine API client CA is new (valid until ${validUntil.slice(0, 10)}); ${instances.length} nodes trust only it`,
  );
  return { nodes: instances.length, restarted, validUntil, resumed };
}
