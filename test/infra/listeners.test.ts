/**
 * The listener service and its load balancer: ports, TLS, proxy protocol, health checks, draining,
 * autoscaling, security groups, the container image and the TLS certificate secret.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Match } from 'aws-cdk-lib/assertions';
import { LISTENER_PORTS } from '../../infra/listener-ports.ts';
import { CONTAINER_NAME, containerHealthCommand } from '../../infra/listeners.ts';
import { REPO_ROOT } from '../../infra/marmot-app.ts';
import {
  actionsOn,
  FULL_CONTEXT,
  logicalId,
  type MarmotSynthesis,
  ref,
  roleStatements,
  synthesizeMarmot,
  type TemplateJson,
} from './synthesize-marmot.ts';

const run = promisify(execFile);

const TLS_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marmot/tls-AbCdEf';

const plain: MarmotSynthesis = synthesizeMarmot({
  context: { minTasks: 2, maxTasks: 6, connectionsPerTask: 1500, cpuTargetPercent: 55 },
});
const withCertificate: MarmotSynthesis = synthesizeMarmot({
  context: { ...FULL_CONTEXT, tlsSecretArn: TLS_SECRET_ARN },
});
after(() => {
  plain.cleanup();
  withCertificate.cleanup();
});

function resourcesOfType(synthesis: MarmotSynthesis, type: string): [string, TemplateJson][] {
  return Object.entries(synthesis.json.Resources).filter(([, r]) => r.Type === type);
}

function container(synthesis: MarmotSynthesis): TemplateJson {
  const [[, task]] = resourcesOfType(synthesis, 'AWS::ECS::TaskDefinition') as [[string, TemplateJson]];
  return task.Properties.ContainerDefinitions.find((c: { Name: string }) => c.Name === CONTAINER_NAME);
}

function environment(synthesis: MarmotSynthesis): Record<string, unknown> {
  return Object.fromEntries(
    container(synthesis).Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]),
  );
}

/** Listener port → { protocol, certificates, target group properties }. */
function listeners(synthesis: MarmotSynthesis) {
  const targetGroups = Object.fromEntries(resourcesOfType(synthesis, 'AWS::ElasticLoadBalancingV2::TargetGroup'));
  return new Map(
    resourcesOfType(synthesis, 'AWS::ElasticLoadBalancingV2::Listener').map(([, listener]) => {
      const targetGroupId = listener.Properties.DefaultActions[0].TargetGroupArn.Ref;
      return [
        listener.Properties.Port as number,
        {
          protocol: listener.Properties.Protocol as string,
          certificates: listener.Properties.Certificates,
          targetGroup: targetGroups[targetGroupId].Properties,
        },
      ];
    }),
  );
}

describe('load balancer', () => {
  it('is internet-facing on fixed Elastic IPs, one per public subnet', () => {
    const [[, nlb]] = resourcesOfType(plain, 'AWS::ElasticLoadBalancingV2::LoadBalancer') as [[string, TemplateJson]];
    assert.equal(nlb.Properties.Type, 'network');
    assert.equal(nlb.Properties.Scheme, 'internet-facing');
    const mappings = nlb.Properties.SubnetMappings;
    assert.equal(mappings.length, 2);
    for (const [i, address] of plain.stack.listeners.addresses.entries()) {
      assert.deepEqual(mappings[i].AllocationId, { 'Fn::GetAtt': [logicalId(address), 'AllocationId'] });
    }
  });

  it('listens on 25, 587, 143, 4190, 465 and 993 and forwards each to its container port', () => {
    const byPort = listeners(plain);
    assert.deepEqual(
      [...byPort.keys()].sort((a, b) => a - b),
      [25, 143, 465, 587, 993, 4190],
    );
    for (const port of LISTENER_PORTS) {
      assert.equal(byPort.get(port.publicPort)?.targetGroup.Port, port.containerPort, `${port.name}`);
    }
  });

  it('passes TLS through (TCP) on every port when no certificate is given', () => {
    for (const [port, listener] of listeners(plain)) {
      assert.equal(listener.protocol, 'TCP', `port ${port}`);
      assert.equal(listener.targetGroup.Protocol, 'TCP', `port ${port}`);
      assert.equal(listener.certificates, undefined);
    }
  });

  it('terminates TLS on 465 and 993 with the ACM certificate when one is given, re-encrypting to the task', () => {
    const byPort = listeners(withCertificate);
    for (const port of [465, 993]) {
      assert.equal(byPort.get(port)?.protocol, 'TLS');
      assert.deepEqual(byPort.get(port)?.certificates, [{ CertificateArn: FULL_CONTEXT.certificateArn }]);
      assert.equal(byPort.get(port)?.targetGroup.Protocol, 'TLS');
    }
    for (const port of [25, 587, 143, 4190]) assert.equal(byPort.get(port)?.protocol, 'TCP', `STARTTLS port ${port}`);
  });

  it('sends proxy protocol v2 to IP targets, checks their health over TCP and drains them', () => {
    for (const [port, { targetGroup }] of listeners(plain)) {
      const attributes = Object.fromEntries(
        targetGroup.TargetGroupAttributes.map((a: { Key: string; Value: string }) => [a.Key, a.Value]),
      );
      assert.equal(attributes['proxy_protocol_v2.enabled'], 'true', `port ${port}`);
      assert.equal(attributes['deregistration_delay.timeout_seconds'], '60');
      assert.equal(attributes['deregistration_delay.connection_termination.enabled'], 'false');
      assert.equal(targetGroup.TargetType, 'ip');
      assert.equal(targetGroup.HealthCheckProtocol, 'TCP');
    }
  });

  it('writes access logs to the log bucket', () => {
    const [[, nlb]] = resourcesOfType(plain, 'AWS::ElasticLoadBalancingV2::LoadBalancer') as [[string, TemplateJson]];
    const attributes = Object.fromEntries(
      nlb.Properties.LoadBalancerAttributes.map((a: { Key: string; Value: unknown }) => [a.Key, a.Value]),
    );
    assert.equal(attributes['access_logs.s3.enabled'], 'true');
    assert.deepEqual(attributes['access_logs.s3.bucket'], ref(plain.stack.storage.logBucket));
  });
});

