import { Duration, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { RemovalPolicy } from 'aws-cdk-lib';
import { CLIENT_STATUSES } from '../../lambdas/core/status/client-status.js';
import type { LambdaName } from '../lambda-entry.js';

/** A release request older than this on the release queue raises ReleaseStalled (continuations wait at most 900 s). */
const RELEASE_STALLED_AFTER = Duration.minutes(20);

export interface MonitoringProps {
  readonly metricsNamespace: string;
  readonly api: HttpApi;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly consumer: IFunction;
  readonly outboundQueue: IQueue;
  readonly delayQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The release queue: a request older than {@link RELEASE_STALLED_AFTER} means releases are not being made. */
  readonly releaseQueue: IQueue;
  /** The relay-events topic and the functions that publish to it (their `RelayEventPublishFailures`). */
  readonly relayEvents: { readonly topic: ITopic; readonly publishers: readonly LambdaName[] };
  readonly redriveDlqs: Readonly<Record<string, IQueue>>;
  /** Receives before a consumed queue moves a message to its redrive DLQ. */
  readonly maxReceiveCount: number;
  readonly alarmEmail?: string;
  readonly outboundOldestMessageAge: Duration;
  /** A client offboarded longer than this raises ClientOffboardedTooLong (the sweeper's ClientOffboardedSeconds). */
  readonly offboardedTooLong: Duration;
  readonly sweepEvery: Duration;
  /** This many clients held at once raises ClientsHeldPilingUp (the sweeper's ClientsHeld). */
  readonly heldClients: number;
  readonly webhook5xxPer5Minutes: number;
  readonly signatureFailuresPer5Minutes: number;
  readonly removalPolicy: RemovalPolicy;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Alarms to one encrypted SNS topic, and a dashboard of webhook traffic, client statuses and message flow. */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key: use our own, rotated.
    const key = new Key(this, 'TopicKey', { enableKeyRotation: true, description: 'coexistence-relay alarm topic', removalPolicy: props.removalPolicy });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: `${Stack.of(this).stackName} alarms` });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);

    // The relay's own metrics: Powertools puts each function's service name in the `service` dimension.
    const custom = (metricName: string, service: LambdaName, statistic = 'Sum', dimensions: Record<string, string> = {}, period = FIVE_MINUTES) =>
      new Metric({ namespace: props.metricsNamespace, metricName, dimensionsMap: { service, ...dimensions }, statistic, period });

    const alarm = (cid: string, description: string, metric: IMetric, threshold: number, evaluationPeriods = 1) => {
      const a = new Alarm(this, cid, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    alarm('DeadLettersPresent', 'Messages the relay gave up on are waiting in the dead-letter queue: read their reason, fix, redrive.',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }), 1);
    for (const [name, q] of Object.entries(props.redriveDlqs)) {
      alarm(`${name}RedriveDlqDepth`, `Messages failed processing ${props.maxReceiveCount}+ times on the ${name} queue (a bug or an outage): inspect, fix, redrive.`,
        q.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }), 1);
    }
    alarm('OutboundOldestMessageAge', 'Outbound messages wait too long before the consumer takes them: check consumer errors, throttles and concurrency.',
      props.outboundQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }), props.outboundOldestMessageAge.toSeconds());
    alarm('Webhook5xx', 'The webhook answered 5xx: Meta retries, but status updates are late. Check DynamoDB/SQS errors in the webhook logs.',
      props.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), props.webhook5xxPer5Minutes);
    alarm('WebhookSignatureFailures', 'Webhook POSTs with a missing or wrong signature: an app secret rotated in Meta but not here, or someone probing the URL.',
      custom('WebhookSignatureRejected', 'webhook'), props.signatureFailuresPer5Minutes);
    alarm('ClientOffboardedTooLong', 'A client has been offboarded longer than the threshold: reonboarding did not complete; contact the client.',
      custom('ClientOffboardedSeconds', 'sweeper', 'Maximum', {}, props.sweepEvery), props.offboardedTooLong.toSeconds());
    alarm('ClientsHeldPilingUp', 'Many clients are held: the Cloud API refuses their sends as if offboarded and no webhook says so. Check GET /clients/{wabaId} (health.hold, health.lastProbe) and the Cloud API.',
      custom('ClientsHeld', 'sweeper', 'Maximum', {}, props.sweepEvery), props.heldClients, 2);
    // A refused token holds its client (consumer or releaser) until a person replaces it: one is enough to page.
    const tokenHolds = new MathExpression({
      label: 'clients held: access token refused',
      expression: 'FILL(c, 0) + FILL(r, 0)',
      usingMetrics: { c: custom('TokenInvalidHolds', 'consumer'), r: custom('TokenInvalidHolds', 'releaser') },
      period: FIVE_MINUTES,
    });
    alarm('TokenInvalidHolds', "The Cloud API refused a client's access token (190, 0, 10, 200-299): its messages are held, not dead-lettered, until the token works. Replace the token in WHATSAPP_ACCESS_TOKEN (byWaba or default); the hold's next probe resumes it.",
      tokenHolds, 1);
    alarm('ConsumerRecursiveInvocationsDropped', 'Lambda stopped the park loop as recursive: the consumer must have recursiveLoop=Allow.',
      new Metric({ namespace: 'AWS/Lambda', metricName: 'RecursiveInvocationsDropped', dimensionsMap: { FunctionName: props.consumer.functionName }, statistic: 'Sum', period: FIVE_MINUTES }), 1);
    // A release request waits at most its own continuation delay (up to 900 s) before the releaser takes it.
    alarm('ReleaseStalled', 'A release request waits on the release queue far longer than any continuation delay: releases are not being made (releaser errors, throttles, or a poison request). Parked messages still go when their delay hop ends.',
      props.releaseQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }), RELEASE_STALLED_AFTER.toSeconds());
    alarm('ReleaseFailed', 'A release run failed (the request comes back and resumes; after repeated failures it lands in the release redrive DLQ). Read the releaser logs.',
      custom('ReleaseErrors', 'releaser'), 1);
    // Relay events: one alarm when a function gives up publishing (its request fails and is retried: Meta redelivers,
    // SQS brings the batch back), one when SNS cannot deliver to a subscription (a partner's queue policy or key).
    const publishFailures = new MathExpression({
      label: 'relay events not published',
      expression: props.relayEvents.publishers.map((_, i) => `FILL(p${i}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(props.relayEvents.publishers.map((service, i) => [`p${i}`, custom('RelayEventPublishFailures', service)])),
      period: FIVE_MINUTES,
    });
    alarm('RelayEventPublishFailures', 'Relay events could not be published to SNS after retries: the request that had them failed and is retried (webhook: Meta redelivers; queues: the batch comes back). Check SNS errors, the topic key and the functions\' sns:Publish.',
      publishFailures, 1);
    const snsMetric = (metricName: string) =>
      new Metric({ namespace: 'AWS/SNS', metricName, dimensionsMap: { TopicName: props.relayEvents.topic.topicName }, statistic: 'Sum', period: FIVE_MINUTES });
    alarm('RelayEventDeliveryFailures', 'SNS could not deliver relay events to a subscription (a subscriber queue policy, key or endpoint): SNS retries per its delivery policy; check the subscriptions.',
      snsMetric('NumberOfNotificationsFailed'), 1);
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, `${name} function errors (uncaught exceptions or timeouts).`, fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), 1);
      alarm(`${name}Throttles`, `${name} function throttled: raise reserved/account concurrency or lower event source concurrency.`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }), 1);
    }

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [new TextWidget({ markdown: `# coexistence-relay (${Stack.of(this).stackName})\nWebhook traffic, client statuses, outbound message flow.`, width: 24, height: 2 })],
        [
          new GraphWidget({
            title: 'Webhook requests',
            left: [props.api.metricCount({ period: FIVE_MINUTES }), props.api.metricClientError({ period: FIVE_MINUTES }), props.api.metricServerError({ period: FIVE_MINUTES })],
            right: [custom('WebhookSignatureRejected', 'webhook')],
            width: 12,
          }),
          new GraphWidget({ title: 'Webhook latency (p50, p99)', left: [props.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p50' }), props.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' })], width: 12 }),
        ],
        [
          new GraphWidget({
            title: 'Client status changes; clients offboarded now',
            left: CLIENT_STATUSES.map((s) => custom('ClientStatusChanged', 'webhook', 'Sum', { status: s })),
            right: [custom('ClientsOffboarded', 'sweeper', 'Maximum')],
            width: 12,
          }),
          new GraphWidget({ title: 'account_update events', left: [custom('AccountUpdateEvents', 'webhook'), custom('InboundEventsForwarded', 'webhook'), custom('WebhookUnreadableChanges', 'webhook')], width: 12 }),
        ],
        [
          new GraphWidget({
            title: 'Messages: sent / parked / dead-lettered',
            left: [custom('MessagesSent', 'consumer'), custom('MessagesParked', 'consumer'), custom('MessagesDeadLettered', 'consumer'), custom('AmbiguousResends', 'consumer')],
            width: 12,
          }),
          new GraphWidget({
            title: 'Offboarded for, park age and resume latency (max, s)',
            left: [custom('ClientOffboardedSeconds', 'sweeper', 'Maximum'), custom('ParkAgeSeconds', 'consumer', 'Maximum'), custom('ResumedAfterParkSeconds', 'consumer', 'Maximum')],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Releases: started / completed / stopped / paused / failed',
            left: ['ReleasesStarted', 'ReleasesCompleted', 'ReleasesStopped', 'ReleasesPaused', 'ReleaseErrors'].map((m) => custom(m, 'releaser')),
            right: [custom('ReleasesRequested', 'webhook'), custom('ReleaseRequestedByConsumer', 'consumer')],
            width: 12,
          }),
          new GraphWidget({
            title: 'Released messages, throttling answers, release queue age (s)',
            left: [custom('MessagesReleased', 'releaser'), custom('ReleaseThrottled', 'releaser'), custom('ReleasePairRateLimited', 'releaser'), custom('ParkedCopyWriteFailures', 'consumer')],
            right: [props.releaseQueue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' })],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Client health: holds started / ended, refused calls; clients held now',
            left: [
              custom('HoldsStarted', 'consumer'),
              custom('HoldsEnded', 'consumer', 'Sum', { by: 'probe' }),
              custom('HoldsEnded', 'sweeper', 'Sum', { by: 'probe' }),
              custom('HoldsEnded', 'webhook', 'Sum', { by: 'status-event' }),
              custom('CloudApiRefusedCalls', 'consumer'),
            ],
            right: [custom('ClientsHeld', 'sweeper', 'Maximum')],
            width: 12,
          }),
          new GraphWidget({
            title: 'Probes by answer; restrictions and scheduled disables',
            left: (['can-send', 'cannot-send', 'unclear', 'error'] as const).flatMap((verdict) =>
              (['consumer', 'sweeper'] as const).map((service) => custom('Probes', service, 'Sum', { verdict })),
            ),
            right: [custom('ParkedByRestriction', 'consumer'), custom('RestrictionsRecorded', 'webhook'), custom('DisableScheduled', 'webhook')],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: 'Relay events: published, delivered, delivery failures (SNS); not published (relay)',
            left: [snsMetric('NumberOfMessagesPublished'), snsMetric('NumberOfNotificationsDelivered'), snsMetric('NumberOfNotificationsFailed')],
            right: props.relayEvents.publishers.map((service) => custom('RelayEventPublishFailures', service)),
            width: 24,
          }),
        ],
        [
          new GraphWidget({
            title: 'Queue depth',
            left: [props.outboundQueue, props.delayQueue, props.deadLetterQueue].map((q) => q.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' })),
            right: [props.delayQueue.metricApproximateNumberOfMessagesNotVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: 'parked (in flight)' })],
            width: 12,
          }),
          new SingleValueWidget({
            title: 'Dead letters now',
            metrics: [new MathExpression({ expression: 'm1', usingMetrics: { m1: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }) }, period: FIVE_MINUTES })],
            width: 12,
          }),
        ],
      ],
    });
  }
}
