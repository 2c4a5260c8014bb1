import { randomUUID } from 'node:crypto';
import { PurgeQueueCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { inject } from 'vitest';
import { DynamoClientStore, documentClient } from '../../lambdas/adapters/dynamo-client-store.js';
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

export const purge = (sqs: SQSClient, queueUrl: string) => sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));

export interface HttpEventInit {
  readonly method: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly base64?: boolean;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
}

/** An API Gateway HTTP API (payload 2.0) event, as Lambda receives it. */
export const httpEvent = (init: HttpEventInit): APIGatewayProxyEventV2 => {
  const raw = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body : Buffer.from(init.body);
  return {
    version: '2.0',
    routeKey: `${init.method} ${init.path}`,
    rawPath: init.path,
    rawQueryString: new URLSearchParams(init.query ?? {}).toString(),
    headers: init.headers ?? {},
    ...(init.query ? { queryStringParameters: init.query } : {}),
    ...(init.pathParameters ? { pathParameters: init.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: init.method, path: init.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey: `${init.method} ${init.path}`,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: init.base64 ?? false,
    ...(raw ? { body: init.base64 ? raw.toString('base64') : raw.toString('utf8') } : {}),
  };
};
