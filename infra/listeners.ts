/**
 * The listeners: two Fargate services from one image (fargate/Dockerfile, arm64) behind one
 * internet-facing Network Load Balancer with fixed Elastic IPs and proxy protocol v2 on every target
 * group. "transfer" takes SMTP (25, 587, 465), "access" takes IMAP and ManageSieve (143, 993, 4190):
 * ECS attaches at most five target groups to a service, and the split also keeps the MX apart from
 * the long-lived IMAP sessions, each with its own role, scaling and deployments.
 *
 * Draining: a task leaving its service is first deregistered (no new connections; existing ones keep
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
  type ScalableTaskCount,
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
import { LISTENER_PORTS, type ListenerName, listenerPort } from './listener-ports.ts';
import { acknowledgeFinding } from './nag.ts';
import type { MarmotSettings } from './settings.ts';
import { acknowledgeObjectPrefixes, allow, objectPrefixes, type StoreAccess } from './store-access.ts';

export type ListenerGroupName = 'transfer' | 'access';

export interface ListenerGroup {
  name: ListenerGroupName;
  description: string;
  /** The listeners this service takes traffic for; the first one is the container health check's. */
  listeners: ListenerName[];
  store: StoreAccess;
  /**
   * Also scale on connections per task. Only the load balancer's total is published (not per target
   * group), which the long-lived IMAP sessions dominate, so it measures the access service well.
   */
  scaleOnConnections: boolean;
}

export const LISTENER_GROUPS: readonly ListenerGroup[] = [
  {
    name: 'transfer',
    description: 'SMTP: MX (25) and submission (587, 465)',
    listeners: ['smtp', 'submission', 'submissionTls'],
    // Stores incoming mail (msg/) and quarantine copies, queues outbound mail (outbound/), which its
    // delivery worker reads, lists (orphan sweep) and removes once sent or bounced; writes DSNs into
    // msg/dsn/; unwraps SASL verifiers and, with the in-process signer, DKIM keys.
    store: {
      table: 'readWrite',
      blobs: {
        read: ['msg/', 'outbound/'],
        write: ['msg/', 'outbound/', 'quarantine/'],
        delete: ['outbound/'],
        list: true,
      },
      // Each process seals its SASL decoy's verifiers (and, on the very first start, the shared decoy salt
      // secret), and upgrades old accounts' verifiers at login: it wraps as well as unwraps.
      vault: 'encryptDecrypt',
    },
    scaleOnConnections: false,
  },
  {
    name: 'access',
    description: 'IMAP (143, 993) and ManageSieve (4190)',
    listeners: ['imap', 'imaps', 'managesieve'],
    // FETCH reads messages, APPEND stores them, SASL verifiers are unwrapped.
    store: {
      table: 'readWrite',
      blobs: { read: ['msg/'], write: ['msg/'] },
      // Each process seals its SASL decoy's verifiers (and, on the very first start, the shared decoy salt
      // secret), and upgrades old accounts' verifiers at login: it wraps as well as unwraps.
      vault: 'encryptDecrypt',
    },
    scaleOnConnections: true,
  },
];

/** Time a deregistered task keeps its established connections before it is told to stop. */
const DEREGISTRATION_DELAY = Duration.seconds(60);
/** Time between SIGTERM and SIGKILL (Fargate's maximum). */
const STOP_TIMEOUT = Duration.seconds(120);
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
const HTTPS_PORT = 443;
const TMP_VOLUME = 'tmp';

/**
 * Container health: can a TCP connection to the port be opened inside the task? The listener sees a
 * connection that closes before sending a PROXY header, which it must shrug off.
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
  /** The message bucket the store grants name prefixes of. */
  messageBucket: IBucket;
  /** The repository root: the Docker build context (filtered by .dockerignore). */
  repoRoot: string;
  /** Environment shared with the functions, plus the function names the invoker needs. */
  environment: Record<string, string>;
  /** Each service's grants besides reading its TLS secret: store access, function invokes, SES. */
  serviceStatements: Record<ListenerGroupName, PolicyStatement[]>;
  logRetention: RetentionDays;
}