describe('security groups', () => {
  const loadBalancerGroup = plain.stack.listeners.loadBalancer.connections.securityGroups[0]!;

  it('open exactly the six mail ports to the internet, on the load balancer only', () => {
    const group = plain.json.Resources[logicalId(loadBalancerGroup)]!.Properties;
    const open = group.SecurityGroupIngress.map((r: { CidrIp: string; FromPort: number; ToPort: number }) => {
      assert.equal(r.CidrIp, '0.0.0.0/0');
      assert.equal(r.FromPort, r.ToPort);
      return r.FromPort;
    });
    assert.deepEqual(
      open.sort((a: number, b: number) => a - b),
      [25, 143, 465, 587, 993, 4190],
    );
  });

  it('let the tasks be reached only from the load balancer, on the container ports', () => {
    const taskIngress = resourcesOfType(plain, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    assert.deepEqual(
      taskIngress.map((r) => r.FromPort).sort((a, b) => a - b),
      LISTENER_PORTS.map((p) => p.containerPort).sort((a, b) => a - b),
    );
    for (const rule of taskIngress) {
      assert.deepEqual(rule.SourceSecurityGroupId, { 'Fn::GetAtt': [logicalId(loadBalancerGroup), 'GroupId'] });
      assert.equal(rule.CidrIp, undefined);
    }
    const [[, service]] = resourcesOfType(plain, 'AWS::ECS::Service') as [[string, TemplateJson]];
    const network = service.Properties.NetworkConfiguration.AwsvpcConfiguration;
    assert.equal(network.AssignPublicIp, 'DISABLED');
    assert.deepEqual(
      network.Subnets,
      plain.stack.network.vpc.privateSubnets.map((subnet) => ref(subnet)),
    );
  });
});

describe('listener task', () => {
  it('runs the image built from fargate/Dockerfile for arm64', () => {
    const manifest = JSON.parse(readFileSync(join(plain.outdir, `${plain.stack.stackName}.assets.json`), 'utf8'));
    const images = Object.values(manifest.dockerImages) as {
      source: { directory: string; dockerFile: string; platform: string };
    }[];
    assert.equal(images.length, 1);
    const [{ source }] = images as [(typeof images)[number]];
    assert.equal(source.dockerFile, 'fargate/Dockerfile');
    assert.equal(source.platform, 'linux/arm64');
    const [[, task]] = resourcesOfType(plain, 'AWS::ECS::TaskDefinition') as [[string, TemplateJson]];
    assert.deepEqual(task.Properties.RuntimePlatform, { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });

    // The build context is staged through .dockerignore: the Dockerfile and lockfile in, dev trees out.
    const context = join(plain.outdir, source.directory);
    assert.ok(existsSync(join(context, 'fargate', 'Dockerfile')));
    assert.ok(existsSync(join(context, 'package-lock.json')));
    for (const excluded of ['node_modules', 'test', 'infra', 'tmp', '.git']) {
      assert.equal(existsSync(join(context, excluded)), false, `${excluded} must not be in the image`);
    }
  });

  it('tells the container its ports, the proxy protocol and where its certificate is', () => {
    const env = environment(plain);
    for (const port of LISTENER_PORTS) assert.equal(env[port.envVar], String(port.containerPort));
    assert.equal(env.MARMOT_PROXY_PROTOCOL, 'v2');
    assert.equal(env.MARMOT_LISTEN_HOST, '0.0.0.0');
    assert.deepEqual(env.MARMOT_TLS_SECRET_ARN, ref(plain.stack.listeners.tlsSecret));
    const mappings = container(plain).PortMappings.map((m: { ContainerPort: number }) => m.ContainerPort);
    assert.deepEqual(
      mappings,
      LISTENER_PORTS.map((p) => p.containerPort),
    );
  });

  it('is read-only, has a container health check on the SMTP port, and a stop timeout to drain', () => {
    const definition = container(plain);
    assert.equal(definition.ReadonlyRootFilesystem, true);
    assert.deepEqual(definition.HealthCheck.Command, containerHealthCommand(2525));
    assert.equal(definition.StopTimeout, 120);
  });

  it('deploys with a rollback circuit breaker and never below the running capacity', () => {
    const [[, service]] = resourcesOfType(plain, 'AWS::ECS::Service') as [[string, TemplateJson]];
    const deployment = service.Properties.DeploymentConfiguration;
    assert.deepEqual(deployment.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
    assert.equal(deployment.MinimumHealthyPercent, 100);
    const ports = service.Properties.LoadBalancers.map((l: { ContainerPort: number }) => l.ContainerPort).sort();
    assert.deepEqual(ports, LISTENER_PORTS.map((p) => p.containerPort).sort());
  });

  it('scales between the configured bounds on CPU and on connections per task', () => {
    plain.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 6,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    plain.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 55,
      }),
    });
    const [[, connections]] = resourcesOfType(plain, 'AWS::ApplicationAutoScaling::ScalingPolicy').filter(
      ([, p]) => p.Properties.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification,
    ) as [[string, TemplateJson]];
    const configuration = connections.Properties.TargetTrackingScalingPolicyConfiguration;
    assert.equal(configuration.TargetValue, 1500);
    const metrics = configuration.CustomizedMetricSpecification.Metrics;
    const byId = Object.fromEntries(metrics.map((m: { Id: string }) => [m.Id, m]));
    assert.equal(byId.flows.MetricStat.Metric.MetricName, 'ActiveFlowCount');
    assert.deepEqual(byId.flows.MetricStat.Metric.Dimensions[0].Value, {
      'Fn::GetAtt': [logicalId(plain.stack.listeners.loadBalancer), 'LoadBalancerFullName'],
    });
    assert.equal(byId.tasks.MetricStat.Metric.MetricName, 'RunningTaskCount');
    assert.equal(byId.connectionsPerTask.Expression, 'flows / tasks');
    assert.equal(byId.connectionsPerTask.ReturnData, true);
  });
});

