import { createHash } from 'node:crypto';
import { run } from '../../../providers/local/exec.js';
import { CloudApiError, PrerequisiteError } from '../../errors.js';
import type { VmNetworkView } from '../core/types.js';
import { cidrArg, INTERNET, renderEdgeRules, UPLINK } from './edge-rules.js';

/**
 * cloudsim's realistic network (see README.md here): an "internet" router namespace holding the internet bridge,
 * the host on it through one veth (like an operator's laptop), and per cloud network an edge namespace that
 * routes its VMs, maps their public addresses 1:1 and enforces their cloud firewall.
 */

export { INTERNET };

/** Where the host, the internet router and the edges sit (the top /24 of INTERNET; no cloud allocates there). */
const TRANSIT = '198.19.255';
const HOST_IP = `${TRANSIT}.1`;
const ROUTER_IP = `${TRANSIT}.254`;
/** The host's fallback for INTERNET: whatever is not attached answers "unreachable" instead of the default route. */
const HOST_UNREACHABLE_METRIC = '4294967295';

const hex = (value: string): string => createHash('sha256').update(value).digest('hex');

interface Edge {
  readonly netns: string;
  readonly transitIp: string;
  readonly gateways: Set<string>;
  applied?: string;
}

const ipCmd = (netns: string, lines: readonly string[], force = false) =>
  run('ip', ['-n', netns, ...(force ? ['-force'] : []), '-batch', '-'], { input: `${lines.join('\n')}\n` });

/** Writes /proc/sys values inside a namespace (per-namespace sysctls: forwarding, proxy ARP). */
const sysctls = (netns: string, values: Record<string, string>) =>
  run('ip', [
    'netns',
    'exec',
    netns,
    'sh',
    '-c',
    Object.entries(values)
      .map(([key, value]) => `echo ${value} > /proc/sys/${key.replaceAll('.', '/')}`)
      .join(' && '),
  ]);

/** First usable address of an IPv4 subnet: the cloud's gateway (EC2 VPC router, GCE and Azure default gateway). */
export function gatewayOf(cidr: string): string {
  const [ip = '', bits = '32'] = cidr.split('/');
  const n = ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(bits));
  const g = Math.floor(n / size) * size + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(g / 2 ** s) % 256).join('.');
}

export class RealisticNetwork {
  private readonly router: string;
  private readonly hostVeth: string;
  private readonly edges = new Map<string, Edge>();
  /** Every edge namespace made, finished or not, for close(). */
  private readonly made: string[] = [];
  private readonly routes = new Map<string, string>();
  private hostRoutes = false;

  private constructor(readonly name: string) {
    this.router = `${name}-inet`;
    this.hostVeth = `spi${hex(name).slice(0, 12)}`;
  }

  /**
   * Builds the internet segment. Refuses when the host already routes part of 198.18.0.0/15 (another realistic
   * sim, or a host that uses the range): two would fight over it.
   */
  static async create(name: string): Promise<RealisticNetwork> {
    const routes = await run('ip', ['-4', '-o', 'route', 'show', 'table', 'all', 'root', INTERNET]);
    const taken = routes.stdout.split('\n').filter((l) => l.trim() !== '' && !/^(local|broadcast) /.test(l));
    if (taken.length > 0) {
      throw new PrerequisiteError(
        `the host already routes part of ${INTERNET} (${taken[0]!.trim()}): another cloudsim with network 'realistic' ` +
          'is running, or a leftover of one; stop it (or delete that route) and retry',
        { route: taken[0]!.trim() },
      );
    }
    const net = new RealisticNetwork(name);
    try {
      await net.build();
    } catch (error) {
      await net.close().catch(() => undefined);
      throw error;
    }
    return net;
  }

