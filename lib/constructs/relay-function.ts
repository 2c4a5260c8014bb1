import { Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, RecursiveLoop, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

export interface RelayFunctionProps {
  /** Path of the entry module under `lambdas/functions/`. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Names and ARNs only: secret values never go into the environment. */
  readonly environment: Readonly<Record<string, string>>;
  readonly recursiveLoop?: RecursiveLoop;
  /** Sets NODE_OPTIONS=--enable-source-maps (readable stack traces; costs cold-start time). */
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * Every function of the relay: Node.js 22 on arm64, bundled locally by esbuild (no Docker) as minified ESM with
 * source maps, the AWS SDK bundled (a pinned, tested version instead of the runtime's), JSON logs to a log group
 * with a retention.
 */
export class RelayFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    if (props.memoryMiB < 128 || props.memoryMiB > 10_240) throw new Error(`${id}: memoryMiB must be 128-10240`);
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    // Our own role instead of AWSLambdaBasicExecutionRole: log writes to this function's log group only.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memoryMiB,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      recursiveLoop: props.recursiveLoop ?? RecursiveLoop.TERMINATE,
      environment: {
        ...(props.sourceMapsAtRuntime ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // File and line mapping only: without embedded sources the map is ~4x smaller and Node's
        // --enable-source-maps parses it at cold start in a few ms instead of ~50 ms.
        sourcesContent: false,
        target: 'node22',
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        externalModules: [],
        // Some bundled CommonJS dependencies call require(); give ESM output one.
        banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
        forceDockerBundling: false,
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) use "*": X-Ray supports no resource-level permissions for them.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 is the chosen, tested runtime (the code must also run on Node 20 locally); moving to a newer runtime is a deliberate, tested change.',
    });
  }

  static readonly DEFAULT_TIMEOUT = Duration.seconds(10);
}
