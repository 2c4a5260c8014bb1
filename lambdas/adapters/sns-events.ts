import { truncateValue } from '../core/shared/bounded-json.js';
import { noRelayEvents, type RelayEventPublisher } from '../core/outcomes/ports.js';
import type { Telemetry } from '../core/shared/telemetry.js';
import { RELAY_EVENT_TYPE_ATTRIBUTE, type RelayEvent } from '../core/outcomes/relay-events.js';
import { toSqsJson } from '../core/shared/sqs-body.js';
import { type SnsBatchSender, SnsRequestError } from './sns-batch.js';

/** SNS takes up to 10 entries per PublishBatch. */
const SNS_MAX_BATCH_ENTRIES = 10;
/** SNS's largest payload, for one message and for a whole batch: 256 KiB, message bodies and attributes together. */
export const SNS_MAX_PAYLOAD_BYTES = 262_144;

export interface SnsRelayEventPublisherOptions {
  /** Tries per entry, the first included, before `publish` gives up and throws (default 3). */
  readonly maxAttempts?: number;
  /** Wait before the first retry; doubles with each further one (default 100 ms). */
  readonly retryDelayMs?: number;
  /** Counts `RelayEventPublishFailures` and logs failures (codes only, never a payload). */
  readonly telemetry?: Telemetry;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Thrown when some events were not accepted after every retry: the caller fails so its own retry publishes again. */
export class RelayEventPublishError extends Error {
  override readonly name = 'RelayEventPublishError';
  constructor(
    message: string,
    readonly failedEventIds: readonly string[],
  ) {
    super(message);
  }
}

interface Outgoing {
  readonly eventId: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly bytes: number;
}

/** What SNS counts of a message's attributes: names, data types (`String`) and values. */
const attributeBytes = (attributes: Readonly<Record<string, string>>): number =>
  Object.entries(attributes).reduce((n, [k, v]) => n + Buffer.byteLength(k) + 'String'.length + Buffer.byteLength(v), 0);

/**
 * One SNS message per event: the event's JSON with every non-ASCII character escaped (SNS delivers to SQS, which has
 * the same character limits as the relay's own queues), and the attributes subscribers filter on: `type` and `wabaId`.
 * An event too large for SNS (a detail that is not meant to be that large) goes out with its detail truncated (the
 * first 16 KiB of its JSON, its length and SHA-256) rather than never.
 */
const snsMessageOf = (event: RelayEvent): Outgoing => {
  const attributes = { [RELAY_EVENT_TYPE_ATTRIBUTE]: event.type, wabaId: event.wabaId };
  const overhead = attributeBytes(attributes);
  let body = toSqsJson(event);
  if (body.length + overhead > SNS_MAX_PAYLOAD_BYTES) body = toSqsJson({ ...event, detail: { truncated: truncateValue(event.detail) } });
  return { eventId: event.id, body, attributes, bytes: body.length + overhead };
};

const groupBatches = (messages: readonly Outgoing[]): Outgoing[][] => {
  const batches: Outgoing[][] = [];
  let current: Outgoing[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (current.length > 0 && (current.length === SNS_MAX_BATCH_ENTRIES || bytes + m.bytes > SNS_MAX_PAYLOAD_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += m.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
};

interface BatchResult {
  readonly failed: Outgoing[];
  /** True when at least one failure may pass on a retry (not the sender's fault). */
  readonly retryable: boolean;
  readonly errors: string[];
}

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 200);

/**
 * Publishes relay events to an SNS topic with PublishBatch: up to 10 events and 256 KiB per request, in parallel.
 * Entries SNS reports in `Failed` (HTTP 200 with a partial failure) are sent again, up to `maxAttempts` tries in all;
 * whatever is still refused then makes `publish` throw. The same event twice in one call is published once (same id,
 * same fact).
 */
export class SnsRelayEventPublisher implements RelayEventPublisher {
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly sns: SnsBatchSender,
    private readonly topicArn: string,
    private readonly options: SnsRelayEventPublisherOptions = {},
  ) {
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async publish(events: readonly RelayEvent[]): Promise<void> {
    const unique = new Map<string, RelayEvent>();
    for (const e of events) if (!unique.has(e.id)) unique.set(e.id, e);
    if (unique.size === 0) return;
    let pending = [...unique.values()].map(snsMessageOf);
    const errors: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const results = await Promise.all(groupBatches(pending).map((b) => this.#publishBatch(b)));
      pending = results.flatMap((r) => r.failed);
      if (pending.length === 0) return;
      errors.push(...results.flatMap((r) => r.errors));
      if (attempt >= this.#maxAttempts || !results.some((r) => r.retryable)) break;
      await this.#sleep(this.#retryDelayMs * 2 ** (attempt - 1));
    }
    const t = this.options.telemetry;
    t?.count('RelayEventPublishFailures', pending.length);
    t?.error('relay events not published', { failed: pending.length, of: unique.size, errors: [...new Set(errors)].slice(0, 3) });
    throw new RelayEventPublishError(`${pending.length} of ${unique.size} relay events not published: ${errors[errors.length - 1] ?? ''}`, pending.map((m) => m.eventId));
  }

  async #publishBatch(batch: readonly Outgoing[]): Promise<BatchResult> {
    const entries = batch.map((m, i) => ({ Id: `e${i}`, Message: m.body, attributes: m.attributes }));
    let out: Awaited<ReturnType<SnsBatchSender['publishBatch']>>;
    try {
      out = await this.sns.publishBatch(this.topicArn, entries);
    } catch (error) {
      // A client fault (a missing topic, no permission) stays; anything else (throttling, 5xx, network) may pass.
      const clientFault = error instanceof SnsRequestError && error.clientFault;
      return { failed: [...batch], retryable: !clientFault, errors: [describe(error)] };
    }
    const failed: Outgoing[] = [];
    const errors: string[] = [];
    let retryable = false;
    for (const f of out.failed) {
      const m = batch[Number(f.id.slice(1))];
      if (m) failed.push(m);
      if (!f.senderFault) retryable = true;
      errors.push(`${f.code}: ${f.message}`.trim().slice(0, 200));
    }
    // An entry SNS neither accepted nor refused is not published: count it as failed.
    const answered = new Set([...out.successful, ...out.failed.map((f) => f.id)]);
    batch.forEach((m, i) => {
      if (!answered.has(`e${i}`)) {
        failed.push(m);
        retryable = true;
        errors.push('NoAnswer: entry missing from the PublishBatch response');
      }
    });
    return { failed, retryable, errors };
  }
}

/** The functions' publisher: SNS when a topic is configured, otherwise none (events off). */
export const relayEventPublisher = (
  topicArn: string | undefined,
  sns: () => SnsBatchSender,
  telemetry: Telemetry,
): RelayEventPublisher => (topicArn ? new SnsRelayEventPublisher(sns(), topicArn, { telemetry }) : noRelayEvents);