describe('container health check command', () => {
  async function healthy(port: number): Promise<boolean> {
    const [, , , script] = containerHealthCommand(port);
    try {
      await run(process.execPath, ['-e', script!], { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  }

  it('succeeds when the port accepts connections and fails when nothing listens', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    assert.equal(await healthy(port), true);
    await new Promise((resolve) => server.close(resolve));
    assert.equal(await healthy(port), false);
  });
});

describe('TLS certificate secret', () => {
  it('is created empty when none is given, and only the task may read it', () => {
    const secret = plain.stack.listeners.tlsSecret;
    plain.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      SecretString: JSON.stringify({ certificate: '', privateKey: '' }),
    });
    const taskRole = plain.stack.listeners.taskDefinition.taskRole;
    assert.deepEqual(actionsOn(roleStatements(plain.json, logicalId(taskRole)), ref(secret)), [
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });

  it('is the given secret when tlsSecretArn is set (nothing created)', () => {
    assert.equal(resourcesOfType(withCertificate, 'AWS::SecretsManager::Secret').length, 0);
    assert.equal(environment(withCertificate).MARMOT_TLS_SECRET_ARN, TLS_SECRET_ARN);
    const taskRole = withCertificate.stack.listeners.taskDefinition.taskRole;
    assert.deepEqual(actionsOn(roleStatements(withCertificate.json, logicalId(taskRole)), TLS_SECRET_ARN), [
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });
});

describe('network', () => {
  it('has flow logs of all traffic and free gateway endpoints for S3 and DynamoDB', () => {
    plain.template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 's3',
    });
    const services = resourcesOfType(plain, 'AWS::EC2::VPCEndpoint').map(([, e]) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    assert.ok(services.some((s) => s.includes('.s3')));
    assert.ok(services.some((s) => s.includes('.dynamodb')));
  });
});

describe('fargate/Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'fargate', 'Dockerfile'), 'utf8');
  const instruction = (name: string) =>
    dockerfile
      .split('\n')
      .filter((line) => line.startsWith(`${name} `))
      .map((line) => line.slice(name.length + 1).trim());

  it('builds on node:24-slim, installs production dependencies only and runs as a non-root user', () => {
    assert.deepEqual(instruction('FROM'), ['node:24-slim']);
    assert.ok(instruction('RUN').some((run) => run.includes('npm ci --omit=dev')));
    assert.deepEqual(instruction('USER'), ['node']);
    assert.deepEqual(instruction('CMD'), ['["node", "--import", "tsx", "fargate/main.ts"]']);
  });

  it('exposes exactly the container ports the stack maps', () => {
    const exposed = instruction('EXPOSE')
      .flatMap((ports) => ports.split(/\s+/))
      .map(Number);
    assert.deepEqual(exposed.sort(), LISTENER_PORTS.map((p) => p.containerPort).sort());
  });
});
