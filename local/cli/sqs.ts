/** Reading SQS queues without taking from them: receive what is there, then make it visible again. */
import { ChangeMessageVisibilityBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export const receiveAll = async (sqs: SQSClient, queueUrl: string, visibility: number, max: number): Promise<Message[]> => {
  const all: Message[] = [];
  while (all.length < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - all.length),
        VisibilityTimeout: visibility,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    if (!out.Messages?.length) break;
    all.push(...out.Messages);
  }
  return all;
};

/** Makes received messages visible again at once (SQS cannot peek: reading hides them for the visibility timeout). */
export const putBack = async (sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> => {
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
};

