import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { Telemetry } from '../core/shared/telemetry.js';
import type { CounterStore } from '../core/status/ports.js';
import { type MessageItemChange, tally } from '../core/status/tally.js';

/** How the stream's records read as message changes, and the batch's name (the DynamoDB adapter's `readMessageChanges`). */
export type StreamReader = (event: DynamoDBStreamEvent) => { readonly changes: readonly MessageItemChange[]; readonly batchId: string };

/**
 * Stream handler: what a batch of message-item changes adds to each client's counters, one write per client. A failure
 * throws: the event source delivers the batch again, and a client it was already added to adds nothing again.
 */
export const createTallyHandler =
  (read: StreamReader, counters: CounterStore, telemetry: Telemetry, now: () => number = Date.now) =>
  async (event: DynamoDBStreamEvent): Promise<{ changes: number; clients: number }> => {
    const { changes, batchId } = read(event);
    const tallies = tally(changes);
    if (tallies.length > 0) await counters.add(tallies, batchId, now());
    telemetry.count('MessageChangesCounted', changes.length);
    return { changes: changes.length, clients: tallies.length };
  };
