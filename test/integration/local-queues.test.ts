import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { isQueueArnOf } from '../../lambdas/adapters/sqs.js';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import { ensureConsumedQueue, ensureQueue, queueArn, redriveDlqName } from '../../local/services.js';
import { pollOnce } from '../../local/sqs-event-source.js';
import { localResources } from '../support/aws.js';

/** Local parity with the stack: redrive policies on consumed queues, and the event source's eventSourceARN. */
describe('local queues', () => {
  it('moves a poison message to the redrive DLQ after maxReceiveCount receives instead of looping forever', async () => {
    const { sqs } = await localResources([]);
    const name = `poison-${Date.now()}`;
    const q = await ensureConsumedQueue(sqs, { name, visibilityTimeoutSeconds: 0, maxReceiveCount: DEFAULTS.maxReceiveCount });
    expect(q.redriveDlqUrl.endsWith(`/${redriveDlqName(name)}`)).toBe(true);
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'fails every time' }));
    const failAll = async (event: SQSEvent) => ({ batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) });
    let receives = 0;
    for (let i = 0; i < DEFAULTS.maxReceiveCount + 3; i++) receives += (await pollOnce(sqs, q.url, failAll)).received;
    expect(receives).toBe(DEFAULTS.maxReceiveCount);
    const moved = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.redriveDlqUrl }));
    expect(moved.Messages?.map((m) => m.Body)).toEqual(['fails every time']);
  });

  it('adds the redrive policy to a queue created earlier without one', async () => {
    const { sqs } = await localResources([]);
    const name = `old-${Date.now()}`;
    const url = await ensureQueue(sqs, { name });
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }))).Attributes?.RedrivePolicy).toBeUndefined();
    const q = await ensureConsumedQueue(sqs, { name, maxReceiveCount: 7 });
    expect(q.url).toBe(url);
    const policy = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }))).Attributes?.RedrivePolicy;
    expect(JSON.parse(policy ?? '{}')).toEqual({ deadLetterTargetArn: await queueArn(sqs, q.redriveDlqUrl), maxReceiveCount: 7 });
  });

  it("passes the queue's real ARN as eventSourceARN, as Lambda does, so the consumer can tell the queues apart", async () => {
    const { sqs, queues } = await localResources(['outbound', 'delay']);
    await sqs.send(new SendMessageCommand({ QueueUrl: queues.delay as string, MessageBody: '{}' }));
    const seen: (string | undefined)[] = [];
    await pollOnce(sqs, queues.delay as string, async (event) => {
      seen.push(...event.Records.map((r) => r.eventSourceARN));
      return { batchItemFailures: [] };
    });
    const arn = await queueArn(sqs, queues.delay as string);
    expect(seen).toEqual([arn]);
    expect(isQueueArnOf(arn, queues.delay as string)).toBe(true);
    expect(isQueueArnOf(arn, queues.outbound as string)).toBe(false);
  });
});
