import { X509Certificate } from 'node:crypto';
import { CA_VALID_DAYS, createCertificateAuthority } from '../bootstrap/pki.js';
import { EngineError } from '../errors.js';
import type { ClusterContext } from './context.js';
import type { EngineApiCaRotation } from './engine-api-ca.js';
import { findManager, type ManagerRef } from './nodes.js';

export interface RotateCaResult {
  readonly cluster: string;
  /** Nodes holding a certificate from the new CA. */
  readonly nodes: number;
  /** When the new CA expires (ISO 8601). */
  readonly validUntil: string;
  readonly durationMs: number;
  /** The engine API client CA's rotation (engines with an SDK -> node channel), done before the engine's own. */
  readonly engineApi?: EngineApiCaRotation;
}

/**
 * Gives the engine a new root CA, valid `CA_VALID_DAYS` (under ten years), and waits until every node's
 * certificate comes from it. Swarm re-issues the node certificates in place over its own mTLS: no node
 * restarts, no workload moves. The CA key goes to the swarm only (autolocked Raft store), never to disk here.
 */
export async function rotateEngineCa(
  ctx: ClusterContext,
  signal?: AbortSignal,
  found?: ManagerRef,
): Promise<RotateCaResult> {
  const started = performance.now();
  const driver = await ctx.driver();
  if (!driver.rotateCa)
    throw new EngineError(`the ${ctx.spec.engine} engine has no CA rotation`, { engine: ctx.spec.engine });
  const manager = found ?? (await findManager(ctx, await ctx.inventory(signal), signal ? { signal } : {}));
  if (!manager)
    throw new EngineError(`no manager of cluster ${ctx.spec.name} answers: run \`skypool up\` first`, {
      cluster: ctx.spec.name,
    });
  const ca = await createCertificateAuthority(`skypool ${ctx.spec.name} swarm CA`, CA_VALID_DAYS);
  const { nodes } = await driver.rotateCa(manager.endpoint, ca, {
    deadline: Date.now() + ctx.readyTimeoutMs,
    ...(signal ? { signal } : {}),
  });
  const validUntil = new Date(Date.now() + CA_VALID_DAYS * 86_400_000).toISOString();
  ctx.progress.message(`the swarm CA is new (valid until ${validUntil.slice(0, 10)}); ${nodes} nodes re-certified`);
  return { cluster: ctx.spec.name, nodes, validUntil, durationMs: Math.round(performance.now() - started) };
}

const TEN_YEARS_MS = 10 * 365.25 * 86_400_000;
const outlivesTenYears = (pem: string): boolean =>
  Date.parse(new X509Certificate(pem).validTo) - Date.now() >= TEN_YEARS_MS;

/**
 * Swarm makes its own root CA valid for 20 years; after an apply, a CA that outlives ten years is replaced by a
 * skypool one (`CA_VALID_DAYS`), so every cluster CA is short-lived from its first apply on.
 *
 * Why after the apply and not at `swarm init`: swarm always creates its own root when a swarm is created, and
 * dockerd applies an init request's CAConfig as an update afterwards, i.e. as this same rotation (~3 s whatever
 * the node count, measured). Started as soon as the first manager answers it gains nothing either: join tokens
 * carry the root CA's digest, so joiners must wait for the rotation's end.
 */
export async function shortenEngineCa(ctx: ClusterContext, signal?: AbortSignal): Promise<void> {
  const driver = await ctx.driver();
  if (!driver.caCertificate || !driver.rotateCa) return;
  const manager = await findManager(ctx, await ctx.inventory(signal), signal ? { signal } : {});
  if (!manager) return;
  const pem = await driver.caCertificate(manager.endpoint);
  if (!pem || !outlivesTenYears(pem)) return;
  await rotateEngineCa(ctx, signal, manager);
}
