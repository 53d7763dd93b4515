import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One cdk-nag rule suppressed on a construct, with the reason recorded in the template. */
export interface NagSuppression {
  /** cdk-nag rule id, e.g. `AwsSolutions-IAM5`. */
  readonly id: string;
  /** Why the finding is intended; cdk-nag shows it in its reports. */
  readonly reason: string;
  /** Only these findings of the rule (exact strings or `{ regex }`). */
  readonly appliesTo?: readonly (string | { readonly regex: string })[];
}

/**
 * Records suppressions in the metadata cdk-nag reads (`cdk_nag.rules_to_suppress`, the format of
 * `NagSuppressions.addResourceSuppressions`) without importing cdk-nag: apps that do not run it need not install
 * it, and synth does not pay for loading it.
 */
export function suppressNag(scope: IConstruct, rules: readonly NagSuppression[], applyToChildren = false): void {
  for (const construct of applyToChildren ? scope.node.findAll() : [scope]) {
    const resource = construct.node.defaultChild ?? construct;
    if (!(resource instanceof CfnResource)) continue;
    const metadata = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined) ?? {};
    const added = rules.map(({ id, reason, appliesTo }) => ({
      reason,
      id,
      ...(appliesTo ? { applies_to: appliesTo } : {}),
    }));
    resource.addMetadata('cdk_nag', {
      ...metadata,
      rules_to_suppress: [...(metadata.rules_to_suppress ?? []), ...added],
    });
  }
}
