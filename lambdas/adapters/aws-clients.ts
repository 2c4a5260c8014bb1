import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * SDK clients, built once per container. An explicit endpoint (local DynamoDB / SQS / SNS emulators) also stops the SQS
 * client from using the queue URL's host, which local emulators do not make resolvable.
 */
export const dynamoClient = (region: string, endpoint: string | undefined): DynamoDBClient =>
  new DynamoDBClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });

export const sqsClient = (region: string, endpoint: string | undefined): SQSClient =>
  new SQSClient({ region, ...(endpoint ? { endpoint, useQueueUrlAsEndpoint: false } : {}), maxAttempts: 3 });

export const snsClient = (region: string, endpoint: string | undefined): SNSClient =>
  new SNSClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
