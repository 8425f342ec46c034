/**
 * The Lambdas: one NodejsFunction per catalog entry whose `functions/<name>/handler.ts` exists, bundled
 * by the local esbuild (no Docker) for Node 24 on arm64, each with its own role holding only the grants
 * the catalog declares, and its own log group.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../shared/metrics/metric-names.ts';
import { FUNCTION_CATALOG, type FunctionName, type FunctionSpec, functionSpec } from './function-catalog.ts';
import type { MarmotSettings } from './settings.ts';
import {
  acknowledgeObjectPrefixes,
  allow,
  objectPrefixes,
  type StoreResources,
  storeAccessStatements,
} from './store-access.ts';

export const HANDLER_FILE = 'handler.ts';
/** Where local files may go (caches, a fallback certificate): /tmp is writable in both runtimes. */
const WRITABLE_DATA_DIR = '/tmp/marmot';

/**
 * ESM bundles keep CommonJS dependencies working: esbuild turns their `require` of built-in modules
 * into calls of this `require`.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface MailFunctionsProps {
  settings: MarmotSettings;
  store: StoreResources;
  /** The repository root: package-lock.json and tsconfig.json live there. */
  repoRoot: string;
  /** Where the handler folders are (the repository's `functions/`; tests point it elsewhere). */
  functionsRoot: string;
  logRetention: RetentionDays;
}

/** Folders under the functions root that the catalog does not declare (none may exist). */
export function undeclaredFunctionFolders(functionsRoot: string): string[] {
  if (!existsSync(functionsRoot)) return [];
  const declared = new Set<string>(FUNCTION_CATALOG.map((spec) => spec.name));
  return readdirSync(functionsRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !declared.has(entry.name))
    .map((entry) => entry.name)
    .sort();
}

/** Which catalog entries get deployed: the handler exists, and its feature is on. */
function deployableFunctions(functionsRoot: string, settings: MarmotSettings): FunctionSpec[] {
  return FUNCTION_CATALOG.filter(
    (spec) =>
      existsSync(join(functionsRoot, spec.name, HANDLER_FILE)) && (!spec.onlyWithSesReceiving || settings.sesReceiving),
  );
}

export class MailFunctions extends Construct {
  readonly byName = new Map<FunctionName, NodejsFunction>();

  constructor(scope: Construct, id: string, props: MailFunctionsProps) {
    super(scope, id);
    const { settings, store } = props;
    const undeclared = undeclaredFunctionFolders(props.functionsRoot);
    if (undeclared.length > 0) {
      throw new Error(
        `functions/${undeclared.join(', functions/')}: not in infra/function-catalog.ts (add an entry with its grants)`,
      );
    }
    const common = commonEnvironment(settings, store);
    // The catalog lists callees before their callers, so an invoked function already exists here.
    for (const spec of deployableFunctions(props.functionsRoot, settings)) {
      const role = new Role(this, `${pascal(spec.name)}Role`, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `Marmot ${spec.name} function`,
      });
      const logGroup = new LogGroup(this, `${pascal(spec.name)}Logs`, {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const environment: Record<string, string> = {
        ...common,
        POWERTOOLS_SERVICE_NAME: spec.name,
      };
      for (const statement of storeAccessStatements(spec.access, store)) role.addToPolicy(statement);
      acknowledgeObjectPrefixes(role, store.bucket, objectPrefixes(spec.access));
      for (const callee of spec.invokes) {
        const target = this.byName.get(callee);
        if (!target) throw new Error(`${spec.name} invokes ${callee}, which is not deployed`);
        role.addToPolicy(allow(['lambda:InvokeFunction'], [target.functionArn]));
        environment[functionSpec(callee).envVar] = target.functionName;
      }
      role.addToPolicy(allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [logGroup.logGroupArn]));

      const fn = new NodejsFunction(this, pascal(spec.name), {
        entry: join(props.functionsRoot, spec.name, HANDLER_FILE),
        handler: 'handler',
        description: `Marmot: ${spec.description}`,
        runtime: Runtime.NODEJS_24_X,
        architecture: Architecture.ARM_64,
        memorySize: spec.memoryMiB,
        timeout: Duration.seconds(spec.timeoutSeconds),
        role,
        logGroup,
        environment,
        projectRoot: props.repoRoot,
        depsLockFilePath: join(props.repoRoot, 'package-lock.json'),
        bundling: {
          format: OutputFormat.ESM,
          target: 'node24',
          minify: true,
          sourceMap: true,
          mainFields: ['module', 'main'],
          banner: ESM_REQUIRE_BANNER,
          tsconfig: join(props.repoRoot, 'tsconfig.json'),
        },
      });
      this.byName.set(spec.name, fn);
    }
  }
}

/** The environment every function and the listener task share: where the store is, and what it is. */
export function commonEnvironment(settings: MarmotSettings, store: StoreResources): Record<string, string> {
  return {
    MARMOT_STORE: 'aws',
    // The only writable place in a Lambda and (as a volume) in the read-only listener containers.
    MARMOT_DATA_DIR: WRITABLE_DATA_DIR,
    MARMOT_TABLE: store.table.tableName,
    MARMOT_BUCKET: store.bucket.bucketName,
    MARMOT_KEY_ID: store.vaultKey.keyArn,
    MARMOT_HOSTNAME: settings.hostname,
    MARMOT_RETENTION_DAYS: String(settings.retentionDays),
    MARMOT_LOG_LEVEL: 'info',
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    NODE_OPTIONS: '--enable-source-maps',
  };
}

/** `dkim-sign` → `DkimSign`: construct ids. */
function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
