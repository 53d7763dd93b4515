import { createHmac, randomBytes } from 'node:crypto';
import type { SimContext, SimRequest, SimResponse } from '../core/types.js';
import type { ArmCall, ArmReply } from './call.js';
import { requireGroup } from './call.js';
import { badRequest, conflict, resourceNotFound } from './errors.js';

/**
 * Boot diagnostics: `virtualMachines/{vm}/retrieveBootDiagnosticsData` answers SAS URIs of the VM's serial log and
 * screenshot blobs, which the sim serves itself under `/bootdiagnostics/` (Azure serves them from a storage
 * account). The SAS is checked as a storage account would: the signature (HMAC-SHA256 with a key only this sim
 * holds) over the blob path, permission and expiry; an expired or altered URI is refused with 403.
 */

export const BLOB_PREFIX = '/bootdiagnostics/';
const SAS_VERSION = '2022-11-02';
const keys = new WeakMap<SimContext, Buffer>();

function keyOf(context: SimContext): Buffer {
  let key = keys.get(context);
  if (!key) keys.set(context, (key = randomBytes(32)));
  return key;
}

const sign = (context: SimContext, path: string, permissions: string, expiry: string): string =>
  createHmac('sha256', keyOf(context)).update(`${permissions}\n${expiry}\n${path}\n${SAS_VERSION}`).digest('base64');

function blobUri(call: ArmCall, path: string, expiry: string): string {
  const query = new URLSearchParams({
    sv: SAS_VERSION,
    se: expiry,
    sr: 'b',
    sp: 'r',
    sig: sign(call.context, path, 'r', expiry),
  });
  return `${call.request.origin}${path}?${query.toString()}`;
}

export function retrieveBootDiagnosticsData(call: ArmCall, name: string): ArmReply {
  const rg = requireGroup(call, false);
  const vm = rg.vms.get(name.toLowerCase());
  if (!vm || vm.deleteAt !== undefined) throw resourceNotFound('Microsoft.Compute/virtualMachines', name, rg.name);
  const raw = call.request.url.searchParams.get('sasUriExpirationTimeInMinutes');
  const minutes = raw === null ? 120 : Number(raw);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
    throw badRequest(
      'InvalidParameter',
      `The value of parameter sasUriExpirationTimeInMinutes is invalid: '${raw}'. It must be between 1 and 1440.`,
      'sasUriExpirationTimeInMinutes',
    );
  if (vm.failed && call.now >= vm.readyAt)
    throw conflict('OperationNotAllowed', `Boot diagnostics data of VM '${vm.name}' is not available: the VM failed.`);
  const expiry = new Date(Date.now() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const id = `/subscriptions/${call.sub}/resourceGroups/${rg.name}/providers/Microsoft.Compute/virtualMachines/${vm.name}`;
  const dir = `${BLOB_PREFIX}${Buffer.from(id, 'utf8').toString('base64url')}/`;
  return {
    status: 200,
    body: {
      consoleScreenshotBlobUri: blobUri(call, `${dir}${vm.name}.screenshot.bmp`, expiry),
      serialConsoleLogBlobUri: blobUri(call, `${dir}${vm.name}.serialconsole.log`, expiry),
    },
  };
}

const storageError = (status: number, code: string, message: string): SimResponse => ({
  status,
  headers: { 'content-type': 'application/xml', 'x-ms-error-code': code },
  body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
});

/** GET of a boot diagnostics blob by its SAS URI: the serial log is the backing VM's console (empty when virtual). */
export async function serveBlob(context: SimContext, request: SimRequest): Promise<SimResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return storageError(405, 'UnsupportedHttpVerb', "The resource doesn't support specified Http Verb.");
  const path = request.url.pathname;
  const q = request.url.searchParams;
  const expiry = q.get('se') ?? '';
  const sig = q.get('sig') ?? '';
  const expected = sign(context, path, q.get('sp') ?? '', expiry);
  if (q.get('sv') !== SAS_VERSION || q.get('sp') !== 'r' || sig !== expected)
    return storageError(
      403,
      'AuthenticationFailed',
      'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
    );
  if (!(Date.parse(expiry) > Date.now()))
    return storageError(403, 'AuthenticationFailed', 'Signed expiry time has to be after signed start time');
  const m = /^\/bootdiagnostics\/([A-Za-z0-9_-]+)\/[^/]+\.(serialconsole\.log|screenshot\.bmp)$/.exec(path);
  if (!m) return storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
  const id = Buffer.from(m[1]!, 'base64url').toString('utf8');
  const backing = context.settings.backing === 'local' ? context.backing : undefined;
  const text =
    m[2] === 'serialconsole.log' && backing?.console
      ? await backing.console({ cloud: 'azure', id }).catch(() => '')
      : '';
  const body = Buffer.from(text, 'utf8');
  return {
    status: 200,
    headers: {
      'content-type': m[2] === 'serialconsole.log' ? 'text/plain' : 'image/bmp',
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-version': SAS_VERSION,
    },
    body: request.method === 'HEAD' ? '' : body,
  };
}
