import type { SimResponse } from '../core/types.js';
import { knownZone, ZONE_NAMES } from './catalog.js';
import { alreadyExists, GceError, invalidField, required } from './errors.js';
import { compileFilter } from './filter.js';
import { JsonBuffer } from './json-buffer.js';
import { mutate } from './operations.js';
import { decodeToken, encodeToken, pageSize } from './paging.js';
import { link } from './refs.js';
import { type GceCall, type GceRuntime, ok } from './runtime.js';
import type { VmRec, ZoneVms } from './state.js';
import { int64, objectField, str, validName } from './validate.js';
import { createVms, instancePath, isGone, liveVm, purge, startVm, stopVm, vmStatus } from './vm-lifecycle.js';
import { parseProperties, withTemplate } from './vm-properties.js';
import { renderVm, vmGetter } from './vm-render.js';

/** instances insert / bulkInsert / get / list / aggregatedList / delete. */

export const MAX_BULK = 5000;

// ---- insert / bulkInsert -----------------------------------------------------------------------------------

export function insertInstance(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  return mutate(rt, call, () => {
    knownZone(zone);
    const own = objectField(call.body, 'resource');
    const b = withTemplate(rt, call.project, call.query.get('sourceInstanceTemplate') ?? undefined, own);
    const name = validName('resource.name', own.name);
    const zv = rt.state.zoneVms(call.project, zone);
    const existing = zv.byName.get(name);
    if (existing && !isGone(rt, existing)) throw alreadyExists(instancePath(call.project, zone, name));
    if (existing) purge(rt, zv, existing);
    const parsed = parseProperties(rt, call.project, zone, b, 'resource', true);
    const { vms, failure } = createVms(rt, parsed, [name]);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'insert',
      targetPath: instancePath(call.project, zone, name),
      targetId: vms[0]?.id ?? rt.newId(),
      durationMs: failure ? rt.bootMs / 2 : rt.bootMs,
      failure,
    };
  });
}

const PATTERN = /^([a-z][-a-z0-9]*?)(#+)([-a-z0-9]*)$/;

/** Names for `count` new instances: the perInstanceProperties keys first, then namePattern numbers. */
function bulkNames(
  rt: GceRuntime,
  project: string,
  zone: string,
  b: Record<string, unknown>,
): { names: string[]; minCount: number } {
  const per =
    b.perInstanceProperties === undefined || b.perInstanceProperties === null
      ? {}
      : objectField(b.perInstanceProperties, 'resource.perInstanceProperties');
  const fixed = Object.keys(per);
  fixed.forEach((n) => {
    validName(`resource.perInstanceProperties[${n}]`, n);
    const value = (per[n] ?? {}) as { name?: unknown };
    if (value.name !== undefined && value.name !== '' && value.name !== n)
      throw invalidField(`resource.perInstanceProperties[${n}].name`, value.name, 'Must match the map key.');
  });
  const count = int64('resource.count', b.count, fixed.length)!;
  if (count < 1) throw invalidField('resource.count', String(count), 'Must be greater than or equal to 1');
  if (count > MAX_BULK)
    throw invalidField('resource.count', String(count), `Must be less than or equal to ${MAX_BULK}`);
  if (fixed.length > count)
    throw invalidField(
      'resource.count',
      String(count),
      'Must be greater than or equal to the number of perInstanceProperties.',
    );
  const minCount = int64('resource.minCount', b.minCount, count)!;
  if (minCount < 1 || minCount > count)
    throw invalidField('resource.minCount', String(minCount), 'Must be between 1 and count.');

  const zv = rt.state.zoneVms(project, zone);
  for (const n of fixed) {
    const vm = zv.byName.get(n);
    if (vm && !isGone(rt, vm)) throw alreadyExists(instancePath(project, zone, n));
    if (vm) purge(rt, zv, vm);
  }
  const names = [...fixed];
  if (count > fixed.length) {
    const pattern = str(b.namePattern);
    if (!pattern)
      throw invalidField(
        'resource.namePattern',
        '',
        'Either namePattern or perInstanceProperties must name every instance.',
      );
    const m = PATTERN.exec(pattern);
    if (!m || pattern.length > 63 || m[2]!.length > 8)
      throw invalidField(
        'resource.namePattern',
        pattern,
        "Must be a valid instance name with one sequence of up to 8 '#' characters.",
      );
    const [, head, hashes, tail] = m as unknown as [string, string, string, string];
    const numbered = new RegExp(`^${head.replace(/-/g, '\\-')}(\\d{${hashes.length},})${tail.replace(/-/g, '\\-')}$`);
    let next = 0;
    for (const vm of zv.byName.values()) {
      const hit = numbered.exec(vm.name);
      if (hit) next = Math.max(next, Number(hit[1]));
    }
    const taken = new Set(fixed);
    while (names.length < count) {
      next++;
      const name = `${head}${String(next).padStart(hashes.length, '0')}${tail}`;
      if (String(next).length > hashes.length)
        throw invalidField('resource.namePattern', pattern, 'Not enough free names for the requested count.');
      if (!taken.has(name)) names.push(name);
    }
  }
  return { names, minCount };
}

export function bulkInsertInstances(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  return mutate(rt, call, () => {
    knownZone(zone);
    const b = objectField(call.body, 'resource');
    const own =
      b.instanceProperties === undefined ? {} : objectField(b.instanceProperties, 'resource.instanceProperties');
    const templateRef = str(b.sourceInstanceTemplate) || undefined;
    if (!templateRef && b.instanceProperties === undefined) throw required('resource.instanceProperties');
    const props = withTemplate(rt, call.project, templateRef, own);
    const { names, minCount } = bulkNames(rt, call.project, zone, b);
    const parsed = parseProperties(rt, call.project, zone, props, 'resource.instanceProperties', false);
    const { vms, failure } = createVms(rt, parsed, names, minCount);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'bulkInsert',
      targetPath: `projects/${call.project}/zones/${zone}`,
      targetId: rt.newId(),
      durationMs: failure ? rt.bootMs / 2 : rt.bootMs,
      failure,
      bulk: { target: names.length, created: vms.length, failed: names.length - vms.length },
    };
  });
}

