/**
 * Alarms and dashboard: built on the names in shared/metrics/metric-names.ts, every alarm notifies the
 * one topic, and each promised alarm exists (function errors, 4xx/5xx rates, unhealthy targets,
 * queue age).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { REPLY_RATE_THRESHOLDS } from '../../infra/observability.ts';
import { METRICS_NAMESPACE, Metric, MetricDimension, MetricService } from '../../shared/metrics/metric-names.ts';
import {
  ALL_FUNCTIONS,
  FULL_CONTEXT,
  logicalId,
  type MarmotSynthesis,
  ref,
  synthesizeMarmot,
  type TemplateJson,
} from './synthesize-marmot.ts';

const full: MarmotSynthesis = synthesizeMarmot({ context: { ...FULL_CONTEXT, queueAgeAlarmSeconds: 1800 } });
const minimal: MarmotSynthesis = synthesizeMarmot({ handlers: [] });
after(() => {
  full.cleanup();
  minimal.cleanup();
});

function alarms(synthesis: MarmotSynthesis): TemplateJson[] {
  return Object.values(synthesis.json.Resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties);
}

function alarmNamed(synthesis: MarmotSynthesis, description: string): TemplateJson {
  const alarm = alarms(synthesis).find((a) => a.AlarmDescription === `Marmot: ${description}`);
  assert.ok(alarm, `alarm "${description}"`);
  return alarm;
}

/** The metrics an alarm reads, whether it has one metric or a math expression. */
function metricsOf(alarm: TemplateJson): { Namespace: string; MetricName: string; Dimensions?: TemplateJson[] }[] {
  if (alarm.MetricName) return [alarm];
  return alarm.Metrics.filter((m: TemplateJson) => m.MetricStat).map((m: TemplateJson) => m.MetricStat.Metric);
}

describe('metric names', () => {
  it('are unique, and each is emitted with the service dimension first', () => {
    const names = Object.values(Metric).map((m) => m.name);
    assert.equal(new Set(names).size, names.length);
    for (const [key, metric] of Object.entries(Metric)) {
      assert.equal(metric.name, key);
      assert.deepEqual(metric.dimensionSets[0], [MetricDimension.Service]);
    }
  });
});

