import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { SdkSnsBatchSender } from './sns-batch.js';

/**
 * SDK clients, built once per container. An explicit endpoint (local DynamoDB / SQS / SNS emulators) also stops the SQS
 * client from using the queue URL's host, which local emulators do not make resolvable.
 */
export const dynamoClient = (region: string, endpoint: string | undefined): DynamoDBClient =>
  new DynamoDBClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });

export const sqsClient = (region: string, endpoint: string | undefined): SQSClient =>
  new SQSClient({ region, ...(endpoint ? { endpoint, useQueueUrlAsEndpoint: false } : {}), maxAttempts: 3 });

/** SNS PublishBatch for relay events (sns-batch.ts), built once per container when events are configured. */
export const snsPublisher = (region: string, endpoint: string | undefined): SdkSnsBatchSender =>
  new SdkSnsBatchSender(new SNSClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 }));
