import type { Telemetry } from '../shared/telemetry.js';
import type { RelayEvent } from './relay-events.js';
import type { RelayEventPublisher } from './ports.js';

/**
 * Relay events of one unit of work (an SQS batch, a page of a release), published together when it settles: ten sent
 * messages cost one SNS PublishBatch instead of ten. Best effort like every relay-event publish of the send path: a
 * failure is counted (`RelayEventPublishFailures`) and logged, never a reason to send again.
 */
export class EventBuffer implements RelayEventPublisher {
  readonly #pending: RelayEvent[] = [];

  constructor(
    private readonly target: RelayEventPublisher,
    private readonly telemetry: Telemetry,
  ) {}

  async publish(events: readonly RelayEvent[]): Promise<void> {
    this.#pending.push(...events);
  }

  /** Publishes what was buffered (the publisher splits it into SNS batches of ten). */
  async flush(): Promise<void> {
    const events = this.#pending.splice(0);
    if (events.length === 0) return;
    try {
      await this.target.publish(events);
    } catch (error) {
      this.telemetry.warn('relay events not published', { events: events.length, error: String(error) });
      this.telemetry.count('RelayEventPublishFailures');
    }
  }
}
