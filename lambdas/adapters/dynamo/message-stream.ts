import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { LEDGER_STATES, type LedgerState } from '../../core/outbound/send-ledger.js';
import type { MessageItemChange, MessageItemImage } from '../../core/status/tally.js';
import { LEDGER_ATTRS, OUTCOME_ATTRS } from './message-item.js';
import { MESSAGE_PREFIX, wabaIdOfMessagePk } from './table.js';

/**
 * The table's stream as the counters read it: changes of message items (`keys.message`) only. The event source's
 * filter (CDK) and the local stream poller take it from here, so both see the same records.
 */
export const MESSAGE_STREAM_FILTER = {
  eventNames: ['INSERT', 'MODIFY'],
  /** Every message item's partition key starts so; no other item's does. */
  pkPrefix: MESSAGE_PREFIX,
} as const;

type Image = NonNullable<NonNullable<DynamoDBRecord['dynamodb']>['NewImage']>;

const imageOf = (image: Image | undefined): MessageItemImage | null => {
  if (!image) return null;
  const state = image[LEDGER_ATTRS.state]?.S;
  return {
    state: state !== undefined && (LEDGER_STATES as readonly string[]).includes(state) ? (state as LedgerState) : null,
    parked: image[OUTCOME_ATTRS.entry('parked')] !== undefined,
  };
};

/** The change one stream record shows, or null for a record that is not a write to a message item. */
export const messageChangeOf = (record: DynamoDBRecord): MessageItemChange | null => {
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return null;
  const wabaId = wabaIdOfMessagePk(record.dynamodb?.Keys?.pk?.S ?? '');
  const after = imageOf(record.dynamodb?.NewImage);
  if (!wabaId || !after) return null;
  return { wabaId, before: imageOf(record.dynamodb?.OldImage), after };
};

/** Names one batch of records: a retry of the same batch has the same name (see `DynamoCounterStore`). */
export const batchIdOf = (records: readonly DynamoDBRecord[]): string =>
  `${records[0]?.eventID ?? ''}..${records.at(-1)?.eventID ?? ''}#${records.length}`;

/** A stream event as the tally function reads it: its message changes and its batch's name. */
export const readMessageChanges = (event: DynamoDBStreamEvent): { changes: MessageItemChange[]; batchId: string } => ({
  changes: event.Records.flatMap((r) => {
    const c = messageChangeOf(r);
    return c ? [c] : [];
  }),
  batchId: batchIdOf(event.Records),
});
