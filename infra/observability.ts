/**
 * Alarms (to one SNS topic) and a dashboard, built from the metric names in
 * shared/metrics/metric-names.ts so they match what the listeners and functions emit, plus the AWS
 * metrics of the functions, the load balancer, the service and SES.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  Metric as MarmotMetric,
  METRICS_NAMESPACE,
  type MetricDefinition,
  MetricDimension,
  MetricService,
  type MetricServiceName,
} from '../shared/metrics/metric-names.ts';
import type { FunctionName } from './function-catalog.ts';
import type { MailListeners } from './listeners.ts';
import type { MarmotSettings } from './settings.ts';

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);
/** Reply-rate alarms look at this window and need this many transactions in it to mean anything. */
const REPLY_RATE_PERIOD = Duration.minutes(15);
const REPLY_RATE_MIN_TRANSACTIONS = 20;

/** Percent of transactions answered 4xx / 5xx that raises an alarm, per listener. */
export const REPLY_RATE_THRESHOLDS: readonly {
  service: MetricServiceName;
  deferredPercent: number;
  rejectedPercent: number;
}[] = [
  // An MX rejects a lot of spam and mail for unknown users; only a near-total rejection is a fault.
  { service: MetricService.Smtp, deferredPercent: 10, rejectedPercent: 90 },
  // Authenticated users rarely get 5xx; many of them mean broken submission.
  { service: MetricService.Submission, deferredPercent: 10, rejectedPercent: 50 },
];

/** A target unhealthy for this many consecutive minutes raises an alarm. */
const UNHEALTHY_MINUTES = 3;
/** SES reviews an account at 5% bounces and pauses it at 10%; complaints at 0.1% and 0.5%. */
const SES_BOUNCE_RATE_ALARM = 0.05;
const SES_COMPLAINT_RATE_ALARM = 0.001;

export interface ObservabilityProps {
  settings: MarmotSettings;
  functions: ReadonlyMap<FunctionName, IFunction>;
  listeners: MailListeners;
}

function marmotMetric(definition: MetricDefinition, service: MetricServiceName, statistic = 'Sum'): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: definition.name,
    dimensionsMap: { [MetricDimension.Service]: service },
    statistic,
    period: FIVE_MINUTES,
    label: `${service} ${definition.name}`,
  });
}

/** All series of a metric broken down by a dimension (dashboards only: alarms cannot use SEARCH). */
function breakdown(definition: MetricDefinition, dimension: string, label: string): MathExpression {
  return new MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${MetricDimension.Service},${dimension}} MetricName="${definition.name}"', 'Sum', 300)`,
    label,
    usingMetrics: {},
    period: FIVE_MINUTES,
  });
}

