/**
 * `skypool/cdk`: the AWS side of a skypool cluster as AWS CDK constructs. Needs `aws-cdk-lib` and `constructs`
 * installed next to skypool (cdk-nag is optional: the construct records its suppressions as plain metadata).
 */
export { SkypoolCluster, UBUNTU_AMI_PARAMETER, type SkypoolClusterProps } from './cluster.js';
export { resolveAwsPools, userDataSizeIssue, type ResolvedPool, type ResolveOptions } from './resolve.js';
export { AwsNodePool, type AwsNodePoolProps } from './pool.js';
export { INSTANCE_TYPE_TABLE, instanceTypeForSize } from './instance-types.js';
export { createCdkTlsSecret, ensureCdkClusterPki, type CdkTlsSecret } from './tls.js';
export { suppressNag, type NagSuppression } from './nag.js';
