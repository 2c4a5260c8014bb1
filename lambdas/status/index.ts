/**
 * Lambda entry point for `GET /clients/{wabaId}`, `POST /clients/{wabaId}/reset` and `GET /messages/{wabaId}/{messageId}`
 * (all IAM-authorized in AWS): wiring only. Reads, and writes only an operator's reset (and the release request it makes).
 */
import { dynamoClient, sqsClient } from '../adapters/aws-clients.js';
import { DynamoClientStore, documentClient } from '../adapters/dynamo/client-store.js';
import { SqsReleaseQueue } from '../adapters/sqs-release.js';
import { DynamoMessageOutcomeStore } from '../adapters/dynamo/message-outcome-store.js';
import { DynamoHumanReplyStore } from '../adapters/dynamo/human-reply-store.js';
import { DEFAULTS } from '../core/shared/defaults.js';
import { createRuntime, lambdaHandler } from '../shared/runtime.js';
import { loadStatusConfig } from './config.js';
import { createStatusHandler } from './handler.js';

const config = loadStatusConfig();
const runtime = createRuntime('status');

const doc = documentClient(dynamoClient(config.region, config.dynamodbEndpoint));
const humans = new DynamoHumanReplyStore(doc, config.tableName);
export const handler = lambdaHandler(
  runtime,
  createStatusHandler({
    store: new DynamoClientStore(doc, config.tableName),
    // Reads only: the retention applies to writes, which this function never makes.
    messages: new DynamoMessageOutcomeStore(doc, config.tableName, DEFAULTS.sendLedgerRetentionDays),
    telemetry: runtime.telemetry,
    reconnectSkewMs: config.reconnectSkewMs,
    probeEndsOffboarding: config.probeEndsOffboarding,
    // One Query (a count) on the client's partition: the customers the owner answered within the hold.
    humanHeld: (wabaId, nowMs) => humans.countHeld(wabaId, nowMs, config.humanReplyHoldSeconds),
    timelineRetentionDays: config.timelineRetentionDays,
    releases: new SqsReleaseQueue(sqsClient(config.region, config.sqsEndpoint), config.releaseQueueUrl),
  }),
);
