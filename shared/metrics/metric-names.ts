/**
 * The one naming scheme for Marmot's CloudWatch metrics (embedded metric format).
 *
 * The listeners write EMF lines to stdout (the task's log driver ships them to CloudWatch Logs, which
 * extracts the metrics); the Lambdas emit through Powertools Metrics. Both use these names, so the
 * dashboard and the alarms the CDK stack builds from this file match what the code emits.
 *
 * Every metric carries the `service` dimension (Powertools' default dimension, named the same way by the
 * listeners): which listener or function emitted it. Metrics with a breakdown (a rejection reason, an
 * IMAP command) are emitted with two dimension sets, `[service]` for the total the alarms watch and
 * `[service, <breakdown>]` for the dashboard.
 */

export const METRICS_NAMESPACE = 'Marmot';

/** Dimension names. `service` is lower-case because Powertools adds it under that name. */
export const MetricDimension = {
  Service: 'service',
  Reason: 'Reason',
  Command: 'Command',
  Mechanism: 'Mechanism',
} as const;

/** Values of the `service` dimension: the listeners, the outbound queue and the functions. */
export const MetricService = {
  Smtp: 'smtp',
  Submission: 'submission',
  Imap: 'imap',
  ManageSieve: 'managesieve',
  Outbound: 'outbound',
  Scan: 'scan',
  Filter: 'filter',
  DkimSign: 'dkim-sign',
  Expire: 'expire',
  SesInbound: 'ses-inbound',
} as const;
export type MetricServiceName = (typeof MetricService)[keyof typeof MetricService];

export type MetricUnit = 'Count' | 'Seconds' | 'Milliseconds' | 'Bytes';

export interface MetricDefinition {
  name: string;
  unit: MetricUnit;
  /** The dimension sets each data point is emitted with; the first is the one alarms use. */
  dimensionSets: readonly (readonly string[])[];
  description: string;
}

const service = [MetricDimension.Service] as const;
const byReason = [MetricDimension.Service, MetricDimension.Reason] as const;

export const Metric = {
  MessagesAccepted: {
    name: 'MessagesAccepted',
    unit: 'Count',
    dimensionSets: [service],
    description: 'Messages answered 250 after DATA/BDAT (smtp, submission) or taken over from SES (ses-inbound).',
  },
  MessagesRejected: {
    name: 'MessagesRejected',
    unit: 'Count',
    dimensionSets: [service, byReason],
    description: 'Transactions answered with a 5xx reply, by reason.',
  },
  MessagesDeferred: {
    name: 'MessagesDeferred',
    unit: 'Count',
    dimensionSets: [service, byReason],
    description: 'Transactions answered with a 4xx reply (greylisting, a failing or slow Lambda, quota), by reason.',
  },
  Deliveries: {
    name: 'Deliveries',
    unit: 'Count',
    dimensionSets: [service],
    description: 'Messages stored into a local mailbox (one per recipient) or handed to the outbound transport.',
  },
  DeliveryFailures: {
    name: 'DeliveryFailures',
    unit: 'Count',
    dimensionSets: [service, byReason],
    description: 'Outbound deliveries that failed permanently (a DSN was sent to the sender).',
  },
  ImapSessions: {
    name: 'ImapSessions',
    unit: 'Count',
    dimensionSets: [service],
    description: 'IMAP sessions opened (after the greeting, before authentication).',
  },
  ImapCommands: {
    name: 'ImapCommands',
    unit: 'Count',
    dimensionSets: [service, [MetricDimension.Service, MetricDimension.Command]],
    description: 'IMAP commands executed, by command name.',
  },
  AuthFailures: {
    name: 'AuthFailures',
    unit: 'Count',
    dimensionSets: [service, [MetricDimension.Service, MetricDimension.Mechanism]],
    description: 'Failed AUTHENTICATE/LOGIN/AUTH attempts, by SASL mechanism.',
  },
  ActiveConnections: {
    name: 'ActiveConnections',
    unit: 'Count',
    dimensionSets: [service],
    description: 'Open client connections of one listener process, sampled once a minute.',
  },
  QueueDepth: {
    name: 'QueueDepth',
    unit: 'Count',
    dimensionSets: [service],
    description: 'Messages waiting in the outbound queue (service "outbound"), sampled once a minute.',
  },
  QueueOldestAgeSeconds: {
    name: 'QueueOldestAgeSeconds',
    unit: 'Seconds',
    dimensionSets: [service],
    description: 'Age of the oldest message in the outbound queue, sampled once a minute.',
  },
  MessagesSigned: {
    name: 'MessagesSigned',
    unit: 'Count',
    dimensionSets: [service],
    description: "Outbound messages the dkim-sign function signed with the sender domain's active key.",
  },
  MessagesUnsigned: {
    name: 'MessagesUnsigned',
    unit: 'Count',
    dimensionSets: [service, byReason],
    description: 'Outbound messages sent without a DKIM signature: no active key for the domain, or not signable.',
  },
  ExpiredItems: {
    name: 'ExpiredItems',
    unit: 'Count',
    dimensionSets: [service],
    description: 'Expunged messages, deleted folders and blobs the expire job purged.',
  },
} as const satisfies Record<string, MetricDefinition>;

/** Reasons for MessagesRejected / MessagesDeferred / DeliveryFailures; emitters use these values. */
export const MetricReason = {
  UnknownRecipient: 'unknown-recipient',
  RelayDenied: 'relay-denied',
  SenderNotOwned: 'sender-not-owned',
  Spam: 'spam',
  Malware: 'malware',
  Policy: 'policy',
  TooLarge: 'too-large',
  OverQuota: 'over-quota',
  Greylisted: 'greylisted',
  RateLimited: 'rate-limited',
  FunctionFailed: 'function-failed',
  StoreFailed: 'store-failed',
  RemoteRejected: 'remote-rejected',
  /** An outbound message still undelivered when its queue lifetime ran out. */
  Expired: 'expired',
  NoDkimKey: 'no-dkim-key',
  Unsignable: 'unsignable',
} as const;
