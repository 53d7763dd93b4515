/** `status --output mermaid|dot`: the pure renderer over a status object, and the CLI flag on a cluster that does not exist. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderStatusGraph } from '../src/cluster/graph.js';
import type { ClusterStatus, NodeStatus } from '../src/cluster/types.js';

const engine = (role: 'manager' | 'worker', leader = false) => ({
  id: 'x',
  state: 'ready' as const,
  availability: 'active' as const,
  role,
  leader,
  labels: {},
});
const node = (name: string, provider: NodeStatus['provider'], pool: string, e?: NodeStatus['engine']): NodeStatus => ({
  name,
  pool,
  provider,
  role: e?.role ?? 'worker',
  instanceState: 'running',
  ...(e ? { engine: e } : {}),
});

const status: ClusterStatus = {
  cluster: 'demo',
  engine: 'swarm',
  nodes: [
    node('demo-mgr-1', 'aws', 'mgr', engine('manager', true)),
    node('demo-gw-1', 'gcp', 'gw', engine('worker')),
    node('demo-gw-2', 'gcp', 'gw', engine('worker')),
    node('demo-lab-1', 'local', 'lab'),
  ],
  workloads: [
    {
      name: 'web',
      image: 'skypool/httpd:1',
      desiredReplicas: 3,
      runningReplicas: 3,
      endpointMode: 'dnsrr',
      publishMode: 'host',
      tasks: [
        { id: 't1', node: 'demo-gw-1', state: 'running', desiredState: 'running' },
        { id: 't2', node: 'demo-gw-1', state: 'running', desiredState: 'running' },
        { id: 't3', node: 'demo-mgr-1', state: 'running', desiredState: 'running' },
        { id: 't4', node: 'demo-gw-2', state: 'shutdown', desiredState: 'shutdown' },
      ],
    },
  ],
  notes: [],
} as unknown as ClusterStatus;
const pools = [{ name: 'mgr', region: 'us-east-1' }, { name: 'gw', region: 'europe-west4' }, { name: 'lab' }];

describe('status graph', () => {
  it('mermaid: clouds and regions as subgraphs, nodes with role and state, replicas per node', () => {
    const text = renderStatusGraph(status, 'mermaid', pools);
    expect(text.split('\n')[0]).toBe('flowchart LR');
    expect(text).toContain('subgraph cloud_aws["aws"]');
    expect(text).toContain('subgraph region_aws_us_east_1["us-east-1"]');
    expect(text).toContain('subgraph region_gcp_europe_west4["europe-west4"]');
    expect(text).toContain('subgraph region_local_this_host["this host"]');
    expect(text).toContain('node_demo_mgr_1["demo-mgr-1\\nleader · running, ready"]');
    expect(text).toContain('node_demo_lab_1["demo-lab-1\\nworker · running"]');
    expect(text).toContain('svc_web(["web\\n3/3 replicas"])');
    expect(text).toContain('svc_web -->|2| node_demo_gw_1');
    expect(text).toContain('svc_web -->|1| node_demo_mgr_1');
    expect(text).not.toContain('node_demo_gw_2 -->');
    expect(text).not.toContain('-->|1| node_demo_gw_2');
    // Balanced subgraph/end pairs.
    expect((text.match(/subgraph /g) ?? []).length).toBe((text.match(/^\s*end$/gm) ?? []).length);
  });

  it('dot: nested cluster_ subgraphs and labelled edges', () => {
    const text = renderStatusGraph(status, 'dot', pools);
    expect(text.startsWith('digraph "demo" {')).toBe(true);
    expect(text).toContain('subgraph cluster_cloud_gcp {');
    expect(text).toContain('label="europe-west4";');
    expect(text).toContain('svc_web -> node_demo_gw_1 [label="2"];');
    expect((text.match(/{/g) ?? []).length).toBe((text.match(/}/g) ?? []).length);
  });

  it('CLI accepts --output mermaid for a cluster that does not exist and draws no nodes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skypool-graph-'));
    try {
      const spec = join(dir, 'spec.yaml');
      writeFileSync(
        spec,
        'name: graphnone\nengine: swarm\npools:\n  - { name: m, provider: local, count: 1, role: manager }\n',
      );
      const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'status', '-f', spec, '--output', 'mermaid'], {
        encoding: 'utf8',
        env: { ...process.env, SKYPOOL_STATE_DIR: join(dir, 'state') },
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('flowchart LR\n  %% cluster graphnone has no nodes\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
