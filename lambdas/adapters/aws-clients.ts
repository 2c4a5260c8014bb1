import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SnsQueryClient } from './sns-query.js';

/**
 * SDK clients, built once per container. An explicit endpoint (local DynamoDB / SQS / SNS emulators) also stops the SQS
 * client from using the queue URL's host, which local emulators do not make resolvable.
 */
export const dynamoClient = (region: string, endpoint: string | undefined): DynamoDBClient =>
  new DynamoDBClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });

export const sqsClient = (region: string, endpoint: string | undefined): SQSClient =>
  new SQSClient({ region, ...(endpoint ? { endpoint, useQueueUrlAsEndpoint: false } : {}), maxAttempts: 3 });

/**
 * SNS PublishBatch for relay events (see sns-query.ts), signed with the credentials `sqs` already resolves (the same
 * default chain, one resolution per container) and its SHA-256.
 */
export const snsPublisher = (region: string, endpoint: string | undefined, sqs: SQSClient): SnsQueryClient =>
  new SnsQueryClient(region, () => sqs.config.credentials(), sqs.config.sha256, endpoint);