  private async build(): Promise<void> {
    // The fallback first, so that no moment exists in which a packet to the range follows the default route.
    await run('ip', ['route', 'add', 'unreachable', INTERNET, 'metric', HOST_UNREACHABLE_METRIC]);
    this.hostRoutes = true;
    await run('ip', ['netns', 'add', this.router]);
    await run('ip', ['link', 'add', this.hostVeth, 'type', 'veth', 'peer', 'name', 'host0', 'netns', this.router]);
    await ipCmd(this.router, [
      'link add br0 type bridge',
      'link set dev host0 master br0 up',
      `addr add ${ROUTER_IP}/24 dev br0`,
      'link set dev br0 up',
      'link set dev lo up',
      `route add unreachable ${INTERNET}`,
    ]);
    await sysctls(this.router, { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.all.send_redirects': '0' });
    await run('ip', ['-batch', '-'], {
      input: [
        `addr add ${HOST_IP}/24 dev ${this.hostVeth}`,
        `link set dev ${this.hostVeth} up`,
        `route add ${INTERNET} via ${ROUTER_IP} dev ${this.hostVeth}`,
        '',
      ].join('\n'),
    });
  }

  /** Address the host has on the internet segment (what a VM sees as the source of the host's packets). */
  get hostAddress(): string {
    return HOST_IP;
  }

  /**
   * The edge of a cloud network, made on first use, with `subnetCidr`'s gateway on it. Its filter starts
   * closed: nothing reaches a VM before its rules are applied.
   */
  async edge(network: string, subnetCidr: string): Promise<{ netns: string; gateway: string }> {
    let edge = this.edges.get(network);
    if (!edge) {
      const index = this.made.length + 1;
      if (index > 250) throw new CloudApiError('cloudsim realistic network: more than 250 cloud networks', { network });
      const made: Edge = {
        netns: `${this.name}-edge${index}`,
        transitIp: `${TRANSIT}.${index + 1}`,
        gateways: new Set(),
      };
      const veth = `spe${hex(`${this.name}/${index}`).slice(0, 12)}`;
      await run('ip', ['netns', 'add', made.netns]);
      this.made.push(made.netns);
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', made.netns]);
      await run('ip', ['link', 'set', 'dev', veth, 'netns', this.router]);
      await ipCmd(this.router, [`link set dev ${veth} master br0 up`]);
      await ipCmd(made.netns, [
        `addr add ${made.transitIp}/24 dev ${UPLINK}`,
        `link set dev ${UPLINK} up`,
        'link set dev lo up',
        `route add ${INTERNET} via ${ROUTER_IP} dev ${UPLINK}`,
      ]);
      // VM veths arrive after this and inherit proxy ARP: the edge answers for the gateway and for neighbours.
      await sysctls(made.netns, { 'net.ipv4.ip_forward': '1', 'net.ipv4.conf.default.proxy_arp': '1' });
      await this.applyRules(made, []);
      // Only a finished edge is seen by sync(), which may run meanwhile.
      this.edges.set(network, made);
      edge = made;
    }
    const gateway = gatewayOf(subnetCidr);
    if (!edge.gateways.has(gateway)) {
      await ipCmd(edge.netns, [`addr replace ${gateway}/32 dev lo`]);
      edge.gateways.add(gateway);
    }
    return { netns: edge.netns, gateway };
  }

  private async applyRules(edge: Edge, vms: readonly VmNetworkView[]): Promise<void> {
    const text = renderEdgeRules(vms);
    if (text === edge.applied) return;
    await run('ip', ['netns', 'exec', edge.netns, 'iptables-restore', '-w', '5'], { input: text });
    edge.applied = text;
  }

  /** Brings NAT, filters and the internet router's routes in line with what the clouds say. */
  async sync(views: readonly VmNetworkView[]): Promise<void> {
    const byNetwork = new Map<string, VmNetworkView[]>();
    for (const view of views) {
      if (!this.edges.has(view.network)) continue;
      const list = byNetwork.get(view.network) ?? [];
      list.push(view);
      byNetwork.set(view.network, list);
    }
    const wanted = new Map<string, string>();
    for (const [network, edge] of this.edges) {
      const vms = byNetwork.get(network) ?? [];
      await this.applyRules(edge, vms);
      for (const vm of vms) {
        const pub = vm.publicIp === undefined ? undefined : cidrArg(vm.publicIp);
        if (pub) wanted.set(pub, edge.transitIp);
      }
    }
    const lines: string[] = [];
    for (const [pub, via] of wanted) if (this.routes.get(pub) !== via) lines.push(`route replace ${pub} via ${via}`);
    for (const pub of this.routes.keys()) if (!wanted.has(pub)) lines.push(`route del ${pub}`);
    if (lines.length === 0) return;
    await ipCmd(this.router, lines, true);
    this.routes.clear();
    for (const [pub, via] of wanted) this.routes.set(pub, via);
  }

  /** Removes the host's veth (and with it its routes), the edges, the router, then the host's fallback route. */
  async close(): Promise<void> {
    const errors: string[] = [];
    const del = async (args: string[]) => {
      const r = await run('ip', args, { allowFailure: true });
      if (r.code !== 0 && !/No such|Cannot find|not exist|No such process/i.test(r.stderr))
        errors.push(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
    };
    // The host's veth first: deleting one end removes both at once, while a namespace goes away asynchronously.
    await del(['link', 'del', 'dev', this.hostVeth]);
    for (const netns of this.made) await del(['netns', 'del', netns]);
    this.made.length = 0;
    this.edges.clear();
    await del(['netns', 'del', this.router]);
    if (this.hostRoutes) await del(['route', 'del', 'unreachable', INTERNET, 'metric', HOST_UNREACHABLE_METRIC]);
    this.hostRoutes = false;
    this.routes.clear();
    if (errors.length > 0)
      throw new CloudApiError(`cloudsim realistic network: teardown left something: ${errors.join('; ')}`, {
        errors,
      });
  }
}
