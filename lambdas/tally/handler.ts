import type { DynamoDBStreamEvent } from 'aws-lambda';
import { batchIdOf, messageChangeOf } from '../adapters/dynamo/message-stream.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import type { CounterStore } from '../core/status/ports.js';
import { tally } from '../core/status/tally.js';

/**
 * Stream handler: what a batch of message-item changes adds to each client's counters, one write per client. A failure
 * throws: the event source delivers the batch again, and a client it was already added to adds nothing again.
 */
export const createTallyHandler =
  (counters: CounterStore, telemetry: Telemetry, now: () => number = Date.now) =>
  async (event: DynamoDBStreamEvent): Promise<{ changes: number; clients: number }> => {
    const changes = event.Records.flatMap((r) => {
      const c = messageChangeOf(r);
      return c ? [c] : [];
    });
    const tallies = tally(changes);
    if (tallies.length > 0) await counters.add(tallies, batchIdOf(event.Records), now());
    telemetry.count('MessageChangesCounted', changes.length);
    return { changes: changes.length, clients: tallies.length };
  };
