/**
 * The listener service: one Fargate service (SMTP, submission, IMAP, ManageSieve in one Node process,
 * built from fargate/Dockerfile for arm64) behind an internet-facing Network Load Balancer with fixed
 * Elastic IPs, proxy protocol v2 on every target group, and autoscaling on connections and CPU.
 *
 * Draining: a task leaving the service is first deregistered (no new connections; existing ones keep
 * flowing for DEREGISTRATION_DELAY), then gets SIGTERM and has STOP_TIMEOUT to say goodbye to the
 * sessions it still holds (421 / `* BYE`) before it is killed.
 */
import { Duration, SecretValue, Size, Stack } from 'aws-cdk-lib';
import { CfnScalingPolicy, type ScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { CfnEIP, Peer, Port, SecurityGroup, SubnetType, type Vpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AwsLogDriverMode,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  Protocol as EcsProtocol,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import {
  ListenerCertificate,
  NetworkLoadBalancer,
  NetworkTargetGroup,
  Protocol,
  TargetType,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { LISTENER_PORTS, type ListenerPort, listenerPort } from './listener-ports.ts';
import { acknowledgeFinding } from './nag.ts';
import type { MarmotSettings } from './settings.ts';
import { acknowledgeObjectPrefixes, allow, objectPrefixes, type StoreAccess } from './store-access.ts';

/**
 * What the listeners may do in the store: read and write the index and messages, write the spool and
 * quarantine copies, drop spool entries once delivered, and unwrap vault secrets (SASL verifiers).
 */
export const LISTENER_STORE_ACCESS: StoreAccess = {
  table: 'readWrite',
  blobs: { read: ['msg/', 'spool/'], write: ['msg/', 'spool/', 'quarantine/'], delete: ['spool/'] },
  vault: 'decrypt',
};

/** Time a deregistered task keeps its established connections before it is told to stop. */
export const DEREGISTRATION_DELAY = Duration.seconds(60);
/** Time between SIGTERM and SIGKILL (Fargate's maximum). */
export const STOP_TIMEOUT = Duration.seconds(120);
/** New tasks get this long to start listening before failed health checks count. */
const HEALTH_CHECK_GRACE = Duration.seconds(120);
const TARGET_HEALTH_CHECK_INTERVAL = Duration.seconds(30);
const TARGET_HEALTH_THRESHOLD = 3;
const SCALE_OUT_COOLDOWN_SECONDS = 60;
/** Scaling in cuts sessions on the drained task, so it happens slowly. */
const SCALE_IN_COOLDOWN_SECONDS = 900;
/** Buffer for container logs when CloudWatch Logs is slow (non-blocking mode drops beyond it). */
const LOG_BUFFER_MIB = 25;
export const CONTAINER_NAME = 'listeners';
const TMP_VOLUME = 'tmp';

/**
 * Container health: can a TCP connection to the SMTP port be opened inside the task? The listener
 * sees a connection that closes before sending a PROXY header, which it must shrug off.
 */
export function containerHealthCommand(port: number): string[] {
  const script =
    `const s=require('node:net').connect(${port},'127.0.0.1',()=>{s.destroy();process.exit(0)});` +
    `s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),4000).unref()`;
  return ['CMD', 'node', '-e', script];
}

export interface MailListenersProps {
  settings: MarmotSettings;
  vpc: Vpc;
  logBucket: IBucket;
  /** The repository root: the Docker build context (filtered by .dockerignore). */
  repoRoot: string;
  /** Environment shared with the functions, plus the function names the invoker needs. */
  environment: Record<string, string>;
  /** What the task role may do besides reading its TLS secret (LISTENER_STORE_ACCESS and more). */
  statements: PolicyStatement[];
  /** The message bucket the store statements name prefixes of. */
  messageBucket: IBucket;
  logRetention: RetentionDays;
}

export class MailListeners extends Construct {
  readonly cluster: Cluster;
  readonly service: FargateService;
  readonly loadBalancer: NetworkLoadBalancer;
  readonly targetGroups = new Map<ListenerPort['name'], NetworkTargetGroup>();
  readonly addresses: CfnEIP[];
  readonly tlsSecret: ISecret;
  readonly taskDefinition: FargateTaskDefinition;

  constructor(scope: Construct, id: string, props: MailListenersProps) {
    super(scope, id);
    const { settings, vpc } = props;

    this.tlsSecret = settings.tlsSecretArn
      ? Secret.fromSecretCompleteArn(this, 'TlsCertificate', settings.tlsSecretArn)
      : this.placeholderTlsSecret();

    this.cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });

    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: settings.taskCpu,
      memoryLimitMiB: settings.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
      volumes: [{ name: TMP_VOLUME }],
    });
    for (const statement of props.statements) this.taskDefinition.addToTaskRolePolicy(statement);
    acknowledgeObjectPrefixes(this.taskDefinition.taskRole, props.messageBucket, objectPrefixes(LISTENER_STORE_ACCESS));
    this.taskDefinition.addToTaskRolePolicy(
      allow(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], [this.tlsSecret.secretArn]),
    );

    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });
    const smtp = listenerPort('smtp');
    const container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: ContainerImage.fromAsset(props.repoRoot, { file: 'fargate/Dockerfile', platform: Platform.LINUX_ARM64 }),
      environment: {
        ...props.environment,
        AWS_REGION: Stack.of(this).region,
        MARMOT_LISTEN_HOST: '0.0.0.0',
        MARMOT_PROXY_PROTOCOL: 'v2',
        MARMOT_TLS_SECRET_ARN: this.tlsSecret.secretArn,
        ...Object.fromEntries(LISTENER_PORTS.map((p) => [p.envVar, String(p.containerPort)])),
      },
      portMappings: LISTENER_PORTS.map((p) => ({ containerPort: p.containerPort, protocol: EcsProtocol.TCP })),
      healthCheck: {
        command: containerHealthCommand(smtp.containerPort),
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(60),
      },
      stopTimeout: STOP_TIMEOUT,
      readonlyRootFilesystem: true,
      logging: LogDrivers.awsLogs({
        streamPrefix: CONTAINER_NAME,
        logGroup,
        mode: AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(LOG_BUFFER_MIB),
      }),
    });
    // tsx keeps its compile cache under the temp directory; the root filesystem is read-only.
    container.addMountPoints({ containerPath: '/tmp', sourceVolume: TMP_VOLUME, readOnly: false });
    acknowledgeFinding(
      this.taskDefinition,
      'AwsSolutions-ECS2',
      'The environment holds resource names, ports and settings only. The one secret, the TLS private key, is read from Secrets Manager at run time (so a renewed certificate needs no redeploy).',
    );
    acknowledgeFinding(
      this.taskDefinition.obtainExecutionRole(),
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken (pulling the image) has no resource-level permissions; it only accepts "*".',
    );

    const loadBalancerGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Marmot load balancer: the mail ports, from anywhere',
      allowAllOutbound: false,
    });
    const taskGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'Marmot listener tasks: the container ports, from the load balancer only',
      allowAllOutbound: true,
    });
    for (const port of LISTENER_PORTS) {
      loadBalancerGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(port.publicPort), `${port.name} from anywhere`);
      loadBalancerGroup.addEgressRule(taskGroup, Port.tcp(port.containerPort), `${port.name} to the tasks`);
      taskGroup.addIngressRule(loadBalancerGroup, Port.tcp(port.containerPort), `${port.name} from the load balancer`);
    }
    acknowledgeFinding(
      loadBalancerGroup,
      'AwsSolutions-EC23',
      'A mail server must accept connections from the whole internet: MX on 25 from any sending MTA, and 465/587/143/993/4190 from users wherever they are. Only those six ports are open.',
    );

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      assignPublicIp: false,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [taskGroup],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: HEALTH_CHECK_GRACE,
    });

    const publicSubnets = vpc.selectSubnets({ subnetType: SubnetType.PUBLIC }).subnets;
    this.addresses = publicSubnets.map((_, i) => new CfnEIP(this, `Address${i + 1}`, { domain: 'vpc' }));
    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      crossZoneEnabled: true,
      securityGroups: [loadBalancerGroup],
      // Fixed addresses: the MX host needs A records (an MX target must not be a CNAME, RFC 2181 §10.3).
      subnetMappings: publicSubnets.map((subnet, i) => ({
        subnet,
        allocationId: this.addresses[i]!.attrAllocationId,
      })),
    });
    this.loadBalancer.logAccessLogs(props.logBucket, 'load-balancer');

    for (const port of LISTENER_PORTS) {
      const terminateTls = port.tls === 'implicit' && settings.certificateArn !== undefined;
      const targetGroup = new NetworkTargetGroup(this, `${pascalName(port.name)}Targets`, {
        vpc,
        port: port.containerPort,
        protocol: terminateTls ? Protocol.TLS : Protocol.TCP,
        targetType: TargetType.IP,
        proxyProtocolV2: true,
        deregistrationDelay: DEREGISTRATION_DELAY,
        connectionTermination: false,
        healthCheck: {
          protocol: Protocol.TCP,
          interval: TARGET_HEALTH_CHECK_INTERVAL,
          healthyThresholdCount: TARGET_HEALTH_THRESHOLD,
          unhealthyThresholdCount: TARGET_HEALTH_THRESHOLD,
        },
      });
      targetGroup.addTarget(
        this.service.loadBalancerTarget({ containerName: CONTAINER_NAME, containerPort: port.containerPort }),
      );
      this.loadBalancer.addListener(`${pascalName(port.name)}Listener`, {
        port: port.publicPort,
        protocol: terminateTls ? Protocol.TLS : Protocol.TCP,
        certificates:
          terminateTls && settings.certificateArn ? [ListenerCertificate.fromArn(settings.certificateArn)] : undefined,
        defaultTargetGroups: [targetGroup],
      });
      this.targetGroups.set(port.name, targetGroup);
    }

    this.addAutoscaling(settings);
  }

  private placeholderTlsSecret(): Secret {
    const secret = new Secret(this, 'TlsCertificate', {
      description:
        'Marmot listeners: {"certificate": PEM chain, "privateKey": PEM}. Put a real certificate here; the tasks re-read it without a redeploy.',
      // Empty until the operator puts a certificate (see README "Deploy to AWS"); nothing secret in it.
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ certificate: '', privateKey: '' })),
    });
    acknowledgeFinding(
      secret,
      'AwsSolutions-SMG4',
      'The secret holds a TLS certificate, renewed by whoever issues it (ACME client or CA) with put-secret-value; a Secrets Manager rotation Lambda cannot obtain a certificate.',
    );
    return secret;
  }

  private addAutoscaling(settings: MarmotSettings): void {
    const taskCount = this.service.autoScaleTaskCount({
      minCapacity: settings.minTasks,
      maxCapacity: settings.maxTasks,
    });
    taskCount.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: settings.cpuTargetPercent,
      scaleInCooldown: Duration.seconds(SCALE_IN_COOLDOWN_SECONDS),
      scaleOutCooldown: Duration.seconds(SCALE_OUT_COOLDOWN_SECONDS),
    });
    // Connections per task = the load balancer's active flows / running tasks. CDK's target tracking
    // takes a single metric only, so the metric-math form is written at the CloudFormation level.
    const target = taskCount.node.findChild('Target') as ScalableTarget;
    new CfnScalingPolicy(this, 'ConnectionScaling', {
      policyName: `${Stack.of(this).stackName}-connections-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: target.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: settings.connectionsPerTask,
        scaleInCooldown: SCALE_IN_COOLDOWN_SECONDS,
        scaleOutCooldown: SCALE_OUT_COOLDOWN_SECONDS,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'flows',
              returnData: false,
              metricStat: {
                stat: 'Average',
                metric: {
                  namespace: 'AWS/NetworkELB',
                  metricName: 'ActiveFlowCount',
                  dimensions: [{ name: 'LoadBalancer', value: this.loadBalancer.loadBalancerFullName }],
                },
              },
            },
            {
              id: 'tasks',
              returnData: false,
              metricStat: {
                stat: 'Average',
                metric: {
                  namespace: 'ECS/ContainerInsights',
                  metricName: 'RunningTaskCount',
                  dimensions: [
                    { name: 'ClusterName', value: this.cluster.clusterName },
                    { name: 'ServiceName', value: this.service.serviceName },
                  ],
                },
              },
            },
            { id: 'connectionsPerTask', expression: 'flows / tasks', label: 'Connections per task', returnData: true },
          ],
        },
      },
    });
  }
}

function pascalName(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
