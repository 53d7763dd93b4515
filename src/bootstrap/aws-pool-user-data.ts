/**
 * User-data for a whole pool of identical nodes (an EC2 Auto Scaling group made by the CDK construct): every node
 * boots the same bytes, so nothing node-specific or secret is rendered. At boot each node reads its name and
 * address from IMDSv2, makes its own TLS key, and takes its TLS issuer and the swarm join tokens from Secrets
 * Manager (see templates/swarm/aws-pool.sh). `renderUserData` renders it when given this input.
 */
export interface AwsSecretsManagerSource {
  readonly kind: 'aws-secrets-manager';
  /**
   * Name of the secret the first manager publishes the manager join token and its address to (read by the other
   * managers only).
   */
  readonly joinSecretId: string;
  /**
   * Name of the secret with only the worker join token and the manager address, the one workers may read.
   * Default `<joinSecretId>-worker`.
   */
  readonly workerJoinSecretId?: string;
  /** Name of the secret holding the cluster CA certificate and the server-only issuer CA (see `createCdkTlsSecretValue`). */
  readonly tlsSecretId: string;
}

export interface AwsPoolUserDataInput {
  readonly engine: 'swarm';
  /** `manager` nodes elect the swarm's creator among themselves at boot; `worker` nodes join it. */
  readonly role: 'manager' | 'worker';
  readonly cluster: string;
  readonly pool: string;
  readonly source: AwsSecretsManagerSource;
  /** How long a node waits for its TLS material, the join tokens and the swarm. Default 1800 (secrets may be filled after deploy). */
  readonly deadlineSeconds?: number;
}

const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
const NAME = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

/** Template and values of an AWS pool's user-data; throws a plain message when the input cannot be rendered. */
export function awsPoolTemplate(input: AwsPoolUserDataInput): { template: string; values: Record<string, string> } {
  if (input.source.kind !== 'aws-secrets-manager')
    throw new Error(`source kind "${String(input.source.kind)}" is not supported`);
  if (!NAME.test(input.cluster) || !NAME.test(input.pool))
    throw new Error(`cluster "${input.cluster}" and pool "${input.pool}" must be DNS labels`);
  const workerJoinSecretId = input.source.workerJoinSecretId ?? `${input.source.joinSecretId}-worker`;
  for (const id of [input.source.joinSecretId, workerJoinSecretId, input.source.tlsSecretId]) {
    if (!SECRET_NAME.test(id)) throw new Error(`"${id}" is not a Secrets Manager secret name`);
  }
  const deadline = input.deadlineSeconds ?? 1800;
  if (!Number.isInteger(deadline) || deadline <= 0) throw new Error('deadlineSeconds must be a positive whole number');
  return {
    template: 'swarm/aws-pool.sh',
    values: {
      role: input.role,
      cluster: input.cluster,
      pool: input.pool,
      deadline_seconds: String(deadline),
      join_secret_id: input.source.joinSecretId,
      worker_join_secret_id: workerJoinSecretId,
      tls_secret_id: input.source.tlsSecretId,
    },
  };
}
