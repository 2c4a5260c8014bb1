import { fileURLToPath } from 'node:url';
import { CfnOutput, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RelayFunction } from './relay-function.js';

const entry = (name: string) => fileURLToPath(new URL(`../../lambdas/functions/${name}.ts`, import.meta.url));

export interface WebhookApiProps {
  readonly table: ITableV2;
  readonly inboundEventsQueue: IQueue;
  readonly appSecret: ISecret;
  readonly verifyToken: ISecret;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly reconnectSkewSeconds: number;
  readonly timelineRetentionDays: number;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * API Gateway HTTP API: public `GET/POST /webhook` (Meta authenticates by HMAC signature, checked in the function)
 * and IAM-authorized `GET /clients/{wabaId}`, throttled, with JSON access logs.
 */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly webhookFunction: RelayFunction;
  readonly statusFunction: RelayFunction;
  readonly callbackUrl: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    const common = { logRetention: props.logRetention, logRemovalPolicy: props.logRemovalPolicy, sourceMapsAtRuntime: props.sourceMapsAtRuntime };
    this.webhookFunction = new RelayFunction(this, 'WebhookFunction', {
      ...common,
      entry: entry('webhook'),
      description: 'Verifies Meta webhooks and keeps each client WABA status',
      timeout: props.timeout,
      memoryMiB: props.memoryMiB,
      environment: {
        TABLE_NAME: props.table.tableName,
        INBOUND_EVENTS_QUEUE_URL: props.inboundEventsQueue.queueUrl,
        META_APP_SECRET_ID: props.appSecret.secretArn,
        WEBHOOK_VERIFY_TOKEN_SECRET_ID: props.verifyToken.secretArn,
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        TIMELINE_RETENTION_DAYS: String(props.timelineRetentionDays),
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_SERVICE_NAME: 'webhook',
      },
    });
    this.webhookFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:GetItem'],
        resources: [props.table.tableArn],
      }),
    );
    this.webhookFunction.addToRolePolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.inboundEventsQueue.queueArn] }));
    this.webhookFunction.addToRolePolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [props.appSecret.secretArn, props.verifyToken.secretArn] }),
    );

    this.statusFunction = new RelayFunction(this, 'StatusFunction', {
      ...common,
      entry: entry('status'),
      description: 'Answers GET /clients/{wabaId}',
      timeout: props.timeout,
      memoryMiB: 256,
      environment: {
        TABLE_NAME: props.table.tableName,
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_SERVICE_NAME: 'status',
      },
    });
    this.statusFunction.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [props.table.tableArn] }),
    );

    this.api = new HttpApi(this, 'Api', { createDefaultStage: false, description: 'coexistence-relay webhook and status API' });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const webhookIntegration = new HttpLambdaIntegration('WebhookIntegration', this.webhookFunction);
    const webhookRoutes = this.api.addRoutes({ path: '/webhook', methods: [HttpMethod.GET, HttpMethod.POST], integration: webhookIntegration });
    for (const route of webhookRoutes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'Meta cannot sign requests with SigV4 or send tokens; every POST is authenticated by its X-Hub-Signature-256 HMAC, checked before parsing, and GET only echoes a challenge for the verify token.',
      });
    }
    this.api.addRoutes({
      path: '/clients/{wabaId}',
      methods: [HttpMethod.GET],
      integration: new HttpLambdaIntegration('StatusIntegration', this.statusFunction),
      authorizer: new HttpIamAuthorizer(),
    });

    this.callbackUrl = `${this.api.apiEndpoint}/webhook`;
    new CfnOutput(scope, 'WebhookCallbackUrl', { value: this.callbackUrl, description: "Paste into the Meta app's WhatsApp webhook configuration" });
    new CfnOutput(scope, 'ClientStatusUrl', { value: `${this.api.apiEndpoint}/clients/{wabaId}`, description: 'IAM-authorized (SigV4) status route' });
  }
}
