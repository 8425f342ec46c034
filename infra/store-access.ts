/**
 * Turns a declared store access (which table actions, which blob prefixes, which key use) into IAM
 * statements with explicit actions and the narrowest resources each API allows.
 *
 * CDK's grant helpers are not used here: they add wildcard actions (`s3:GetObject*`, `kms:ReEncrypt*`,
 * `kms:GenerateDataKey*`) and more than our code calls. Every action below is one the store adapters,
 * the invoker or the key vault actually call.
 */
import { type CfnResource, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { acknowledgeFinding } from './nag.ts';

/** A key prefix in the message bucket, ending in `/`. */
export type BlobPrefix = 'msg/' | 'outbound/' | 'spool/' | 'quarantine/' | 'spool/ses-inbound/';

export interface BlobAccess {
  read?: BlobPrefix[];
  /** Put (single or multipart) and abort of an unfinished multipart upload. */
  write?: BlobPrefix[];
  delete?: BlobPrefix[];
  /** ListBucket is granted to every reader anyway (so a missing key is 404, not 403). */
  list?: boolean;
}

export interface StoreAccess {
  table: 'read' | 'readWrite';
  blobs: BlobAccess;
  /** Use of the key vault's KMS key: unwrap only, or also wrap new secrets. */
  vault?: 'decrypt' | 'encryptDecrypt';
}

export interface StoreResources {
  table: ITable;
  bucket: IBucket;
  /** The KMS key the bucket encrypts objects with (SSE-KMS). */
  bucketKey: IKey;
  vaultKey: IKey;
}

const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan'];
const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

export function storeAccessStatements(access: StoreAccess, resources: StoreResources): PolicyStatement[] {
  const { table, bucket, bucketKey, vaultKey } = resources;
  const statements = [
    allow(access.table === 'readWrite' ? [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS] : TABLE_READ_ACTIONS, [
      table.tableArn,
    ]),
  ];
  const objects = (prefixes: BlobPrefix[]) => prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
  const { read = [], write = [], delete: remove = [], list = false } = access.blobs;
  if (read.length > 0) statements.push(allow(['s3:GetObject'], objects(read)));
  if (write.length > 0) statements.push(allow(['s3:PutObject', 's3:AbortMultipartUpload'], objects(write)));
  if (remove.length > 0) statements.push(allow(['s3:DeleteObject'], objects(remove)));
  if (list || read.length > 0) statements.push(allow(['s3:ListBucket'], [bucket.bucketArn]));
  // SSE-KMS: reading decrypts; writing generates a data key, and multipart uploads also decrypt it.
  if (read.length > 0 || write.length > 0) {
    statements.push(
      allow(write.length > 0 ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'], [bucketKey.keyArn]),
    );
  }
  if (access.vault === 'decrypt') statements.push(allow(['kms:Decrypt'], [vaultKey.keyArn]));
  if (access.vault === 'encryptDecrypt') {
    statements.push(allow(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], [vaultKey.keyArn]));
  }
  return statements;
}

export function allow(actions: string[], resources: string[]): PolicyStatement {
  return new PolicyStatement({ effect: Effect.ALLOW, actions, resources });
}

/** Every prefix an access names objects under. */
export function objectPrefixes(access: StoreAccess): BlobPrefix[] {
  const { read = [], write = [], delete: remove = [] } = access.blobs;
  return [...new Set([...read, ...write, ...remove])];
}

/**
 * Object grants name a key prefix (`<bucket>/spool/*`): keys are made at run time, so no narrower
 * resource exists. cdk-nag reports each such resource; this acknowledges exactly those, on the role.
 */
export function acknowledgeObjectPrefixes(role: IConstruct, bucket: IBucket, prefixes: BlobPrefix[]): void {
  const logicalId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnResource);
  for (const prefix of prefixes) {
    acknowledgeFinding(
      role,
      `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`,
      `Objects under ${prefix}: their keys are created at run time, so the grant names the key prefix.`,
    );
  }
}
