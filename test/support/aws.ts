import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { inject } from 'vitest';
import { DynamoClientStore, documentClient } from '../../lambdas/adapters/dynamo/client-store.js';
import { type ApiGatewayEventInit, apiGatewayEvent } from '../../local/api-gateway-event.js';
import { ensureQueue, ensureTable, localDynamo, localSqs } from '../../local/services.js';

/** A fresh table and fresh queues on the run's DynamoDB Local and fauxqs, named so test files never collide. */
export const localResources = async (queueNames: readonly string[] = ['inbound']) => {
  const suffix = randomUUID().slice(0, 8);
  const dynamoEndpoint = inject('dynamoEndpoint');
  const sqsEndpoint = inject('sqsEndpoint');
  const dynamo = localDynamo(dynamoEndpoint);
  const sqs = localSqs(sqsEndpoint);
  const tableName = `relay-${suffix}`;
  await ensureTable(dynamo, tableName);
  const queues: Record<string, string> = {};
  for (const name of queueNames) queues[name] = await ensureQueue(sqs, { name: `${name}-${suffix}`, visibilityTimeoutSeconds: 30 });
  const doc = documentClient(dynamo);
  return { dynamoEndpoint, sqsEndpoint, dynamo, doc, sqs, tableName, queues, store: new DynamoClientStore(doc, tableName) };
};

/** Receives everything currently visible on a queue (several rounds; fauxqs returns at most 10 per call). */
export const drain = async (sqs: SQSClient, queueUrl: string, rounds = 20): Promise<Message[]> => {
  const all: Message[] = [];
  for (let i = 0; i < rounds; i++) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 60 }),
    );
    if (!out.Messages || out.Messages.length === 0) break;
    all.push(...out.Messages);
  }
  return all;
};

/** Receives and deletes everything currently visible on a queue: what a test sees next is new. */
export const takeAll = async (sqs: SQSClient, queueUrl: string): Promise<Message[]> => {
  const all: Message[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 60 }),
    );
    if (!out.Messages || out.Messages.length === 0) return all;
    all.push(...out.Messages);
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: out.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
    );
  }
};

/** An API Gateway HTTP API (payload 2.0) event, as Lambda receives it. */
export const httpEvent = (init: ApiGatewayEventInit): APIGatewayProxyEventV2 => apiGatewayEvent(init);
