import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ReleaseQueue, ReleaseRequest, ReleaseRequester, ReleaseTrigger } from '../core/release/ports.js';
import { releaseRequestBody } from '../core/release/release-rules.js';

/** The release queue: one message per release request (the webhook, the consumer, the release's own continuations). */
export class SqsReleaseQueue implements ReleaseQueue, ReleaseRequester {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  async enqueue(request: ReleaseRequest, delaySeconds = 0): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: releaseRequestBody(request),
        ...(delaySeconds > 0 ? { DelaySeconds: Math.min(900, Math.ceil(delaySeconds)) } : {}),
        MessageAttributes: { wabaId: { DataType: 'String', StringValue: request.wabaId }, trigger: { DataType: 'String', StringValue: request.trigger } },
      }),
    );
  }

  async requestRelease(wabaId: string, trigger: ReleaseTrigger): Promise<void> {
    await this.enqueue({ wabaId, trigger, requestedAt: new Date(this.now()).toISOString() });
  }
}
