import { SkypoolError, SpecError } from '../errors.js';
import type { EngineName, ProviderName } from '../spec/schema.js';
import type { EngineFactory, EngineSettings, HostRequirements, WorkloadKind } from './types.js';

/** What an engine folder (src/engines/<name>/index.ts) exports. */
export interface EngineModule {
  readonly requirements: HostRequirements;
  /** The workload kinds `Cluster.run()` accepts for this engine. */
  readonly workloadKinds: readonly WorkloadKind[];
  readonly createEngine: EngineFactory;
  /** Facts the user should know about this engine here (status notes); needs no PKI and no VM. */
  readonly notes?: (settings: Pick<EngineSettings, 'providers' | 'routingMesh'>) => string[];
  /** Nodes print their identity on the console and join through the fabric (see EngineDriver.nodeIdentity). */
  readonly nodeIdentity?: 'console';
  /** The same, decided by the providers the cluster uses (Slurm: console identities off the local provider). */
  readonly nodeIdentityOn?: (providers: readonly ProviderName[]) => 'console' | undefined;
  /** The SDK drives the engine by running commands in its VMs: every provider must offer `execInVm`. */
  readonly needsNodeExec?: boolean;
  /** Refuses providers the engine cannot run on (PrerequisiteError or SpecError), before anything exists. */
  readonly checkProviders?: (providers: readonly ProviderName[]) => void;
}

/**
 * Engines are loaded by name on first use, like providers: importing the core loads no engine client (dockerode
 * costs hundreds of milliseconds). A third engine is one folder and one line here.
 */
const loaders: Partial<Record<EngineName, () => Promise<EngineModule>>> = {
  swarm: () => import('./swarm/index.js'),
  slurm: () => import('./slurm/index.js'),
  k3s: () => import('./k3s/index.js'),
};

/** Whether this release has a driver for the engine. */
export function hasEngine(name: EngineName): boolean {
  return loaders[name] !== undefined;
}

/** Refuses an engine this release lacks: a SpecError on `engine`, before anything exists. */
export function assertEngine(name: EngineName): void {
  if (hasEngine(name)) return;
  const known = Object.keys(loaders).join(', ');
  throw new SpecError([
    {
      path: 'engine',
      message: `engine "${name}" is not implemented in this release yet; use one of: ${known}`,
    },
  ]);
}

/** Whether the engine's nodes print their identity on the console (and run the fabric) on these providers. */
export function usesConsoleIdentity(engine: EngineModule, providers: readonly ProviderName[]): boolean {
  return engine.nodeIdentity === 'console' || engine.nodeIdentityOn?.(providers) === 'console';
}

/** Loads an engine's module by name (a SpecError on `engine` when this release has no driver for it). */
export async function loadEngine(name: EngineName): Promise<EngineModule> {
  assertEngine(name);
  try {
    return await loaders[name]!();
  } catch (cause) {
    throw new SkypoolError('INTERNAL', `engine "${name}" could not be loaded: ${(cause as Error).message}`, { cause });
  }
}
