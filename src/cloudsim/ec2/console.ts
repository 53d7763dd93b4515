import type { ActionHandler } from './action.js';
import { checkId, Ec2Error, notFound } from './errors.js';

/** EC2 keeps the most recent 64 KB of an instance's console. */
export const CONSOLE_LIMIT = 64 * 1024;

/** Cuts a console to `limit` bytes at its start (`head`) or end, on a character boundary. */
export function cutConsole(text: string, limit: number, end: 'head' | 'tail'): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return text;
  const part = end === 'head' ? bytes.subarray(0, limit) : bytes.subarray(bytes.length - limit);
  return part.toString('utf8').replace(/^\uFFFD+|\uFFFD+$/g, '');
}

/**
 * GetConsoleOutput: `Latest=true` answers the live console (its last 64 KB, as Nitro instances do); without it,
 * the buffered output EC2 posts after the boot transition, which the sim models as the console's first 64 KB.
 * `output` is base64. With the virtual backing there is no console: the answer has no output, as EC2's before
 * anything was posted.
 */
export const getConsoleOutput: ActionHandler = async (ctx) => {
  const id = ctx.params.str('InstanceId');
  if (!id) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  checkId(id, 'i', 'InstanceID');
  const instance = ctx.store.instances.get(id);
  if (!instance || instance.launch.region !== ctx.region) throw notFound('InstanceID', 'instance ID', [id]);
  const latest = ctx.params.bool('Latest') === true;
  const backing = ctx.sim.settings.backing === 'local' ? ctx.sim.backing : undefined;
  const text = backing?.console ? await backing.console({ cloud: 'aws', id }).catch(() => '') : '';
  const output = cutConsole(text, CONSOLE_LIMIT, latest ? 'tail' : 'head');
  return {
    instanceId: id,
    timestamp: new Date(ctx.store.now()).toISOString(),
    output: output ? Buffer.from(output, 'utf8').toString('base64') : undefined,
  };
};