// ---- get / list / delete -----------------------------------------------------------------------------------

export function getInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  const vm = liveVm(rt, call.project, zone, name);
  const out = new JsonBuffer();
  renderVm(rt, vm, vmStatus(rt, vm), out);
  return ok(out.build());
}

/**
 * Appends up to `size` matching VMs of a zone after `afterSeq` (comma-separated) and returns how many, plus
 * the seq to continue from when another matching VM exists (looked ahead, so the last page has no token).
 */
function zonePage(
  rt: GceRuntime,
  zv: ZoneVms | undefined,
  afterSeq: number,
  size: number,
  filter: string | null,
  out: JsonBuffer,
): { count: number; resume?: number } {
  if (!zv) return { count: 0 };
  const predicate = compileFilter(filter);
  const gone: VmRec[] = [];
  let count = 0;
  let resume: number | undefined;
  const order = zv.order;
  for (let i = zv.startAfter(afterSeq); i < order.length; i++) {
    const vm = order[i]!;
    if (!zv.isLive(vm)) continue;
    if (isGone(rt, vm)) {
      gone.push(vm);
      continue;
    }
    const status = vmStatus(rt, vm);
    if (predicate && !predicate(vmGetter(vm, status))) continue;
    if (count >= size) {
      resume = i > 0 ? order[i - 1]!.seq : afterSeq;
      break;
    }
    if (count > 0) out.text(',');
    renderVm(rt, vm, status, out);
    count++;
  }
  for (const vm of gone) purge(rt, zv, vm);
  // `resume` is the seq just before the look-ahead hit; every appended VM is at or before it.
  return resume === undefined ? { count } : { count, resume: Math.max(afterSeq, resume) };
}

export function listInstances(rt: GceRuntime, call: GceCall, zone: string): SimResponse {
  knownZone(zone);
  const size = pageSize(call.query);
  const after = decodeToken(call.query, 1)?.[0] ?? 0;
  const out = new JsonBuffer().text(
    `{"kind":"compute#instanceList","id":"projects/${call.project}/zones/${zone}/instances","items":[`,
  );
  const { resume } = zonePage(
    rt,
    rt.state.zones.get(`${call.project}/${zone}`),
    after,
    size,
    call.query.get('filter'),
    out,
  );
  out.text(
    `]${resume === undefined ? '' : `,"nextPageToken":"${encodeToken([resume])}"`},"selfLink":"${link(`projects/${call.project}/zones/${zone}/instances`)}"}`,
  );
  return ok(out.build());
}

