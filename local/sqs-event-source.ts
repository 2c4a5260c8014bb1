import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

/** Queue ARNs by URL: asked once per queue, as an event source mapping knows its queue. */
const arns = new Map<string, Promise<string>>();
const arnOf = (sqs: SQSClient, queueUrl: string): Promise<string> => {
  let arn = arns.get(queueUrl);
  if (!arn) {
    arn = sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })).then((out) => {
      const value = out.Attributes?.QueueArn;
      if (!value) throw new Error(`no ARN for queue ${queueUrl}`);
      return value;
    });
    arn.catch(() => arns.delete(queueUrl));
    arns.set(queueUrl, arn);
  }
  return arn;
};

const toRecord = (m: Message, queueArn: string, region: string): SQSRecord => {
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[k] = { dataType: v.DataType ?? 'String', ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}) } as SQSRecord['messageAttributes'][string];
  }
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? randomUUID(),
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
};

export interface PollResult {
  readonly received: number;
  readonly failed: number;
}

/**
 * One round of what Lambda's SQS event source does: receive up to 10 messages, invoke the handler with them as
 * an SQS event, delete the records it did not report in `batchItemFailures`. A handler that throws deletes nothing.
 * Failed records stay invisible until the queue's visibility timeout, then come back, as in AWS.
 */
export const pollOnce = async (
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsHandler,
  options: { readonly waitTimeSeconds?: number; readonly batchSize?: number } = {},
): Promise<PollResult> => {
  // The queue's real ARN, as Lambda passes it: the consumer tells the delay queue from the outbound queue by it.
  const queueArn = await arnOf(sqs, queueUrl);
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 10,
      WaitTimeSeconds: options.waitTimeSeconds ?? 0,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  const messages = out.Messages ?? [];
  if (messages.length === 0) return { received: 0, failed: 0 };
  const records = messages.map((m) => toRecord(m, queueArn, queueArn.split(':')[3] ?? 'us-east-1'));
  let failedIds: Set<string>;
  try {
    const response = await handler({ Records: records });
    failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch {
    failedIds = new Set(records.map((r) => r.messageId));
  }
  const done = records.filter((r) => !failedIds.has(r.messageId));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }
  return { received: records.length, failed: failedIds.size };
};

/** Polls a queue continuously (long polling) until stopped: the local stand-in for an event source mapping. */
export class SqsEventSource {
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly handler: SqsHandler,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        try {
          await pollOnce(this.sqs, this.queueUrl, this.handler, { waitTimeSeconds: 1 });
        } catch (error) {
          if (!this.#running) break;
          this.onError(error);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
