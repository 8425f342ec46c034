/**
 * The deployment's parameters: read once from CDK context (`cdk.json`, `cdk.context.json` or
 * `-c key=value` on the command line), checked, and completed with defaults.
 *
 * Context values come as JSON values from the files and as strings from the command line, so every
 * reader accepts both (`-c domains=a.example,b.example` and `"domains": ["a.example", "b.example"]`).
 * Anything malformed is a SettingsError naming the key, raised before any resource is defined.
 */

export interface MarmotSettings {
  /** CloudFormation stack name. */
  stackName: string;
  /** Region the stack deploys to; the account comes from the credentials at deploy time. */
  region: string;
  /** Name the listeners give themselves (greeting, Received headers) and the MX target. */
  hostname: string;
  /** Mail domains served: SES identities for outbound, DNS records in the outputs, SES receiving. */
  domains: string[];
  /** ACM certificate for 465 and 993 on the load balancer; without one those ports pass TLS through. */
  certificateArn?: string;
  /** Existing Secrets Manager secret with the listeners' certificate; one is created when absent. */
  tlsSecretArn?: string;
  /** Days expunged mail and deleted folders are kept before the expire job purges them. */
  retentionDays: number;
  /** Days after which leftover objects under spool/ are removed by an S3 lifecycle rule. */
  spoolExpirationDays: number;
  /** Days quarantine copies of rejected messages are kept. */
  quarantineExpirationDays: number;
  /** Retention of CloudWatch log groups and of the access-log bucket. */
  logRetentionDays: number;
  /** Fargate capacity: task size and the autoscaling range. */
  taskCpu: number;
  taskMemoryMiB: number;
  minTasks: number;
  maxTasks: number;
  /** Target tracking: open connections per task, and average CPU percent. */
  connectionsPerTask: number;
  cpuTargetPercent: number;
  /** NAT gateways of the VPC: 1 (cheaper) or 2 (one per availability zone). */
  natGateways: number;
  /** Hour (UTC) the expire job runs every night. */
  expireHourUtc: number;
  /** Alarm when the oldest message in the outbound queue is older than this. */
  queueAgeAlarmSeconds: number;
  /** Subscribed to the alarm topic when given. */
  alarmEmail?: string;
  /** Also receive mail through SES (receipt rule → S3 → the ses-inbound function). */
  sesReceiving: boolean;
}

export const DEFAULT_SETTINGS: MarmotSettings = {
  stackName: 'Marmot',
  region: 'eu-west-1',
  hostname: 'mail.example.com',
  domains: [],
  retentionDays: 30,
  spoolExpirationDays: 14,
  quarantineExpirationDays: 30,
  logRetentionDays: 90,
  taskCpu: 512,
  taskMemoryMiB: 1024,
  minTasks: 1,
  maxTasks: 4,
  connectionsPerTask: 2000,
  cpuTargetPercent: 60,
  natGateways: 1,
  expireHourUtc: 3,
  queueAgeAlarmSeconds: 3600,
  sesReceiving: false,
};

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Fargate (Linux) task sizes: the memory values (MiB) allowed for each CPU value (1/1024 vCPU). */
const FARGATE_MEMORY_BY_CPU: Record<number, readonly number[]> = {
  256: [512, 1024, 2048],
  512: memorySteps(1024, 4096, 1024),
  1024: memorySteps(2048, 8192, 1024),
  2048: memorySteps(4096, 16384, 1024),
  4096: memorySteps(8192, 30720, 1024),
  8192: memorySteps(16384, 61440, 4096),
  16384: memorySteps(32768, 122880, 8192),
};

/**
 * The stack has a region but no account at synth time (so synth needs no credentials); CDK then
 * spreads the VPC over two availability zones, which it cannot look up further.
 */
export const AVAILABILITY_ZONES = 2;
const MAX_TASKS = 100;
const MAX_DOMAINS = 100;
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const MAX_DNS_NAME_LENGTH = 253;
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ACM_CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
/** A complete secret ARN ends in the six random characters Secrets Manager appends to the name. */
const SECRET_COMPLETE_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** What settings are read from: a construct node's context in the app, a plain object in tests. */
export type ContextSource = (key: string) => unknown;

