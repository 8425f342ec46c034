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
import { LISTENER_PORTS } from '../../infra/listener-ports.ts';
import { containerHealthCommand, LISTENER_GROUPS } from '../../infra/listeners.ts';
import { REPO_ROOT } from '../../infra/marmot-app.ts';
import {
  actionsOn,
  FULL_CONTEXT,
  listenerContainer,
  listenerService,
  logicalId,
  type MarmotSynthesis,
  ref,
  roleStatements,
  synthesizeMarmot,
  type TemplateJson,
  taskEnvironment,
  taskRoleId,
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

function containerPorts(names: readonly string[]): number[] {
  return names.map((name) => LISTENER_PORTS.find((p) => p.name === name)!.containerPort);
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
      // 4190 has no server yet, so its targets are checked on IMAP's port; the rest on their own.
      assert.equal(targetGroup.HealthCheckPort, port === 4190 ? '1143' : undefined, `health check port of ${port}`);
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

  it('let the tasks be reached only from the load balancer, on their own ports, and call out only over HTTPS', () => {
    for (const group of LISTENER_GROUPS) {
      const service = listenerService(plain, group.name);
      const [taskGroup] = service.service.connections.securityGroups;
      const groupId = JSON.stringify({ 'Fn::GetAtt': [logicalId(taskGroup!), 'GroupId'] });
      const ingress = resourcesOfType(plain, 'AWS::EC2::SecurityGroupIngress')
        .map(([, r]) => r.Properties)
        .filter((r) => JSON.stringify(r.GroupId) === groupId);
      assert.deepEqual(
        ingress.map((r) => r.FromPort).sort((a, b) => a - b),
        containerPorts(group.listeners).sort((a, b) => a - b),
      );
      for (const rule of ingress) {
        assert.deepEqual(rule.SourceSecurityGroupId, { 'Fn::GetAtt': [logicalId(loadBalancerGroup), 'GroupId'] });
        assert.equal(rule.CidrIp, undefined);
      }
      const egress = plain.json.Resources[logicalId(taskGroup!)]!.Properties.SecurityGroupEgress;
      assert.deepEqual(
        egress.map((r: TemplateJson) => [r.CidrIp, r.IpProtocol, r.FromPort, r.ToPort]),
        [['0.0.0.0/0', 'tcp', 443, 443]],
        'the tasks only call AWS APIs over HTTPS',
      );
      const serviceResource = plain.json.Resources[logicalId(service.service)]!;
      const network = serviceResource.Properties.NetworkConfiguration.AwsvpcConfiguration;
      assert.equal(network.AssignPublicIp, 'DISABLED');
      assert.deepEqual(
        network.Subnets,
        plain.stack.network.vpc.privateSubnets.map((subnet) => ref(subnet)),
      );
    }
    assert.equal(resourcesOfType(plain, 'AWS::EC2::SecurityGroupIngress').length, LISTENER_PORTS.length);
  });
});

