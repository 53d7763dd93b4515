/**
 * `skypool/cdk`: the AWS side of a skypool cluster as AWS CDK constructs. Needs `aws-cdk-lib` and `constructs`
 * installed next to skypool (cdk-nag is optional: the construct records its suppressions as plain metadata).
 */

export type { ClusterPki } from '../bootstrap/cluster-pki.js';
export type { CertificateBundle } from '../bootstrap/pki.js';
export { SkypoolCluster, type SkypoolClusterProps, UBUNTU_AMI_PARAMETER } from './cluster.js';
export { INSTANCE_TYPE_TABLE, instanceTypeForSize } from './instance-types.js';
export { type NagSuppression, suppressNag } from './nag.js';
export { AwsNodePool, type AwsNodePoolProps } from './pool.js';
export { type ResolvedPool, type ResolveOptions, resolveAwsPools, userDataSizeIssue } from './resolve.js';
export { type CdkTlsSecret, createCdkTlsSecret, ensureCdkClusterPki } from './tls.js';
