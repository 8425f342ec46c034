/** The store the AWS adapters use: one table, the message bucket, the keys, and how they are protected. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { arnOf, logicalId, type MarmotSynthesis, ref, synthesizeMarmot } from './synthesize-marmot.ts';

const synthesis: MarmotSynthesis = synthesizeMarmot({
  context: { spoolExpirationDays: 7, quarantineExpirationDays: 45, logRetentionDays: 365 },
});
after(() => synthesis.cleanup());
const { template, json, stack } = synthesis;
const { table, bucket, bucketKey, vaultKey, logBucket } = stack.storage;

describe('metadata table', () => {
  const properties = json.Resources[logicalId(table)]!.Properties;

  it('has string keys pk (HASH) and sk (RANGE) and no secondary index', () => {
    assert.deepEqual(properties.KeySchema, [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(properties.AttributeDefinitions, [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
    assert.equal(properties.GlobalSecondaryIndexes, undefined);
    assert.equal(Object.keys(template.findResources('AWS::DynamoDB::Table')).length, 1);
  });

  it('is on-demand, with point-in-time recovery, deletion protection, TTL on expiresAt, encrypted', () => {
    assert.equal(properties.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(properties.DeletionProtectionEnabled, true);
    assert.deepEqual(properties.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
    assert.equal(properties.SSESpecification.SSEEnabled, true);
  });

  it('survives deletion of the stack', () => {
    assert.equal(json.Resources[logicalId(table)]!.DeletionPolicy, 'Retain');
  });
});

describe('message bucket', () => {
  const properties = json.Resources[logicalId(bucket)]!.Properties;

  it('encrypts with its own KMS key (SSE-KMS, bucket key)', () => {
    assert.deepEqual(properties.BucketEncryption.ServerSideEncryptionConfiguration, [
      {
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(bucketKey) },
      },
    ]);
  });

  it('blocks every kind of public access', () => {
    assert.deepEqual(properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('keeps no object versions', () => {
    assert.equal(properties.VersioningConfiguration, undefined);
  });

  it('expires spool and quarantine by lifecycle rules, never msg/', () => {
    const rules = properties.LifecycleConfiguration.Rules;
    const byPrefix = (prefix: string) => rules.find((r: { Prefix?: string }) => r.Prefix === prefix);
    assert.equal(byPrefix('spool/')?.ExpirationInDays, 7);
    assert.equal(byPrefix('quarantine/')?.ExpirationInDays, 45);
    assert.equal(byPrefix('msg/'), undefined);
    assert.ok(
      rules.every((r: { Prefix?: string; ExpirationInDays?: number }) => r.Prefix || r.ExpirationInDays === undefined),
      'no rule expires objects bucket-wide',
    );
    assert.ok(rules.some((r: { AbortIncompleteMultipartUpload?: unknown }) => r.AbortIncompleteMultipartUpload));
  });

  it('logs access into the log bucket', () => {
    assert.deepEqual(properties.LoggingConfiguration.DestinationBucketName, ref(logBucket));
  });

  it('survives deletion of the stack', () => {
    assert.equal(json.Resources[logicalId(bucket)]!.DeletionPolicy, 'Retain');
  });
});

describe('log bucket', () => {
  const properties = json.Resources[logicalId(logBucket)]!.Properties;

  it('is SSE-S3 encrypted (the only kind access logging accepts), private and expiring', () => {
    assert.equal(
      properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
      'AES256',
    );
    assert.equal(properties.PublicAccessBlockConfiguration.BlockPublicPolicy, true);
    assert.equal(properties.LifecycleConfiguration.Rules[0].ExpirationInDays, 365);
  });
});

describe('KMS keys', () => {
  it('rotate yearly and survive deletion of the stack', () => {
    for (const key of [bucketKey, vaultKey]) {
      const resource = json.Resources[logicalId(key)]!;
      assert.equal(resource.Properties.EnableKeyRotation, true);
      assert.equal(resource.DeletionPolicy, 'Retain');
    }
  });

  it('keep the key vault separate from the bucket key', () => {
    assert.notEqual(logicalId(vaultKey), logicalId(bucketKey));
    assert.equal(Object.keys(template.findResources('AWS::KMS::Key')).length, 2);
  });
});
