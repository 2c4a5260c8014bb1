import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { OutboundEnvelope } from '../core/outbound/envelope.js';
import { inboundMessages } from '../core/webhook/inbound-message.js';
import type { InboundEvent, InboundEventSink, LargeValueStore } from '../core/webhook/ports.js';
import type { OutboundEnqueuer } from '../core/outcomes/ports.js';
import type { OutboundQueues, QueueMessage } from '../core/outbound/ports.js';
import { toSqsJson } from '../core/shared/sqs-body.js';

/**
 * Whether an SQS event record's `eventSourceARN` (`arn:aws:sqs:<region>:<account>:<name>`) names the queue at
 * `queueUrl` (`https://<host>/<account>/<name>`): same account and queue name. Queue names are unique per account
 * and region, and a function's event sources share its region.
 */
export const isQueueArnOf = (arn: string | undefined, queueUrl: string): boolean => {
  const a = /^arn:[^:]+:sqs:[^:]*:([^:]+):([^:/]+)$/.exec(arn ?? '');
  const u = /\/([^/]+)\/([^/?#]+)\/?$/.exec(queueUrl);
  return a !== null && u !== null && a[1] === u[1] && a[2] === u[2];
};

/** SQS accepts up to 10 entries and 1 MiB per SendMessageBatch; stay under the byte limit with room for attributes. */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 900 * 1024;

export interface OutgoingMessage {
  /** Unique within one call; reported back for the entries that failed. */
  readonly id: string;
  readonly body: string;
  readonly delaySeconds?: number;
  readonly attributes?: Readonly<Record<string, string>>;
}

class QueueSendError extends Error {
  override readonly name = 'QueueSendError';
  constructor(
    message: string,
    readonly failedIds: readonly string[],
  ) {
    super(message);
  }
}

const toEntry = (m: OutgoingMessage, index: number): SendMessageBatchRequestEntry => {
  const attrs: Record<string, MessageAttributeValue> = {};
  for (const [k, v] of Object.entries(m.attributes ?? {})) attrs[k] = { DataType: 'String', StringValue: v };
  return {
    Id: `m${index}`,
    MessageBody: m.body,
    ...(m.delaySeconds !== undefined ? { DelaySeconds: m.delaySeconds } : {}),
    ...(Object.keys(attrs).length > 0 ? { MessageAttributes: attrs } : {}),
  };
};

const groupBatches = (messages: readonly OutgoingMessage[]): OutgoingMessage[][] => {
  const batches: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(m.body) + 256;
    if (current.length > 0 && (current.length === MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};

/**
 * Sends messages in as few SendMessageBatch requests as the limits allow and returns the ids that SQS refused,
 * whether the whole request failed or only some entries (`Failed[]` arrives with HTTP 200).
 */
export const sendBatches = async (
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
): Promise<{ failed: Set<string>; errors: string[] }> => {
  const failed = new Set<string>();
  const errors: string[] = [];
  await Promise.all(
    groupBatches(messages).map(async (batch) => {
      try {
        const out = await sqs.send(
          new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, i) => toEntry(m, i)) }),
        );
        for (const f of out.Failed ?? []) {
          const index = Number(f.Id?.slice(1));
          const m = batch[index];
          if (m) failed.add(m.id);
          errors.push(`${f.Code ?? 'Failed'}: ${f.Message ?? ''}`.trim());
        }
      } catch (error) {
        for (const m of batch) failed.add(m.id);
        errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }),
  );
  return { failed, errors };
};

/**
 * Forwards non-`account_update` changes to the inbound-events queue, one message per change. A change too large for
 * one message goes whole to `largeValues` first (core/webhook/inbound-message.ts decides); without a store it is
 * forwarded as unreadable, truncated.
 */
export class SqsInboundEventSink implements InboundEventSink {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly largeValues?: LargeValueStore,
  ) {}

  async forward(events: readonly InboundEvent[]): Promise<void> {
    // Every large value is stored before anything is queued: a failed store queues nothing of this POST.
    // Attribute values are plain ASCII by construction: fields and WABA ids are checked, the dedupe id is hex.
    const messages = (await inboundMessages(events, this.largeValues)).map((m, i) => ({ id: String(i), body: m.body, attributes: m.attributes }));
    const { failed, errors } = await sendBatches(this.sqs, this.queueUrl, messages);
    if (failed.size > 0) {
      throw new QueueSendError(`${failed.size} of ${events.length} inbound events not queued: ${errors[0] ?? ''}`, [
        ...failed,
      ]);
    }
  }
}

/** The delay queue (parking and retries) and the consumer's dead-letter queue. */
export class SqsOutboundQueues implements OutboundQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly delayQueueUrl: string,
    private readonly deadLetterQueueUrl: string,
    private readonly onError: (what: string, errors: readonly string[]) => void = () => undefined,
  ) {}

  async park(messages: readonly QueueMessage[]): Promise<ReadonlySet<string>> {
    const { failed, errors } = await sendBatches(this.sqs, this.delayQueueUrl, messages);
    if (errors.length > 0) this.onError('delay queue', errors);
    return failed;
  }

  async deadLetter(messages: readonly QueueMessage[]): Promise<ReadonlySet<string>> {
    const { failed, errors } = await sendBatches(this.sqs, this.deadLetterQueueUrl, messages);
    if (errors.length > 0) this.onError('dead-letter queue', errors);
    return failed;
  }
}

/** The outbound queue, for envelopes the relay itself enqueues (a fallback due after an async 131047). */
export class SqsOutboundEnqueuer implements OutboundEnqueuer {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(envelopes: readonly OutboundEnvelope[]): Promise<void> {
    const messages = envelopes.map((e, i) => ({ id: String(i), body: toSqsJson(e), attributes: { wabaId: e.wabaId } }));
    const { failed, errors } = await sendBatches(this.sqs, this.queueUrl, messages);
    if (failed.size > 0) throw new QueueSendError(`${failed.size} of ${envelopes.length} envelopes not queued: ${errors[0] ?? ''}`, [...failed]);
  }
}
