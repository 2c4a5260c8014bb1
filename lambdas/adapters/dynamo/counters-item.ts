import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientCounters, CounterStore } from '../../core/status/ports.js';
import type { ClientTally } from '../../core/status/tally.js';
import { mapLimit } from '../../core/shared/concurrency.js';
import { conditionalUpdate } from './conditional.js';
import { keys } from './table.js';

/**
 * The counters item (`keys.counters`): a client's message counters, small (under 200 bytes, one write unit) and
 * written only by the tally function. Releases before this item kept the same attributes on the status item; a reader
 * adds both (`countersFromItems`).
 */
const COUNTER_ATTRS = {
  parked: 'parkedTotal',
  sent: 'sentTotal',
  deadLettered: 'deadLetteredTotal',
  ambiguousResends: 'ambiguousResends',
  /** The stream batch applied last: a retry of that batch adds nothing again. */
  lastBatch: 'lastBatch',
  updatedAt: 'updatedAt',
} as const;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The counters on the counters item plus any a status item still holds. */
export const countersFromItems = (...items: readonly (Record<string, unknown> | undefined)[]): ClientCounters => {
  const sum = (attr: string) => items.reduce((n, item) => n + num(item?.[attr]), 0);
  return {
    parked: sum(COUNTER_ATTRS.parked),
    sent: sum(COUNTER_ATTRS.sent),
    deadLettered: sum(COUNTER_ATTRS.deadLettered),
    ambiguousResends: sum(COUNTER_ATTRS.ambiguousResends),
  };
};

/** Adds one stream batch to each client's counters item, ten clients at a time. */
export class DynamoCounterStore implements CounterStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async add(tallies: readonly ClientTally[], batchId: string, nowMs: number): Promise<void> {
    await mapLimit(tallies, 10, async (t) => {
      await conditionalUpdate(this.doc, {
        TableName: this.tableName,
        Key: keys.counters(t.wabaId),
        UpdateExpression: 'SET #last = :batch, #at = :now ADD #p :p, #s :s, #d :d, #a :a',
        // Refused: this batch was applied to this client before (the stream delivered it again after a failure).
        ConditionExpression: 'attribute_not_exists(#last) OR #last <> :batch',
        ExpressionAttributeNames: {
          '#last': COUNTER_ATTRS.lastBatch,
          '#at': COUNTER_ATTRS.updatedAt,
          '#p': COUNTER_ATTRS.parked,
          '#s': COUNTER_ATTRS.sent,
          '#d': COUNTER_ATTRS.deadLettered,
          '#a': COUNTER_ATTRS.ambiguousResends,
        },
        ExpressionAttributeValues: {
          ':batch': batchId,
          ':now': new Date(nowMs).toISOString(),
          ':p': t.parked,
          ':s': t.sent,
          ':d': t.deadLettered,
          ':a': t.ambiguousResends,
        },
      });
    });
  }
}
