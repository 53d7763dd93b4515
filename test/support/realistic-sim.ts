import { execFileSync } from 'node:child_process';
import { type CloudSim, type CloudSimOptions, startCloudSim } from '../../src/cloudsim/index.js';
import { takeRealisticNetworkTurn } from './realistic-network-lock.js';
import { routerNetns } from './sim-network.js';

/** A cloudsim on its realistic network with local backing, started in this suite's turn (the host has one 198.18.0.0/15). */
export interface RealisticSim {
  readonly sim: CloudSim;
  /** The prefix of every namespace of this sim (its router, edges and VMs). */
  readonly simName: string;
  /** Stops the sim, ends the turn and returns this sim's namespaces still on the host (none, when all went well). */
  stop(): Promise<string[]>;
}

const namespaces = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);

/** Waits for the realistic network's turn, then starts the sim; the turn ends with `stop()` or a failed start. */
export async function startRealisticSim(
  options: Omit<CloudSimOptions, 'backing' | 'network'> = {},
): Promise<RealisticSim> {
  const release = await takeRealisticNetworkTurn();
  let sim: CloudSim;
  try {
    sim = await startCloudSim({ bootTimeMs: 50, ...options, backing: 'local', network: 'realistic' });
  } catch (error) {
    await release();
    throw error;
  }
  const simName = routerNetns().replace(/-inet$/, '');
  return {
    sim,
    simName,
    async stop() {
      try {
        await sim.stop();
      } finally {
        await release();
      }
      // Only this sim's namespaces: other suites' sims come and go meanwhile.
      return namespaces().filter((n) => n.includes(simName));
    },
  };
}
