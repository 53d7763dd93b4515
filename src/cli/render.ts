import type {
  ApplyResult,
  ClusterStatus,
  DestroyResult,
  JobStatus,
  ProgressEvent,
  WorkloadStatus,
} from '../cluster/index.js';
import { table } from './output.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** One line per progress event, for plain (non-TTY) output and the live view's bottom bar. */
export function describeEvent(event: ProgressEvent): string {
  switch (event.type) {
    case 'phase-start':
      return `${event.phase} …`;
    case 'phase-end':
      return `${event.phase} ${event.ok ? 'done' : 'FAILED'} in ${seconds(event.ms)}${event.error ? `: ${event.error}` : ''}`;
    case 'node':
      return `node ${event.node}: ${event.state}${event.detail ? ` (${event.detail})` : ''}`;
    case 'message':
      return `${event.level === 'warn' ? 'warning: ' : ''}${event.message}`;
    case 'queue': {
      const q = event.event;
      switch (q.type) {
        case 'launch-start':
          return `launching ${q.nodes.join(', ')} on ${q.provider}${q.zone ? ` in ${q.zone}` : ''}`;
        case 'launch-done':
          return `launched ${q.nodes.join(', ')} in ${seconds(q.ms)}`;
        case 'retry':
          return `retrying ${q.provider} call for pool ${q.pool} (attempt ${q.attempt}, ${q.code})`;
        case 'failover':
          return `no capacity for pool ${q.pool}${q.fromZone ? ` in ${q.fromZone}` : ''}; trying ${q.toZone}`;
        case 'terminate':
          return `terminating ${q.ids.length} VM(s) on ${q.provider}`;
      }
    }
  }
}

export function renderApply(r: ApplyResult): string {
  if (!r.changed) return `cluster ${r.cluster}: no changes (${r.unchanged.length} nodes match the spec)`;
  const lines = [`cluster ${r.cluster} applied in ${seconds(r.durationMs)}`];
  if (r.created.length) lines.push(`  created:   ${r.created.join(', ')}`);
  if (r.recreated.length) lines.push(`  recreated: ${r.recreated.join(', ')}`);
  if (r.deleted.length) lines.push(`  deleted:   ${r.deleted.join(', ')}`);
  for (const d of r.drains)
    lines.push(
      `  drained ${d.node}: ${d.movedTasks} task(s) moved in ${seconds(d.durationMs)}${d.requeued ? `, ${d.requeued} requeued` : ''}`,
    );
  lines.push(`  phases:    ${r.phases.map((p) => `${p.phase} ${seconds(p.ms)}`).join(', ')}`);
  return lines.join('\n');
}

export function renderWorkload(w: WorkloadStatus): string {
  const header = `service ${w.name} (${w.image}): ${w.runningReplicas}/${w.desiredReplicas} running, ${w.publishMode} publishing, ${w.endpointMode} endpoints`;
  const rows = [
    ['TASK', 'NODE', 'STATE', 'ANSWERS ON'],
    ...w.tasks.map((t) => [
      String(t.slot ?? t.id.slice(0, 12)),
      t.node ?? '-',
      t.state,
      t.address && t.hostPort ? `${t.address}:${t.hostPort}` : '-',
    ]),
  ];
  return `${header}\n${table(rows)}`;
}

export function renderJob(j: JobStatus): string {
  const exit = j.exitCode === undefined ? '' : `, exit ${j.exitCode}`;
  const nodes = j.nodes.length ? ` on ${j.nodes.join(', ')}` : '';
  const head = `job ${j.id} (${j.name}): ${j.engineState}${exit}${nodes}`;
  return j.output === undefined ? head : `${head}\n${j.output.trimEnd()}`;
}

export function renderStatus(s: ClusterStatus): string {
  const nodes = table([
    ['NODE', 'POOL', 'PROVIDER', 'VM', 'ADDRESS', 'ENGINE', 'AVAILABILITY', 'ROLE'],
    ...s.nodes.map((n) => [
      n.name,
      n.pool ?? '-',
      n.provider ?? '-',
      n.instanceState,
      n.privateIp ?? '-',
      n.engine ? `${n.engine.state}${n.engine.engineState ? ` (${n.engine.engineState})` : ''}` : 'not joined',
      n.engine?.availability ?? '-',
      n.engine ? `${n.engine.role}${n.engine.leader ? ' (leader)' : ''}` : (n.role ?? '-'),
    ]),
  ]);
  const parts = [`cluster ${s.cluster} (${s.engine}), ${s.nodes.length} node(s)`, nodes];
  for (const w of s.workloads) parts.push('', renderWorkload(w));
  if (s.jobs?.length) {
    const rows = [
      ['JOB', 'NAME', 'STATE', 'EXIT', 'NODES'],
      ...s.jobs.map((j) => [
        j.id,
        j.name,
        j.engineState,
        j.exitCode === undefined ? '-' : String(j.exitCode),
        j.nodes.join(',') || '-',
      ]),
    ];
    parts.push('', table(rows));
  }
  if (s.notes.length) parts.push('', ...s.notes.map((n) => `note: ${n}`));
  return parts.join('\n');
}

export function renderDestroy(r: DestroyResult): string {
  return `cluster ${r.cluster} destroyed in ${seconds(r.durationMs)}: ${r.terminated.length} VM(s) terminated${r.networksDeleted.length ? `, networks deleted on ${r.networksDeleted.join(', ')}` : ''}${r.stateRemoved ? ', local state removed' : ''}`;
}
