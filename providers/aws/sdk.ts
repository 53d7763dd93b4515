import { createRequire } from 'node:module';
import type * as Ec2 from '@aws-sdk/client-ec2';

/**
 * The EC2 client from the package's CommonJS build. Node's ESM loader takes about twice as long over its ESM build
 * (hundreds of files) as `require` over the bundled CommonJS one, and every CLI call that touches AWS pays it
 * (bench/startup.mjs). Import EC2 values from here, types from '@aws-sdk/client-ec2'.
 */
const ec2 = createRequire(import.meta.url)('@aws-sdk/client-ec2') as typeof Ec2;

export type EC2Client = Ec2.EC2Client;
export const {
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteInternetGatewayCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeInternetGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  EC2Client,
  GetConsoleOutputCommand,
  ModifySubnetAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} = ec2;