describe('alarms', () => {
  const topic = ref(full.stack.observability.topic);

  it('all notify the alarm topic, on alarm and on recovery', () => {
    assert.ok(alarms(full).length > 10);
    for (const alarm of alarms(full)) {
      assert.deepEqual(alarm.AlarmActions, [topic], alarm.AlarmDescription);
      assert.deepEqual(alarm.OKActions, [topic], alarm.AlarmDescription);
    }
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: FULL_CONTEXT.alarmEmail,
      TopicArn: topic,
    });
  });

  it('watch the errors of every function', () => {
    for (const name of ALL_FUNCTIONS) {
      const alarm = alarmNamed(full, `${name} function errors`);
      assert.equal(alarm.Namespace, 'AWS/Lambda');
      assert.equal(alarm.MetricName, 'Errors');
      assert.deepEqual(alarm.Dimensions, [
        { Name: 'FunctionName', Value: ref(full.stack.functions.byName.get(name)!) },
      ]);
      assert.equal(alarm.Threshold, 1);
    }
  });

  it('watch the 4xx and 5xx reply rates of smtp and submission from the Marmot metrics', () => {
    for (const { service, deferredPercent, rejectedPercent } of REPLY_RATE_THRESHOLDS) {
      for (const [kind, threshold, outcome] of [
        ['4xx', deferredPercent, Metric.MessagesDeferred.name],
        ['5xx', rejectedPercent, Metric.MessagesRejected.name],
      ] as const) {
        const alarm = alarmNamed(full, `${service} ${kind} rate`);
        assert.equal(alarm.Threshold, threshold);
        const read = metricsOf(alarm);
        for (const metric of read) {
          assert.equal(metric.Namespace, METRICS_NAMESPACE);
          assert.deepEqual(metric.Dimensions, [{ Name: MetricDimension.Service, Value: service }]);
        }
        const names = new Set(read.map((m) => m.MetricName));
        for (const name of [Metric.MessagesAccepted.name, Metric.MessagesDeferred.name, outcome]) {
          assert.ok(names.has(name), `${service} ${kind} reads ${name}`);
        }
        const expression = alarm.Metrics.find((m: TemplateJson) => m.Expression);
        assert.match(expression.Expression, /100\*FILL\(outcome,0\)/);
      }
    }
  });

  it('watch every target group for unhealthy targets, and each service for having none healthy', () => {
    for (const [name, targetGroup] of full.stack.listeners.targetGroups) {
      const alarm = alarmNamed(full, `${name} unhealthy targets`);
      assert.equal(alarm.MetricName, 'UnHealthyHostCount');
      const dimension = alarm.Dimensions.find((d: TemplateJson) => d.Name === 'TargetGroup');
      assert.deepEqual(dimension.Value, { 'Fn::GetAtt': [logicalId(targetGroup), 'TargetGroupFullName'] });
    }
    for (const [service, listener] of [
      ['transfer', 'smtp'],
      ['access', 'imap'],
    ] as const) {
      const none = alarmNamed(full, `no healthy ${service} target`);
      assert.equal(none.MetricName, 'HealthyHostCount');
      const dimension = none.Dimensions.find((d: TemplateJson) => d.Name === 'TargetGroup');
      const targetGroup = full.stack.listeners.targetGroups.get(listener)!;
      assert.deepEqual(dimension.Value, { 'Fn::GetAtt': [logicalId(targetGroup), 'TargetGroupFullName'] });
      assert.equal(none.ComparisonOperator, 'LessThanThreshold');
      assert.equal(none.TreatMissingData, 'breaching');
    }
  });

  it('watch the age of the outbound queue against the configured limit', () => {
    const alarm = alarmNamed(full, 'outbound queue age');
    const [metric] = metricsOf(alarm);
    assert.equal(metric?.Namespace, METRICS_NAMESPACE);
    assert.equal(metric?.MetricName, Metric.QueueOldestAgeSeconds.name);
    assert.deepEqual(metric?.Dimensions, [{ Name: MetricDimension.Service, Value: MetricService.Outbound }]);
    assert.equal(alarm.Threshold, 1800);
  });

  it('watch SES reputation only when the stack sends through SES', () => {
    assert.equal(alarmNamed(full, 'SES bounce rate').MetricName, 'Reputation.BounceRate');
    assert.equal(alarmNamed(full, 'SES complaint rate').MetricName, 'Reputation.ComplaintRate');
    assert.equal(
      alarms(minimal).some((a) => String(a.MetricName).startsWith('Reputation.')),
      false,
    );
  });

  it('have no function alarms for functions that are not deployed', () => {
    assert.equal(
      alarms(minimal).some((a) => a.Namespace === 'AWS/Lambda'),
      false,
    );
  });
});

describe('topic', () => {
  it('refuses publishers without TLS', () => {
    full.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: '*',
            Resource: ref(full.stack.observability.topic),
            Sid: 'AllowPublishThroughSSLOnly',
          },
        ],
      },
    });
  });
});

describe('dashboard', () => {
  const body = JSON.stringify(
    Object.values(full.json.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!.Properties.DashboardBody,
  );

  it('graphs the Marmot metrics by their shared names', () => {
    for (const metric of [
      Metric.MessagesAccepted,
      Metric.MessagesRejected,
      Metric.MessagesDeferred,
      Metric.Deliveries,
      Metric.DeliveryFailures,
      Metric.ImapSessions,
      Metric.ImapCommands,
      Metric.AuthFailures,
      Metric.QueueDepth,
      Metric.QueueOldestAgeSeconds,
    ]) {
      assert.ok(body.includes(metric.name), metric.name);
    }
    assert.ok(body.includes(`SEARCH('{${METRICS_NAMESPACE},${MetricDimension.Service},${MetricDimension.Reason}}`));
  });

  it('graphs every function and the load balancer', () => {
    for (const name of ALL_FUNCTIONS) {
      assert.ok(body.includes(logicalId(full.stack.functions.byName.get(name)!)), name);
    }
    assert.ok(body.includes('ActiveFlowCount'));
    assert.ok(body.includes('HealthyHostCount'));
  });
});
