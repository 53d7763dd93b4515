import type { EC2Client, EC2ClientResolvedConfig, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-ec2';
import type { Command } from '@smithy/types';
import { cancelled } from '../../src/util/poll.js';
import { type ErrorContext, mapAwsError } from './errors.js';

export type Ec2Command<I extends ServiceInputTypes, O extends ServiceOutputTypes> = Command<
  ServiceInputTypes,
  I,
  ServiceOutputTypes,
  O,
  EC2ClientResolvedConfig
>;

/**
 * One region's EC2 client bound to a caller's AbortSignal: every call goes through the SDK (with its own
 * retries) and failures come out as skypool's typed errors, named after the action.
 */
export class Ec2Calls {
  constructor(
    readonly client: EC2Client,
    readonly region: string,
    readonly signal?: AbortSignal,
  ) {}

  async call<I extends ServiceInputTypes, O extends ServiceOutputTypes>(
    action: string,
    command: Ec2Command<I, O>,
    context: Partial<ErrorContext> = {},
  ): Promise<O> {
    try {
      this.signal?.throwIfAborted();
      return await this.client.send(command, { abortSignal: this.signal });
    } catch (error) {
      if (this.signal?.aborted) throw cancelled(this.signal);
      throw mapAwsError(error, { action, region: this.region, ...context });
    }
  }
}
