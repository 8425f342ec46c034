/**
 * The VPC: public subnets for the load balancer and the NAT gateway, private subnets for the listener
 * tasks, free gateway endpoints for DynamoDB and S3 (the bulk of the task's traffic then bypasses the
 * NAT gateway), and flow logs of all traffic into the log bucket.
 */
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AVAILABILITY_ZONES, type MarmotSettings } from './settings.ts';

const PUBLIC_SUBNET_CIDR_MASK = 24;
const PRIVATE_SUBNET_CIDR_MASK = 22;

export class MailNetwork extends Construct {
  readonly vpc: Vpc;

  constructor(scope: Construct, id: string, settings: MarmotSettings, logBucket: IBucket) {
    super(scope, id);
    this.vpc = new Vpc(this, 'Vpc', {
      maxAzs: AVAILABILITY_ZONES,
      natGateways: settings.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: PUBLIC_SUBNET_CIDR_MASK },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: PRIVATE_SUBNET_CIDR_MASK },
      ],
      // Nothing uses the default security group; restricting it would need a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        all: {
          destination: FlowLogDestination.toS3(logBucket, 'vpc-flow-logs/'),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });
  }
}