export class MailListeners extends Construct {
  readonly cluster: Cluster;
  readonly loadBalancer: NetworkLoadBalancer;
  readonly addresses: CfnEIP[];
  readonly tlsSecret: ISecret;
  readonly services = new Map<ListenerGroupName, ListenerService>();
  readonly targetGroups = new Map<ListenerName, NetworkTargetGroup>();

  constructor(scope: Construct, id: string, props: MailListenersProps) {
    super(scope, id);
    const { settings, vpc } = props;

    this.tlsSecret = settings.tlsSecretArn
      ? Secret.fromSecretCompleteArn(this, 'TlsCertificate', settings.tlsSecretArn)
      : this.placeholderTlsSecret();
    this.cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });
    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });

    const loadBalancerGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Marmot load balancer: the mail ports, from anywhere',
      allowAllOutbound: false,
    });
    for (const port of LISTENER_PORTS) {
      loadBalancerGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(port.publicPort), `${port.name} from anywhere`);
    }
    acknowledgeFinding(
      loadBalancerGroup,
      'AwsSolutions-EC23',
      'A mail server must accept connections from the whole internet: MX on 25 from any sending MTA, and 465/587/143/993/4190 from users wherever they are. Only those six ports are open.',
    );

    const publicSubnets = vpc.selectSubnets({ subnetType: SubnetType.PUBLIC }).subnets;
    this.addresses = publicSubnets.map((_, i) => new CfnEIP(this, `Address${i + 1}`, { domain: 'vpc' }));
    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      crossZoneEnabled: true,
      securityGroups: [loadBalancerGroup],
      // Fixed addresses: the MX host needs A records (an MX target must not be a CNAME, RFC 2181 §10.3).
      subnetMappings: publicSubnets.map((subnet, i) => ({ subnet, allocationId: this.addresses[i]!.attrAllocationId })),
    });
    this.loadBalancer.logAccessLogs(props.logBucket, 'load-balancer');

    const image = ContainerImage.fromAsset(props.repoRoot, {
      file: 'fargate/Dockerfile',
      platform: Platform.LINUX_ARM64,
    });
    for (const group of LISTENER_GROUPS) {
      const service = new ListenerService(this, pascalName(group.name), {
        ...props,
        group,
        cluster: this.cluster,
        image,
        logGroup,
        loadBalancerGroup,
        tlsSecret: this.tlsSecret,
        statements: props.serviceStatements[group.name],
      });
      this.services.set(group.name, service);
      for (const name of group.listeners) {
        const port = listenerPort(name);
        const terminateTls = port.tls === 'implicit' && settings.certificateArn !== undefined;
        const targetGroup = new NetworkTargetGroup(this, `${pascalName(name)}Targets`, {
          vpc,
          port: port.containerPort,
          protocol: terminateTls ? Protocol.TLS : Protocol.TCP,
          targetType: TargetType.IP,
          proxyProtocolV2: true,
          deregistrationDelay: DEREGISTRATION_DELAY,
          connectionTermination: false,
          healthCheck: {
            protocol: Protocol.TCP,
            ...(port.healthCheckVia ? { port: String(listenerPort(port.healthCheckVia).containerPort) } : {}),
            interval: TARGET_HEALTH_CHECK_INTERVAL,
            healthyThresholdCount: TARGET_HEALTH_THRESHOLD,
            unhealthyThresholdCount: TARGET_HEALTH_THRESHOLD,
          },
        });
        targetGroup.addTarget(
          service.service.loadBalancerTarget({ containerName: CONTAINER_NAME, containerPort: port.containerPort }),
        );
        this.loadBalancer.addListener(`${pascalName(name)}Listener`, {
          port: port.publicPort,
          protocol: terminateTls ? Protocol.TLS : Protocol.TCP,
          certificates:
            terminateTls && settings.certificateArn
              ? [ListenerCertificate.fromArn(settings.certificateArn)]
              : undefined,
          defaultTargetGroups: [targetGroup],
        });
        this.targetGroups.set(name, targetGroup);
      }
      if (group.scaleOnConnections) service.scaleOnConnections(this.loadBalancer, this.cluster, settings);
    }
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
}