export class MailObservability extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { settings, functions, listeners } = props;

    // No SSE key: the topic carries alarm state changes only (names, thresholds), never mail content,
    // and a customer key would need a key policy letting CloudWatch use it.
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'Marmot alarms', enforceSSL: true });
    if (settings.alarmEmail) this.topic.addSubscription(new EmailSubscription(settings.alarmEmail));

    for (const [name, fn] of functions) {
      this.alarm(`${name} function errors`, fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), {
        threshold: 1,
        operator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    for (const { service, deferredPercent, rejectedPercent } of REPLY_RATE_THRESHOLDS) {
      this.alarm(`${service} 4xx rate`, replyRate(service, MarmotMetric.MessagesDeferred), {
        threshold: deferredPercent,
        operator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      this.alarm(`${service} 5xx rate`, replyRate(service, MarmotMetric.MessagesRejected), {
        threshold: rejectedPercent,
        operator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }

    for (const [name, targetGroup] of listeners.targetGroups) {
      this.alarm(
        `${name} unhealthy targets`,
        targetGroup.metrics.unHealthyHostCount({ period: ONE_MINUTE, statistic: 'Maximum' }),
        {
          threshold: 1,
          operator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: UNHEALTHY_MINUTES,
        },
      );
    }
    // A service with no healthy target for its first listener serves nobody (SMTP: the MX is down).
    for (const [name, service] of listeners.services) {
      const primary = listeners.targetGroups.get(service.group.listeners[0]!)!;
      this.alarm(
        `no healthy ${name} target`,
        primary.metrics.healthyHostCount({ period: ONE_MINUTE, statistic: 'Minimum' }),
        {
          threshold: 1,
          operator: ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 2,
          // No data from the load balancer about healthy hosts is as bad as zero.
          missing: TreatMissingData.BREACHING,
        },
      );
    }

    this.alarm(
      'outbound queue age',
      marmotMetric(MarmotMetric.QueueOldestAgeSeconds, MetricService.Outbound, 'Maximum'),
      {
        threshold: settings.queueAgeAlarmSeconds,
        operator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
      },
    );

    if (settings.domains.length > 0) {
      this.alarm('SES bounce rate', sesReputation('Reputation.BounceRate'), {
        threshold: SES_BOUNCE_RATE_ALARM,
        operator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      this.alarm('SES complaint rate', sesReputation('Reputation.ComplaintRate'), {
        threshold: SES_COMPLAINT_RATE_ALARM,
        operator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }

    this.dashboard = this.buildDashboard(functions, listeners);
  }

  private alarm(
    description: string,
    metric: IMetric,
    options: {
      threshold: number;
      operator: ComparisonOperator;
      evaluationPeriods?: number;
      missing?: TreatMissingData;
    },
  ): void {
    const alarm = new Alarm(
      this,
      description.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase()),
      {
        alarmDescription: `Marmot: ${description}`,
        metric,
        threshold: options.threshold,
        comparisonOperator: options.operator,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
      },
    );
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }

  private buildDashboard(functions: ReadonlyMap<FunctionName, IFunction>, listeners: MailListeners): Dashboard {
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });
    const mailServices = [MetricService.Smtp, MetricService.Submission];
    const fns = [...functions.values()];
    dashboard.addWidgets(
      new TextWidget({ markdown: '# Marmot Mail', width: 24, height: 1 }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }),
    );
    dashboard.addWidgets(
      graph(
        'Messages accepted',
        mailServices.map((s) => marmotMetric(MarmotMetric.MessagesAccepted, s)),
      ),
      graph('Rejected (5xx) by reason', [breakdown(MarmotMetric.MessagesRejected, MetricDimension.Reason, 'rejected')]),
      graph('Deferred (4xx) by reason', [breakdown(MarmotMetric.MessagesDeferred, MetricDimension.Reason, 'deferred')]),
    );
    dashboard.addWidgets(
      graph('Deliveries', [
        marmotMetric(MarmotMetric.Deliveries, MetricService.Smtp),
        marmotMetric(MarmotMetric.Deliveries, MetricService.Submission),
        marmotMetric(MarmotMetric.Deliveries, MetricService.Outbound),
      ]),
      graph('Outbound failures by reason', [
        breakdown(MarmotMetric.DeliveryFailures, MetricDimension.Reason, 'failures'),
      ]),
      graph(
        'Outbound queue',
        [marmotMetric(MarmotMetric.QueueDepth, MetricService.Outbound, 'Maximum')],
        [marmotMetric(MarmotMetric.QueueOldestAgeSeconds, MetricService.Outbound, 'Maximum')],
      ),
    );
    dashboard.addWidgets(
      graph('IMAP sessions', [marmotMetric(MarmotMetric.ImapSessions, MetricService.Imap)]),
      graph('IMAP commands', [breakdown(MarmotMetric.ImapCommands, MetricDimension.Command, 'commands')]),
      graph('Authentication failures', [
        breakdown(MarmotMetric.AuthFailures, MetricDimension.Mechanism, 'auth failures'),
      ]),
    );
    if (fns.length > 0) {
      dashboard.addWidgets(
        graph(
          'Function invocations',
          fns.map((fn) => fn.metricInvocations({ period: FIVE_MINUTES })),
        ),
        graph('Function errors and throttles', [
          ...fns.map((fn) => fn.metricErrors({ period: FIVE_MINUTES })),
          ...fns.map((fn) => fn.metricThrottles({ period: FIVE_MINUTES })),
        ]),
        graph(
          'Function duration p99',
          fns.map((fn) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' })),
        ),
      );
    }
    const targetGroups = [...listeners.targetGroups.entries()];
    dashboard.addWidgets(
      graph(
        'Load balancer connections',
        [listeners.loadBalancer.metrics.activeFlowCount({ period: FIVE_MINUTES })],
        [listeners.loadBalancer.metrics.newFlowCount({ period: FIVE_MINUTES })],
      ),
      graph(
        'Healthy targets',
        targetGroups.map(([name, tg]) =>
          tg.metrics.healthyHostCount({ period: ONE_MINUTE, statistic: 'Minimum', label: name }),
        ),
      ),
      graph(
        'Listener CPU % (left) / memory % (right)',
        [...listeners.services.values()].map((s) =>
          s.service.metricCpuUtilization({ period: FIVE_MINUTES, label: `${s.group.name} CPU` }),
        ),
        [...listeners.services.values()].map((s) =>
          s.service.metricMemoryUtilization({ period: FIVE_MINUTES, label: `${s.group.name} memory` }),
        ),
      ),
    );
    return dashboard;
  }
}

/** Percent of a listener's transactions that ended with the given reply class (0 below the minimum volume). */
function replyRate(service: MetricServiceName, outcome: MetricDefinition): MathExpression {
  const period = REPLY_RATE_PERIOD;
  const total = 'FILL(accepted,0)+FILL(deferred,0)+FILL(rejected,0)';
  return new MathExpression({
    expression: `IF((${total}) >= ${REPLY_RATE_MIN_TRANSACTIONS}, 100*FILL(outcome,0)/(${total}), 0)`,
    usingMetrics: {
      accepted: marmotMetric(MarmotMetric.MessagesAccepted, service).with({ period }),
      deferred: marmotMetric(MarmotMetric.MessagesDeferred, service).with({ period }),
      rejected: marmotMetric(MarmotMetric.MessagesRejected, service).with({ period }),
      outcome: marmotMetric(outcome, service).with({ period }),
    },
    period,
    label: `${service} ${outcome.name} %`,
  });
}

function sesReputation(metricName: string): Metric {
  return new Metric({ namespace: 'AWS/SES', metricName, statistic: 'Maximum', period: Duration.hours(1) });
}

function graph(title: string, left: IMetric[], right: IMetric[] = []): GraphWidget {
  return new GraphWidget({ title, left, right, width: 8, height: 6 });
}
