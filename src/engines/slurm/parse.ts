import type { EngineNode, EngineNodeState, JobState, JobStatus, NodeAvailability } from '../types.js';

/**
 * Parsers of Slurm's one-line-per-record output (`scontrol -o show node|job`): `Key=Value` pairs separated by
 * spaces. Values with spaces (Reason=...) only occur in fields skypool does not read, and a pair's value runs
 * up to the next ` Key=`.
 */
export function parseRecord(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(?:^|\s)([A-Za-z][\w:]*)=/g;
  const keys: Array<{ key: string; start: number; valueStart: number }> = [];
  for (let m = re.exec(line); m; m = re.exec(line)) {
    keys.push({ key: m[1]!, start: m.index, valueStart: m.index + m[0].length });
  }
  keys.forEach((k, i) => {
    const end = i + 1 < keys.length ? keys[i + 1]!.start : line.length;
    out[k.key] = line.slice(k.valueStart, end).trim();
  });
  return out;
}

export function parseRecords(text: string): Array<Record<string, string>> {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map(parseRecord);
}

/** Labels travel as node features `key:value` (Slurm features are plain words, no `=`). */
export function labelsToFeatures(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels)
    .map(([k, v]) => `${k}:${v}`.replace(/[^\w:.-]/g, '_'))
    .sort();
}

export function featuresToLabels(features: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of (features ?? '').split(',')) {
    if (!f || f === '(null)') continue;
    const at = f.indexOf(':');
    if (at > 0) out[f.slice(0, at)] = f.slice(at + 1);
  }
  return out;
}

/**
 * Slurm's node state (`IDLE+DYNAMIC_NORM`, `ALLOCATED+DRAIN`, `DOWN*`...) as skypool's state, availability and
 * sinfo's short word (idle, alloc, mix, drng, drain, down...).
 */
export function nodeState(raw: string): { state: EngineNodeState; availability: NodeAvailability; word: string } {
  const parts = raw.split('+');
  const base = (parts[0] ?? '').replace(/[*~#!%$@^-]+$/, '');
  const flags = new Set(parts.slice(1));
  const notResponding = raw.includes('*') || flags.has('NOT_RESPONDING');
  const drain = flags.has('DRAIN');
  // `IDLE+COMPLETING+DRAIN`: its last job is still being cleaned up there (sinfo says drng).
  const busy = base === 'ALLOCATED' || base === 'MIXED' || base === 'COMPLETING' || flags.has('COMPLETING');
  let state: EngineNodeState;
  if (base === 'DOWN' || notResponding) state = 'down';
  else if (base === 'IDLE' || busy) state = 'ready';
  else state = 'unknown';
  const short: Record<string, string> = {
    IDLE: 'idle',
    ALLOCATED: 'alloc',
    MIXED: 'mix',
    COMPLETING: 'comp',
    DOWN: 'down',
    FUTURE: 'future',
  };
  let word = short[base] ?? base.toLowerCase();
  if (drain) word = busy ? 'draining' : 'drained';
  if (notResponding) word = `${word}*`;
  return { state, availability: drain ? 'drain' : 'active', word };
}

export function toEngineNode(record: Record<string, string>): EngineNode {
  const name = record.NodeName ?? '';
  const { state, availability, word } = nodeState(record.State ?? 'UNKNOWN');
  const address = record.NodeAddr && record.NodeAddr !== name ? record.NodeAddr : undefined;
  return {
    id: name,
    name,
    ...(address ? { address } : {}),
    role: 'worker',
    state,
    availability,
    leader: false,
    labels: featuresToLabels(record.ActiveFeatures),
    engineState: word,
  };
}

/** `scontrol ping`: the controllers and whether they answer ("Slurmctld(primary) at NAME is UP"). */
export function parsePing(text: string): Array<{ name: string; up: boolean }> {
  return [...text.matchAll(/Slurmctld\((\w+)\) at (\S+) is (UP|DOWN)/g)].map((m) => ({
    name: m[2]!,
    up: m[3] === 'UP',
  }));
}

const JOB_STATES: Record<string, JobState> = {
  PENDING: 'pending',
  CONFIGURING: 'pending',
  RUNNING: 'running',
  SUSPENDED: 'running',
  COMPLETING: 'completing',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TIMEOUT: 'timeout',
  NODE_FAIL: 'node-fail',
  PREEMPTED: 'requeued',
  REQUEUED: 'requeued',
  REQUEUE_HOLD: 'requeued',
  REQUEUE_FED: 'requeued',
  BOOT_FAIL: 'failed',
  DEADLINE: 'timeout',
  OUT_OF_MEMORY: 'failed',
};

/** Expands a Slurm hostlist (`a-w-[1-3,5],b`) into names. */
export function expandHostlist(list: string | undefined): string[] {
  if (!list || list === '(null)' || list === 'None assigned') return [];
  const out: string[] = [];
  // Split on commas outside brackets.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '[') depth += 1;
    if (ch === ']') depth -= 1;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (current) parts.push(current);
  for (const part of parts) {
    const m = /^(.*)\[([^\]]+)\](.*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    for (const range of m[2]!.split(',')) {
      const [lo, hi] = range.split('-');
      if (hi === undefined) {
        out.push(`${m[1]}${lo}${m[3]}`);
        continue;
      }
      for (let n = Number(lo); n <= Number(hi); n += 1) {
        out.push(`${m[1]}${String(n).padStart(lo!.length, '0')}${m[3]}`);
      }
    }
  }
  return out;
}

export function toJobStatus(record: Record<string, string>): JobStatus {
  const raw = (record.JobState ?? 'UNKNOWN').split(/\s/)[0]!;
  const exit = /^(\d+):(\d+)$/.exec(record.ExitCode ?? '');
  return {
    kind: 'job',
    id: record.JobId ?? '',
    name: record.JobName ?? '',
    state: JOB_STATES[raw] ?? 'unknown',
    engineState: raw,
    nodes: expandHostlist(record.NodeList),
    ...(record.BatchHost && record.BatchHost !== '(null)' ? { batchHost: record.BatchHost } : {}),
    ...(exit ? { exitCode: Number(exit[1]) || (Number(exit[2]) ? 128 + Number(exit[2]) : 0) } : {}),
  };
}
