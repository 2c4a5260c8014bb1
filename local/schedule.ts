import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';

/** The event an EventBridge rate rule hands its target in AWS, for a local run of a scheduled function. */
export const scheduledEvent = (rule: string, region: string, at: Date = new Date()): ScheduledEvent => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '000000000000',
  time: at.toISOString(),
  region,
  resources: [`arn:aws:events:${region}:000000000000:rule/${rule}`],
  detail: {},
});

/**
 * A rate rule on this machine: runs `run` every `everySeconds`, the next run counted from the end of the last, so two
 * runs never overlap (in AWS a slow sweep could overlap the next one; the sweep tolerates that, it only never needs it
 * here). `stop` cancels the next run and waits for the one in flight.
 */
export class LocalSchedule {
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly everySeconds: number,
    private readonly run: () => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
  ) {
    if (!Number.isFinite(everySeconds) || everySeconds <= 0) throw new Error(`a schedule needs a positive interval, not ${everySeconds}`);
  }

  start(): this {
    this.#next();
    return this;
  }

  #next(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.run()
        .then(
          () => undefined,
          (error) => this.onError(error),
        )
        .finally(() => {
          this.#inFlight = undefined;
          this.#next();
        });
    }, this.everySeconds * 1000);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }
}
