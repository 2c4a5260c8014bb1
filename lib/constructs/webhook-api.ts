import { CfnOutput, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type CfnStage, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RelayFunction } from './relay-function.js';

export interface WebhookApiProps {
  readonly table: ITableV2;
  readonly inboundEventsQueue: IQueue;
  /** Where the webhook asks for a client's parked messages to be released. */
  readonly releaseQueue: IQueue;
  readonly appSecret: ISecret;
  readonly verifyToken: ISecret;
  readonly timeout: Duration;
  readonly memoryMiB: number;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Throttling of each public webhook route; at most the stage's. */
  readonly webhookRateLimit: number;
  readonly webhookBurstLimit: number;
  /** Reserved concurrency of the webhook function (see `StageConfig.webhook`). */
  readonly webhookReservedConcurrency?: number;
  readonly reconnectSkewSeconds: number;
  /** The status route reads a can-send probe after a webhook-set OFFBOARDED as CONNECTED (stage config). */
  readonly probeEndsOffboarding: boolean;
  /** Stage setting `relay.humanReplyHoldSeconds`: GET /clients counts the customers in a human hold. */
  readonly humanReplyHoldSeconds: number;
  readonly timelineRetentionDays: number;
  readonly metricsNamespace: string;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly sourceMapsAtRuntime: boolean;
}

/**
 * API Gateway HTTP API: public `GET/POST /webhook` (Meta authenticates by HMAC signature, checked in the function)
 * and IAM-authorized `GET /clients/{wabaId}`, `POST /clients/{wabaId}/reset` and `GET /messages/{wabaId}/{messageId}`,
 * throttled, with JSON access logs.
 */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly webhookFunction: RelayFunction;
  readonly statusFunction: RelayFunction;
  readonly callbackUrl: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    if (props.webhookRateLimit > props.throttleRateLimit || props.webhookBurstLimit > props.throttleBurstLimit) {
      throw new Error(`${id}: the webhook route's throttling must not exceed the stage's`);
    }
    const common = {
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      sourceMapsAtRuntime: props.sourceMapsAtRuntime,
      metricsNamespace: props.metricsNamespace,
      timeout: props.timeout,
    };
    this.webhookFunction = new RelayFunction(this, 'WebhookFunction', {
      ...common,
      name: 'webhook',
      description: 'Verifies Meta webhooks and keeps each client WABA status',
      memoryMiB: props.memoryMiB,
      ...(props.webhookReservedConcurrency !== undefined ? { reservedConcurrency: props.webhookReservedConcurrency } : {}),
      environment: {
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        TIMELINE_RETENTION_DAYS: String(props.timelineRetentionDays),
      },
    })
      // Every write is an UpdateItem (a refused condition returns the item, so no second read); BatchGetItem: the wamid
      // items of statuses that do not carry the relay's callback data (one read per POST).
      .bindTable(props.table, { items: ['UpdateItem', 'BatchGetItem'] })
      .bindQueue(props.inboundEventsQueue, 'INBOUND_EVENTS_QUEUE_URL')
      .bindQueue(props.releaseQueue, 'RELEASE_QUEUE_URL')
      .bindSecret(props.appSecret, 'META_APP_SECRET_ID')
      .bindSecret(props.verifyToken, 'WEBHOOK_VERIFY_TOKEN_SECRET_ID');

    this.statusFunction = new RelayFunction(this, 'StatusFunction', {
      ...common,
      name: 'status',
      description: 'Answers GET /clients/{wabaId}, an operator reset (POST /clients/{wabaId}/reset) and GET /messages/{wabaId}/{messageId}',
      memoryMiB: 256,
      environment: {
        RECONNECT_SKEW_SECONDS: String(props.reconnectSkewSeconds),
        TIMELINE_RETENTION_DAYS: String(props.timelineRetentionDays),
        PROBE_ENDS_OFFBOARDING: String(props.probeEndsOffboarding),
        HUMAN_REPLY_HOLD_SECONDS: String(props.humanReplyHoldSeconds),
      },
      // Reads (a message's outcome and send claim: one Query); the reset clears the status records (UpdateItem), records itself in the timeline (UpdateItem) and asks for
      // a release of the client's parked messages.
    })
      .bindTable(props.table, { items: ['GetItem', 'Query', 'UpdateItem'] })
      .bindQueue(props.releaseQueue, 'RELEASE_QUEUE_URL');

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
    // The public routes get their own, lower limits: a flood of unsigned POSTs is refused by API Gateway (429) before
    // it reaches the function, and the status route keeps the rest of the stage's budget.
    const routeThrottle = { ThrottlingRateLimit: props.webhookRateLimit, ThrottlingBurstLimit: props.webhookBurstLimit };
    (this.stage.node.defaultChild as CfnStage).addPropertyOverride(
      'RouteSettings',
      Object.fromEntries(['GET /webhook', 'POST /webhook'].map((key) => [key, routeThrottle])),
    );
    for (const route of webhookRoutes) {
      // Route settings name routes by key: the stage must be deployed after them.
      this.stage.node.addDependency(route);
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'Meta cannot sign requests with SigV4 or send tokens; every POST is authenticated by its X-Hub-Signature-256 HMAC, checked before parsing, and GET only echoes a challenge for the verify token.',
      });
    }
    const statusIntegration = new HttpLambdaIntegration('StatusIntegration', this.statusFunction);
    this.api.addRoutes({ path: '/clients/{wabaId}', methods: [HttpMethod.GET], integration: statusIntegration, authorizer: new HttpIamAuthorizer() });
    this.api.addRoutes({ path: '/messages/{wabaId}/{messageId}', methods: [HttpMethod.GET], integration: statusIntegration, authorizer: new HttpIamAuthorizer() });
    this.api.addRoutes({
      path: '/clients/{wabaId}/reset',
      methods: [HttpMethod.POST],
      integration: statusIntegration,
      authorizer: new HttpIamAuthorizer(),
    });

    this.callbackUrl = `${this.api.apiEndpoint}/webhook`;
    new CfnOutput(scope, 'WebhookCallbackUrl', { value: this.callbackUrl, description: "Paste into the Meta app's WhatsApp webhook configuration" });
    new CfnOutput(scope, 'MessageOutcomeUrl', { value: `${this.api.apiEndpoint}/messages/{wabaId}/{messageId}`, description: 'IAM-authorized (SigV4) message outcome route' });
    new CfnOutput(scope, 'ClientStatusUrl', { value: `${this.api.apiEndpoint}/clients/{wabaId}`, description: 'IAM-authorized (SigV4) status route' });
  }
}