interface ListenerServiceProps extends MailListenersProps {
  group: ListenerGroup;
  cluster: Cluster;
  image: ContainerImage;
  logGroup: LogGroup;
  loadBalancerGroup: SecurityGroup;
  tlsSecret: ISecret;
  statements: PolicyStatement[];
}

/** One Fargate service: its task definition, role, security group, and CPU scaling. */
export class ListenerService extends Construct {
  readonly group: ListenerGroup;
  readonly taskDefinition: FargateTaskDefinition;
  readonly service: FargateService;
  private readonly taskCount: ScalableTaskCount;

  constructor(scope: Construct, id: string, props: ListenerServiceProps) {
    super(scope, id);
    const { settings, vpc, group } = props;
    this.group = group;
    const ports = group.listeners.map(listenerPort);

    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: settings.taskCpu,
      memoryLimitMiB: settings.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
      volumes: [{ name: TMP_VOLUME }],
    });
    const taskRole = this.taskDefinition.taskRole;
    for (const statement of props.statements) this.taskDefinition.addToTaskRolePolicy(statement);
    acknowledgeObjectPrefixes(taskRole, props.messageBucket, objectPrefixes(group.store));
    this.taskDefinition.addToTaskRolePolicy(
      allow(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], [props.tlsSecret.secretArn]),
    );

    const container = this.taskDefinition.addContainer(CONTAINER_NAME, {
      image: props.image,
      environment: {
        ...props.environment,
        AWS_REGION: Stack.of(this).region,
        MARMOT_LISTENERS: group.listeners.join(','),
        MARMOT_LISTEN_HOST: '0.0.0.0',
        MARMOT_PROXY_PROTOCOL: 'v2',
        MARMOT_TLS_SECRET_ARN: props.tlsSecret.secretArn,
        ...Object.fromEntries(LISTENER_PORTS.map((p) => [p.envVar, String(p.containerPort)])),
      },
      portMappings: ports.map((p) => ({ containerPort: p.containerPort, protocol: EcsProtocol.TCP })),
      healthCheck: {
        command: containerHealthCommand(ports[0]!.containerPort),
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(60),
      },
      stopTimeout: STOP_TIMEOUT,
      readonlyRootFilesystem: true,
      logging: LogDrivers.awsLogs({
        streamPrefix: group.name,
        logGroup: props.logGroup,
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

    const taskGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `Marmot ${group.name} tasks: the container ports, from the load balancer only`,
      allowAllOutbound: false,
    });
    // Everything the tasks call is an AWS API over HTTPS (outbound mail goes through SES); DNS to the
    // VPC resolver is not subject to security groups.
    taskGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(HTTPS_PORT), 'AWS APIs (HTTPS)');
    for (const port of ports) {
      props.loadBalancerGroup.addEgressRule(taskGroup, Port.tcp(port.containerPort), `${port.name} to the tasks`);
      taskGroup.addIngressRule(
        props.loadBalancerGroup,
        Port.tcp(port.containerPort),
        `${port.name} from the load balancer`,
      );
    }

    this.service = new FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      assignPublicIp: false,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [taskGroup],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: HEALTH_CHECK_GRACE,
    });

    this.taskCount = this.service.autoScaleTaskCount({
      minCapacity: settings.minTasks,
      maxCapacity: settings.maxTasks,
    });
    this.taskCount.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: settings.cpuTargetPercent,
      scaleInCooldown: Duration.seconds(SCALE_IN_COOLDOWN_SECONDS),
      scaleOutCooldown: Duration.seconds(SCALE_OUT_COOLDOWN_SECONDS),
    });
  }

  /**
   * Connections per task = the load balancer's active flows / this service's running tasks. CDK's
   * target tracking takes a single metric only, so the metric-math form is written at the
   * CloudFormation level.
   */
  scaleOnConnections(loadBalancer: NetworkLoadBalancer, cluster: Cluster, settings: MarmotSettings): void {
    const target = this.taskCount.node.findChild('Target') as ScalableTarget;
    new CfnScalingPolicy(this, 'ConnectionScaling', {
      policyName: `${Stack.of(this).stackName}-${this.group.name}-connections-per-task`,
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
                  dimensions: [{ name: 'LoadBalancer', value: loadBalancer.loadBalancerFullName }],
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
                    { name: 'ClusterName', value: cluster.clusterName },
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
