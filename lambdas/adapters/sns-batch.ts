/**
 * SNS PublishBatch through `@aws-sdk/client-sns`: the one SNS call the relay makes (relay events). The publisher
 * (sns-events.ts) works on this small port so its retry rules are tested with injected faults.
 */
import { PublishBatchCommand, type SNSClient, SNSServiceException } from '@aws-sdk/client-sns';

export interface PublishEntry {
  readonly Id: string;
  readonly Message: string;
  /** String message attributes (subscribers filter on them). */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PublishBatchAnswer {
  readonly successful: readonly string[];
  readonly failed: readonly { readonly id: string; readonly code: string; readonly message: string; readonly senderFault: boolean }[];
}

/** The whole request failed; `clientFault` when retrying cannot help (a missing topic, no permission). */
export class SnsRequestError extends Error {
  override readonly name = 'SnsRequestError';
  constructor(
    message: string,
    readonly code: string,
    readonly clientFault: boolean,
  ) {
    super(message);
  }
}

export interface SnsBatchSender {
  publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchAnswer>;
}

/** Throttling is reported as a client fault by SNS but passes on a retry. */
const RETRYABLE_CODES = new Set(['Throttled', 'ThrottlingException', 'ThrottledException', 'KMSThrottlingException', 'RequestLimitExceeded']);

export class SdkSnsBatchSender implements SnsBatchSender {
  constructor(private readonly sns: SNSClient) {}

  async publishBatch(topicArn: string, entries: readonly PublishEntry[]): Promise<PublishBatchAnswer> {
    try {
      const out = await this.sns.send(
        new PublishBatchCommand({
          TopicArn: topicArn,
          PublishBatchRequestEntries: entries.map((e) => ({
            Id: e.Id,
            Message: e.Message,
            MessageAttributes: Object.fromEntries(Object.entries(e.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }])),
          })),
        }),
      );
      return {
        successful: (out.Successful ?? []).flatMap((s) => (s.Id ? [s.Id] : [])),
        failed: (out.Failed ?? []).map((f) => ({ id: f.Id ?? '', code: f.Code ?? 'Failed', message: f.Message ?? '', senderFault: f.SenderFault === true })),
      };
    } catch (error) {
      if (error instanceof SNSServiceException) {
        const clientFault = error.$fault === 'client' && !RETRYABLE_CODES.has(error.name);
        throw new SnsRequestError(`${error.name}: ${error.message.slice(0, 200)}`, error.name, clientFault);
      }
      throw error;
    }
  }
}
