import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { OutboundRecord, OutboundService } from '../core/outbound/outbound-service.js';
import { epochMs } from '../core/outbound/outbound-decision.js';
import type { Telemetry } from '../core/shared/telemetry.js';

/** Tells from a record's `eventSourceARN` whether it came from the relay's delay queue. */
export type DelayQueueTest = (eventSourceArn: string | undefined) => boolean;

const toOutboundRecord = (r: SQSEvent['Records'][number], fromDelayQueue: DelayQueueTest): OutboundRecord => {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.messageAttributes ?? {})) if (v.stringValue !== undefined) attributes[k] = v.stringValue;
  const sent = epochMs(r.attributes?.SentTimestamp);
  return { id: r.messageId, body: r.body, attributes, fromDelayQueue: fromDelayQueue(r.eventSourceARN), ...(sent !== null ? { sentTimestampMs: sent } : {}) };
};

/**
 * SQS consumer for the outbound and delay queues, with partial batch responses (ReportBatchItemFailures):
 * only the records reported here come back. An unexpected error reports the whole batch, never drops it.
 */
export const createConsumerHandler =
  (service: () => Promise<OutboundService>, telemetry: Telemetry, fromDelayQueue: DelayQueueTest) =>
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const records = event.Records.map((r) => toOutboundRecord(r, fromDelayQueue));
    try {
      const { failedIds } = await (await service()).processBatch(records);
      return { batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })) };
    } catch (error) {
      telemetry.error('batch failed; every record will be retried', { error: String(error), records: records.length });
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.id })) };
    }
  };