export function readSettings(context: ContextSource): MarmotSettings {
  const d = DEFAULT_SETTINGS;
  const settings: MarmotSettings = {
    stackName: matching(context, 'stackName', STACK_NAME, d.stackName),
    region: matching(context, 'region', REGION, d.region),
    hostname: dnsName(context, 'hostname', d.hostname),
    domains: domainList(context, 'domains'),
    certificateArn: optionalMatching(context, 'certificateArn', ACM_CERTIFICATE_ARN),
    tlsSecretArn: optionalMatching(context, 'tlsSecretArn', SECRET_COMPLETE_ARN),
    retentionDays: integer(context, 'retentionDays', d.retentionDays, 1, 3650),
    spoolExpirationDays: integer(context, 'spoolExpirationDays', d.spoolExpirationDays, 1, 365),
    quarantineExpirationDays: integer(context, 'quarantineExpirationDays', d.quarantineExpirationDays, 1, 3650),
    logRetentionDays: logRetention(context, 'logRetentionDays', d.logRetentionDays),
    taskCpu: integer(context, 'taskCpu', d.taskCpu, 256, 16384),
    taskMemoryMiB: integer(context, 'taskMemoryMiB', d.taskMemoryMiB, 512, 122880),
    minTasks: integer(context, 'minTasks', d.minTasks, 1, MAX_TASKS),
    maxTasks: integer(context, 'maxTasks', d.maxTasks, 1, MAX_TASKS),
    connectionsPerTask: integer(context, 'connectionsPerTask', d.connectionsPerTask, 10, 100_000),
    cpuTargetPercent: integer(context, 'cpuTargetPercent', d.cpuTargetPercent, 10, 90),
    natGateways: integer(context, 'natGateways', d.natGateways, 1, AVAILABILITY_ZONES),
    expireHourUtc: integer(context, 'expireHourUtc', d.expireHourUtc, 0, 23),
    queueAgeAlarmSeconds: integer(context, 'queueAgeAlarmSeconds', d.queueAgeAlarmSeconds, 60, 7 * 86_400),
    alarmEmail: optionalMatching(context, 'alarmEmail', EMAIL),
    sesReceiving: boolean(context, 'sesReceiving', d.sesReceiving),
  };
  checkTaskSize(settings.taskCpu, settings.taskMemoryMiB);
  if (settings.minTasks > settings.maxTasks) {
    throw new SettingsError(`minTasks (${settings.minTasks}) must not exceed maxTasks (${settings.maxTasks})`);
  }
  if (settings.sesReceiving && settings.domains.length === 0) {
    throw new SettingsError('sesReceiving needs at least one entry in domains (the receipt rule matches them)');
  }
  return settings;
}

function raw(context: ContextSource, key: string): unknown {
  const value = context(key);
  return value === '' ? undefined : value;
}

function text(context: ContextSource, key: string): string | undefined {
  const value = raw(context, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new SettingsError(`${key} must be a string, not ${JSON.stringify(value)}`);
  return value.trim();
}

function matching(context: ContextSource, key: string, pattern: RegExp, fallback: string): string {
  return optionalMatching(context, key, pattern) ?? fallback;
}

function optionalMatching(context: ContextSource, key: string, pattern: RegExp): string | undefined {
  const value = text(context, key);
  if (value === undefined) return undefined;
  if (!pattern.test(value)) throw new SettingsError(`${key} is malformed: ${JSON.stringify(value)}`);
  return value;
}

function integer(context: ContextSource, key: string, fallback: number, min: number, max: number): number {
  const value = raw(context, key);
  if (value === undefined || value === null) return fallback;
  const number = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new SettingsError(`${key} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return number;
}

function boolean(context: ContextSource, key: string, fallback: boolean): boolean {
  const value = raw(context, key);
  if (value === undefined || value === null) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new SettingsError(`${key} must be true or false, not ${JSON.stringify(value)}`);
}

function logRetention(context: ContextSource, key: string, fallback: number): number {
  const days = integer(context, key, fallback, 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(days)) {
    throw new SettingsError(`${key} must be one of ${LOG_RETENTION_DAYS.join(', ')}, not ${days}`);
  }
  return days;
}

function isDnsName(name: string): boolean {
  return name.length <= MAX_DNS_NAME_LENGTH && name.includes('.') && name.split('.').every((l) => DNS_LABEL.test(l));
}

function dnsName(context: ContextSource, key: string, fallback: string): string {
  const value = text(context, key)?.toLowerCase();
  if (value === undefined) return fallback;
  if (!isDnsName(value)) throw new SettingsError(`${key} must be a fully qualified domain name, not ${value}`);
  return value;
}

function domainList(context: ContextSource, key: string): string[] {
  const value = raw(context, key);
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
    throw new SettingsError(`${key} must be a list of domain names, not ${JSON.stringify(value)}`);
  }
  const domains = [...new Set(items.map((item) => item.trim().toLowerCase()).filter((item) => item !== ''))];
  if (domains.length > MAX_DOMAINS) throw new SettingsError(`${key} lists more than ${MAX_DOMAINS} domains`);
  for (const domain of domains) {
    if (!isDnsName(domain)) throw new SettingsError(`${key}: ${JSON.stringify(domain)} is not a domain name`);
  }
  return domains;
}

function memorySteps(min: number, max: number, step: number): number[] {
  return Array.from({ length: (max - min) / step + 1 }, (_, i) => min + i * step);
}

function checkTaskSize(cpu: number, memory: number): void {
  const allowed = FARGATE_MEMORY_BY_CPU[cpu];
  if (!allowed) {
    throw new SettingsError(`taskCpu must be one of ${Object.keys(FARGATE_MEMORY_BY_CPU).join(', ')}, not ${cpu}`);
  }
  if (!allowed.includes(memory)) {
    throw new SettingsError(`taskMemoryMiB for taskCpu ${cpu} must be one of ${allowed.join(', ')}, not ${memory}`);
  }
}
