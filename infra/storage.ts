/**
 * Where the mail lives: the metadata table, the message bucket (with its KMS key and access logs) and
 * the key vault's KMS key. Everything here is retained when the stack is deleted: losing mail because
 * a stack was torn down is the failure this system must never have.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { MarmotSettings } from './settings.ts';
import type { StoreResources } from './store-access.ts';

/** DynamoDB's point-in-time recovery window (the maximum). */
const PITR_DAYS = 35;
/** Unfinished multipart uploads (a crashed put) are aborted after this. */
const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;

export class MailStorage extends Construct implements StoreResources {
  readonly table: Table;
  readonly bucket: Bucket;
  readonly bucketKey: Key;
  readonly vaultKey: Key;
  /** Server access logs of the message bucket, load balancer access logs and VPC flow logs. */
  readonly logBucket: Bucket;

  constructor(scope: Construct, id: string, settings: MarmotSettings) {
    super(scope, id);

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      // TTL only reclaims space; readers filter expired items themselves (TTL deletion lags by days).
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: PITR_DAYS },
      deletionProtection: true,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.logBucket = new Bucket(this, 'Logs', {
      // S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(settings.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucketKey = new Key(this, 'MessageKey', {
      description: 'Marmot: encrypts the message bucket (raw messages, spool, quarantine)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new Bucket(this, 'Messages', {
      encryption: BucketEncryption.KMS,
      encryptionKey: this.bucketKey,
      // One data key per bucket and period instead of one KMS call per object.
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Message blobs are immutable and deleted only by the expire job after the retention period,
      // so versions would only keep purged mail (and its cost) around.
      versioned: false,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'messages-bucket/',
      lifecycleRules: [
        {
          id: 'expire-spool',
          prefix: 'spool/',
          expiration: Duration.days(settings.spoolExpirationDays),
        },
        {
          id: 'expire-quarantine',
          prefix: 'quarantine/',
          expiration: Duration.days(settings.quarantineExpirationDays),
        },
        {
          id: 'abort-incomplete-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(ABORT_INCOMPLETE_UPLOAD_DAYS),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.vaultKey = new Key(this, 'VaultKey', {
      description: 'Marmot key vault: wraps DKIM private keys and legacy SASL verifiers (envelope encryption)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