/** `aggregated/instances`: every zone in catalog order; the page token holds the zone index and seq. */
export function aggregatedInstances(rt: GceRuntime, call: GceCall): SimResponse {
  const size = pageSize(call.query);
  const [startZone, startSeq] = decodeToken(call.query, 2) ?? [0, 0];
  const out = new JsonBuffer().text(
    `{"kind":"compute#instanceAggregatedList","id":"projects/${call.project}/aggregated/instances","items":{`,
  );
  let token: string | undefined;
  let total = 0;
  for (let z = 0; z < ZONE_NAMES.length; z++) {
    const scope = `zones/${ZONE_NAMES[z]!}`;
    if (z > 0) out.text(',');
    const items = new JsonBuffer();
    let count = 0;
    if (z >= startZone! && token === undefined) {
      const page = zonePage(
        rt,
        rt.state.zones.get(`${call.project}/${ZONE_NAMES[z]!}`),
        z === startZone ? startSeq! : 0,
        size - total,
        call.query.get('filter'),
        items,
      );
      count = page.count;
      total += count;
      if (page.resume !== undefined) token = encodeToken([z, page.resume]);
    }
    if (count) out.text(`"${scope}":{"instances":[`).bytes(items.build()).text(']}');
    else
      out.text(
        `"${scope}":{"warning":{"code":"NO_RESULTS_ON_PAGE","message":"There are no results for scope '${scope}' on this page.","data":[{"key":"scope","value":"${scope}"}]}}`,
      );
  }
  out.text(
    `}${token === undefined ? '' : `,"nextPageToken":"${token}"`},"selfLink":"${link(`projects/${call.project}/aggregated/instances`)}"}`,
  );
  return ok(out.build());
}

export function deleteInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    const vm = liveVm(rt, call.project, zone, name);
    const now = rt.now();
    if (vm.deletedAt === undefined) {
      vm.deletedAt = now;
      vm.goneAt = now + rt.bootMs / 2;
      if (rt.ctx.settings.backing === 'local' && rt.ctx.backing)
        vm.teardown = rt.ctx.backing.stop({ cloud: 'gcp', id: vm.id }).catch(() => undefined);
    }
    return {
      scope: 'zones',
      location: zone,
      operationType: 'delete',
      targetPath: instancePath(call.project, zone, name),
      targetId: vm.id,
      durationMs: vm.goneAt! - now,
    };
  });
}

/** `instances.stop`: a no-op on a stopped VM; a VM being deleted cannot stop. */
export function stopInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    const vm = liveVm(rt, call.project, zone, name);
    if (vm.deletedAt !== undefined) throw notReady(call.project, zone, name);
    stopVm(rt, vm);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'stop',
      targetPath: instancePath(call.project, zone, name),
      targetId: vm.id,
      durationMs: rt.shortMs,
    };
  });
}

/** `instances.start`: a no-op on a running VM; a VM still stopping (or being deleted) cannot start yet. */
export function startInstance(rt: GceRuntime, call: GceCall, zone: string, name: string): SimResponse {
  return mutate(rt, call, () => {
    const vm = liveVm(rt, call.project, zone, name);
    const status = vmStatus(rt, vm);
    if (vm.deletedAt !== undefined || status === 'STOPPING') throw notReady(call.project, zone, name);
    startVm(rt, vm);
    return {
      scope: 'zones',
      location: zone,
      operationType: 'start',
      targetPath: instancePath(call.project, zone, name),
      targetId: vm.id,
      durationMs: rt.bootMs,
    };
  });
}

const notReady = (project: string, zone: string, name: string) =>
  new GceError(400, 'resourceNotReady', `The resource '${instancePath(project, zone, name)}' is not ready`);

// ---- serial port -------------------------------------------------------------------------------------------

/** Compute Engine keeps the last 1 MiB of each serial port. */
const SERIAL_BUFFER = 1_048_576;

/**
 * `instances.getSerialPortOutput`: port 1 is the console (the local backing's boot log; nothing with the virtual
 * backing), ports 2-4 are empty. `start` is a byte offset into everything the port ever printed, `next` where the
 * following read resumes; a start older than the buffer is moved up to its oldest byte, as the real API does.
 */
export async function getSerialPortOutput(
  rt: GceRuntime,
  call: GceCall,
  zone: string,
  name: string,
): Promise<SimResponse> {
  const vm = liveVm(rt, call.project, zone, name);
  const port = int64('port', call.query.get('port'), 1)!;
  if (port < 1 || port > 4) throw invalidField('port', String(port), 'Must be between 1 and 4.');
  const backing = rt.ctx.settings.backing === 'local' ? rt.ctx.backing : undefined;
  const text = port === 1 && backing?.console ? await backing.console({ cloud: 'gcp', id: vm.id }).catch(() => '') : '';
  const bytes = Buffer.from(text, 'utf8');
  const oldest = Math.max(0, bytes.length - SERIAL_BUFFER);
  const asked = int64('start', call.query.get('start'), 0)!;
  const start = Math.min(bytes.length, asked < 0 ? Math.max(oldest, bytes.length + asked) : Math.max(oldest, asked));
  return ok({
    kind: 'compute#serialPortOutput',
    contents: bytes.subarray(start).toString('utf8'),
    start: String(start),
    next: String(bytes.length),
    selfLink: link(`${instancePath(call.project, zone, name)}/serialPort`),
  });
}