describe('listener services', () => {
  it('split the six listeners between two services, none over the ECS limit of five target groups', () => {
    const served = LISTENER_GROUPS.flatMap((g) => g.listeners).sort();
    assert.deepEqual(served, LISTENER_PORTS.map((p) => p.name).sort());
    const services = resourcesOfType(plain, 'AWS::ECS::Service');
    assert.equal(services.length, 2);
    for (const [, service] of services) assert.ok(service.Properties.LoadBalancers.length <= 5);
  });

  it('run the image built from fargate/Dockerfile for arm64', () => {
    const manifest = JSON.parse(readFileSync(join(plain.outdir, `${plain.stack.stackName}.assets.json`), 'utf8'));
    const images = Object.values(manifest.dockerImages) as {
      source: { directory: string; dockerFile: string; platform: string };
    }[];
    assert.equal(images.length, 1, 'both services run the same image');
    const [{ source }] = images as [(typeof images)[number]];
    assert.equal(source.dockerFile, 'fargate/Dockerfile');
    assert.equal(source.platform, 'linux/arm64');
    for (const group of LISTENER_GROUPS) {
      const task = plain.json.Resources[logicalId(listenerService(plain, group.name).taskDefinition)]!;
      assert.deepEqual(task.Properties.RuntimePlatform, { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    }

    // The build context is staged through .dockerignore: the Dockerfile and lockfile in, dev trees out.
    const context = join(plain.outdir, source.directory);
    assert.ok(existsSync(join(context, 'fargate', 'Dockerfile')));
    assert.ok(existsSync(join(context, 'package-lock.json')));
    for (const excluded of ['node_modules', 'test', 'infra', 'tmp', '.git']) {
      assert.equal(existsSync(join(context, excluded)), false, `${excluded} must not be in the image`);
    }
  });

  it('tell each container its listeners, the ports, the proxy protocol and where the certificate is', () => {
    for (const group of LISTENER_GROUPS) {
      const env = taskEnvironment(plain, group.name);
      assert.equal(env.MARMOT_LISTENERS, group.listeners.join(','));
      for (const port of LISTENER_PORTS) assert.equal(env[port.envVar], String(port.containerPort));
      assert.equal(env.MARMOT_PROXY_PROTOCOL, 'v2');
      assert.equal(env.MARMOT_LISTEN_HOST, '0.0.0.0');
      assert.deepEqual(env.MARMOT_TLS_SECRET_ARN, ref(plain.stack.listeners.tlsSecret));
      // The root filesystem is read-only; the data directory sits on the writable /tmp volume.
      assert.equal(env.MARMOT_DATA_DIR, '/tmp/marmot');
      assert.deepEqual(listenerContainer(plain, group.name).MountPoints, [
        { ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' },
      ]);
      const mappings = listenerContainer(plain, group.name).PortMappings.map(
        (m: { ContainerPort: number }) => m.ContainerPort,
      );
      assert.deepEqual(mappings, containerPorts(group.listeners));
    }
  });

  it('are read-only, health-checked on their first port, and given a stop timeout to drain', () => {
    assert.deepEqual(listenerContainer(plain, 'transfer').HealthCheck.Command, containerHealthCommand(2525));
    assert.deepEqual(listenerContainer(plain, 'access').HealthCheck.Command, containerHealthCommand(1143));
    for (const group of LISTENER_GROUPS) {
      const definition = listenerContainer(plain, group.name);
      assert.equal(definition.ReadonlyRootFilesystem, true);
      assert.equal(definition.StopTimeout, 120);
    }
  });

  it('deploy with a rollback circuit breaker and never below the running capacity', () => {
    for (const group of LISTENER_GROUPS) {
      const service = plain.json.Resources[logicalId(listenerService(plain, group.name).service)]!;
      const deployment = service.Properties.DeploymentConfiguration;
      assert.deepEqual(deployment.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
      assert.equal(deployment.MinimumHealthyPercent, 100);
      const ports = service.Properties.LoadBalancers.map((l: { ContainerPort: number }) => l.ContainerPort);
      assert.deepEqual(ports.sort(), containerPorts(group.listeners).sort());
    }
  });

  it('scale between the configured bounds on CPU, and the access service also on connections per task', () => {
    const targets = resourcesOfType(plain, 'AWS::ApplicationAutoScaling::ScalableTarget');
    assert.equal(targets.length, 2);
    for (const [, target] of targets) {
      assert.equal(target.Properties.MinCapacity, 2);
      assert.equal(target.Properties.MaxCapacity, 6);
      assert.equal(target.Properties.ScalableDimension, 'ecs:service:DesiredCount');
    }
    const policies = resourcesOfType(plain, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(
      ([, p]) => p.Properties.TargetTrackingScalingPolicyConfiguration,
    );
    const cpu = policies.filter((p) => p.PredefinedMetricSpecification);
    assert.equal(cpu.length, 2);
    for (const policy of cpu) {
      assert.equal(policy.PredefinedMetricSpecification.PredefinedMetricType, 'ECSServiceAverageCPUUtilization');
      assert.equal(policy.TargetValue, 55);
    }
    const connections = policies.filter((p) => p.CustomizedMetricSpecification);
    assert.equal(connections.length, 1);
    const [configuration] = connections;
    assert.equal(configuration.TargetValue, 1500);
    const byId = Object.fromEntries(
      configuration.CustomizedMetricSpecification.Metrics.map((m: { Id: string }) => [m.Id, m]),
    );
    assert.equal(byId.flows.MetricStat.Metric.MetricName, 'ActiveFlowCount');
    assert.deepEqual(byId.flows.MetricStat.Metric.Dimensions[0].Value, {
      'Fn::GetAtt': [logicalId(plain.stack.listeners.loadBalancer), 'LoadBalancerFullName'],
    });
    assert.equal(byId.tasks.MetricStat.Metric.MetricName, 'RunningTaskCount');
    const serviceDimension = byId.tasks.MetricStat.Metric.Dimensions.find(
      (d: { Name: string }) => d.Name === 'ServiceName',
    );
    assert.deepEqual(serviceDimension.Value, {
      'Fn::GetAtt': [logicalId(listenerService(plain, 'access').service), 'Name'],
    });
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
  const read = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];

  it('is created empty when none is given, and both services may read it', () => {
    plain.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      SecretString: JSON.stringify({ certificate: '', privateKey: '' }),
    });
    for (const group of LISTENER_GROUPS) {
      const grants = roleStatements(plain.json, taskRoleId(plain, group.name));
      assert.deepEqual(actionsOn(grants, ref(plain.stack.listeners.tlsSecret)), read);
    }
  });

  it('is the given secret when tlsSecretArn is set (nothing created)', () => {
    assert.equal(resourcesOfType(withCertificate, 'AWS::SecretsManager::Secret').length, 0);
    for (const group of LISTENER_GROUPS) {
      assert.equal(taskEnvironment(withCertificate, group.name).MARMOT_TLS_SECRET_ARN, TLS_SECRET_ARN);
      const grants = roleStatements(withCertificate.json, taskRoleId(withCertificate, group.name));
      assert.deepEqual(actionsOn(grants, TLS_SECRET_ARN), read);
    }
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
