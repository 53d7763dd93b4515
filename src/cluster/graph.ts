import type { NodePoolSpec } from '../spec/schema.js';
import type { ClusterStatus, NodeStatus } from './types.js';

/** Diagram languages `skypool status --output` draws. */
export type GraphFormat = 'mermaid' | 'dot';

interface Group {
  readonly cloud: string;
  readonly region: string;
  readonly nodes: NodeStatus[];
}

/** Safe identifier for both languages (node names are DNS labels; services may hold other characters). */
const id = (prefix: string, name: string): string => `${prefix}_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
const quote = (text: string): string => text.replace(/"/g, "'");

function nodeLabel(node: NodeStatus): string {
  const role = node.engine?.leader ? 'leader' : (node.engine?.role ?? node.role ?? '?');
  const state = node.engine ? `${node.instanceState}, ${node.engine.state}` : node.instanceState;
  return `${node.name}\\n${role} · ${state}`;
}

/** Nodes grouped by cloud, then region (from the pool spec; the local provider has none). */
function groups(status: ClusterStatus, pools: readonly Pick<NodePoolSpec, 'name' | 'region'>[]): Group[] {
  const regionOf = new Map(pools.map((p) => [p.name, p.region]));
  const out = new Map<string, Group>();
  for (const node of status.nodes) {
    const cloud = node.provider ?? 'unknown';
    const region = (node.pool && regionOf.get(node.pool)) ?? (cloud === 'local' ? 'this host' : 'unknown region');
    const key = `${cloud}/${region}`;
    let group = out.get(key);
    if (!group) {
      group = { cloud, region, nodes: [] };
      out.set(key, group);
    }
    group.nodes.push(node);
  }
  return [...out.values()].sort((a, b) => `${a.cloud}/${a.region}`.localeCompare(`${b.cloud}/${b.region}`));
}

/** Service → node edges: one per node that runs at least one replica, labelled with how many. */
function placements(status: ClusterStatus): { service: string; node: string; replicas: number }[] {
  const edges: { service: string; node: string; replicas: number }[] = [];
  for (const w of status.workloads) {
    const perNode = new Map<string, number>();
    for (const t of w.tasks) if (t.node && t.state === 'running') perNode.set(t.node, (perNode.get(t.node) ?? 0) + 1);
    for (const [node, replicas] of [...perNode].sort(([a], [b]) => a.localeCompare(b)))
      edges.push({ service: w.name, node, replicas });
  }
  return edges;
}

function mermaid(status: ClusterStatus, pools: readonly Pick<NodePoolSpec, 'name' | 'region'>[]): string {
  const lines = ['flowchart LR'];
  if (status.nodes.length === 0) lines.push(`  %% cluster ${status.cluster} has no nodes`);
  const byCloud = new Map<string, Group[]>();
  for (const g of groups(status, pools)) byCloud.set(g.cloud, [...(byCloud.get(g.cloud) ?? []), g]);
  for (const [cloud, regions] of byCloud) {
    lines.push(`  subgraph ${id('cloud', cloud)}["${cloud}"]`);
    for (const g of regions) {
      lines.push(`    subgraph ${id('region', `${cloud}_${g.region}`)}["${quote(g.region)}"]`);
      for (const n of g.nodes) lines.push(`      ${id('node', n.name)}["${quote(nodeLabel(n))}"]`);
      lines.push('    end');
    }
    lines.push('  end');
  }
  for (const w of status.workloads)
    lines.push(
      `  ${id('svc', w.name)}(["${quote(`${w.name}\\n${w.runningReplicas}/${w.desiredReplicas} replicas`)}"])`,
    );
  for (const e of placements(status)) lines.push(`  ${id('svc', e.service)} -->|${e.replicas}| ${id('node', e.node)}`);
  return lines.join('\n');
}

function dot(status: ClusterStatus, pools: readonly Pick<NodePoolSpec, 'name' | 'region'>[]): string {
  const lines = [`digraph "${quote(status.cluster)}" {`, '  rankdir=LR;', '  node [shape=box];'];
  if (status.nodes.length === 0) lines.push(`  // cluster ${status.cluster} has no nodes`);
  const byCloud = new Map<string, Group[]>();
  for (const g of groups(status, pools)) byCloud.set(g.cloud, [...(byCloud.get(g.cloud) ?? []), g]);
  for (const [cloud, regions] of byCloud) {
    lines.push(`  subgraph cluster_${id('cloud', cloud)} {`, `    label="${cloud}";`);
    for (const g of regions) {
      lines.push(`    subgraph cluster_${id('region', `${cloud}_${g.region}`)} {`, `      label="${quote(g.region)}";`);
      for (const n of g.nodes) lines.push(`      ${id('node', n.name)} [label="${quote(nodeLabel(n))}"];`);
      lines.push('    }');
    }
    lines.push('  }');
  }
  for (const w of status.workloads)
    lines.push(
      `  ${id('svc', w.name)} [shape=ellipse, label="${quote(`${w.name}\\n${w.runningReplicas}/${w.desiredReplicas} replicas`)}"];`,
    );
  for (const e of placements(status))
    lines.push(`  ${id('svc', e.service)} -> ${id('node', e.node)} [label="${e.replicas}"];`);
  lines.push('}');
  return lines.join('\n');
}

/**
 * Draws the pool as a diagram: clouds and their regions as nested groups, each node with its role and state, and
 * an edge from each service to every node running its replicas (labelled with how many). Pure.
 * `pools` (the spec's) gives each node's region.
 */
export function renderStatusGraph(
  status: ClusterStatus,
  format: GraphFormat,
  pools: readonly Pick<NodePoolSpec, 'name' | 'region'>[] = [],
): string {
  return format === 'mermaid' ? mermaid(status, pools) : dot(status, pools);
}
