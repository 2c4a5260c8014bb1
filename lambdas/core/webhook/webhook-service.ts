import { createHash } from 'node:crypto';
import { DEFAULT_RECONNECT_SKEW_MS, type EventEffect } from '../status/client-status.js';
import { mapLimit } from '../shared/concurrency.js';
import { isoTime } from '../shared/iso-time.js';
import type { Mutable } from '../shared/mutable.js';
import { DEFAULTS } from '../shared/defaults.js';
import { BadRequestError, ConfigError, ForbiddenError, PayloadTooLargeError, SignatureError, UnstorableError } from '../shared/errors.js';
import type { ClientStore } from '../status/ports.js';
import type { InboundEvent, InboundEventSink } from './ports.js';
import { noRelayEvents, type RelayEventPublisher } from '../outcomes/ports.js';
import type { PhoneOwnership } from '../outbound/ports.js';
import type { ReleaseRequester } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import type { RelayEvent } from '../outcomes/relay-events.js';
import type { SignatureVerifier } from './signature.js';
import type { MessageOutcomeService, StatusBatch, StatusSummary } from '../outcomes/message-outcome-service.js';
import { AccountUpdateWriter } from './account-update-writer.js';
import { MAX_CHANGES_PER_POST, parseWebhook } from './webhook-payload.js';

/** Meta's maximum webhook payload. */
const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;

import type { HumanReply, HumanReplyRecorder } from '../outbound/ports.js';
import { humanReplied } from '../outcomes/relay-events.js';
import { readEchoes } from './echoes.js';

/** How long the owner's last reply to a customer is kept: longer than the longest HUMAN_REPLY_HOLD_SECONDS (7 days). */
const HUMAN_REPLY_RETENTION_SECONDS = 8 * 86_400;

export interface WebhookServiceOptions {
  readonly verifier: SignatureVerifier;
  readonly verifyToken: string;
  readonly store: ClientStore;
  readonly inbound: InboundEventSink;
  readonly telemetry: Telemetry;
  /** Where a client's parked messages are asked to leave when it is CONNECTED again. */
  readonly releases: ReleaseRequester;
  /** Learns which WABA owns each phone number id from `messages` changes; absent: nothing is learned. */
  readonly phones?: PhoneOwnership | undefined;
  /** Message outcomes from the statuses in `messages` changes (`value.statuses[]`); absent: none are recorded. */
  readonly outcomes?: MessageOutcomeService | undefined;
  /** Remembers the owner's replies from the app (`smb_message_echoes`) for the human hold; absent: none are. */
  readonly humanReplies?: HumanReplyRecorder | undefined;
  /** Where `client.status_changed` relay events go; absent: none are published. */
  readonly events?: RelayEventPublisher;
  readonly now?: () => number;
  readonly reconnectSkewMs?: number;
  readonly timelineRetentionDays?: number;
  /** How far after receipt an event time may lie and still decide status (ms). */
  readonly maxEventFutureSkewMs?: number;
  /** How many status writes one request runs at once. */
  readonly writeConcurrency?: number;
}

export interface ReceiveSummary {
  readonly accountUpdates: number;
  readonly statusChanges: number;
  readonly forwarded: number;
  readonly unreadable: number;
  /** account_update changes whose time may not decide status (recorded and forwarded as unreadable). */
  readonly rejectedTimes?: number;
  /** Changes the store refused for good (forwarded as unreadable). */
  readonly unstorable?: number;
  readonly ignoredObject?: string;
  /** Message statuses read from `messages` changes, and what became of them (when outcomes are recorded). */
  readonly messageStatuses?: StatusSummary;
}

/**
 * The body exactly as it arrived: its bytes, or the text API Gateway passed (HTTP APIs pass JSON as text, so there is
 * no copy to bytes and back); either way the signed bytes are the text's UTF-8 encoding.
 */
export type RawBody = Uint8Array | string;

/** The body as the text of its UTF-8 bytes (a lone surrogate in given text reads as U+FFFD, as those bytes decode). */
const bodyText = (b: RawBody): string =>
  typeof b === 'string' ? b.toWellFormed() : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

const timingSafeTokenEquals = (a: string, b: string): boolean => {
  // Tokens are short; compare every character so the time does not depend on where they differ.
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
};

/** One DynamoDB step of a POST; resolves to what it did, or to `unstorable` when the store refused it for good. */
type StoreTask = () => Promise<EventEffect | 'learned' | { readonly unstorable: string }>;

type Options = Required<Omit<WebhookServiceOptions, 'now' | 'phones' | 'outcomes' | 'humanReplies'>> & {
  now: () => number;
  phones: PhoneOwnership | undefined;
  humanReplies: HumanReplyRecorder | undefined;
  outcomes: MessageOutcomeService | undefined;
};

export class WebhookService {
  readonly #o: Options;
  readonly #accountUpdates: AccountUpdateWriter;

  constructor(options: WebhookServiceOptions) {
    if (options.verifyToken.length === 0) throw new ConfigError('verify token must not be empty');
    this.#o = {
      reconnectSkewMs: DEFAULT_RECONNECT_SKEW_MS,
      timelineRetentionDays: DEFAULTS.timelineRetentionDays,
      maxEventFutureSkewMs: DEFAULTS.maxEventFutureSkewSeconds * 1000,
      writeConcurrency: 16,
      now: Date.now,
      events: noRelayEvents,
      ...options,
      phones: options.phones,
      outcomes: options.outcomes,
      humanReplies: options.humanReplies,
    };
    this.#accountUpdates = new AccountUpdateWriter(this.#o);
  }

  /** `GET /webhook`: Meta's subscription handshake. Returns the challenge to echo. */
  verifySubscription(query: Readonly<Record<string, string | undefined>>): string {
    const mode = query['hub.mode'];
    const token = query['hub.verify_token'];
    const challenge = query['hub.challenge'];
    if (!mode || token === undefined || challenge === undefined) {
      throw new BadRequestError('hub.mode, hub.verify_token and hub.challenge are required');
    }
    if (mode !== 'subscribe' || !timingSafeTokenEquals(token, this.#o.verifyToken)) {
      this.#o.telemetry.count('WebhookVerifyRejected');
      throw new ForbiddenError('verification refused');
    }
    return challenge;
  }

  /**
   * `POST /webhook`: verifies the signature over the raw bytes before anything else, then stores every change, each
   * on its own. Resolves once everything storable is durably stored (a change the store refuses for good is forwarded
   * as unreadable instead); throws (and the caller answers 5xx) only for failures a retry can fix.
   */
  async receive(rawBody: RawBody, signatureHeader: string | undefined): Promise<ReceiveSummary> {
    const t = this.#o.telemetry;
    const bytes = typeof rawBody === 'string' ? Buffer.byteLength(rawBody, 'utf8') : rawBody.length;
    if (bytes > MAX_WEBHOOK_BYTES) {
      t.count('WebhookTooLarge');
      throw new PayloadTooLargeError(`body of ${bytes} bytes exceeds ${MAX_WEBHOOK_BYTES}`);
    }
    const check = this.#o.verifier.verify(rawBody, signatureHeader);
    if (!check.valid) {
      t.count('WebhookSignatureRejected');
      t.warn('webhook signature rejected', { problem: check.problem, bytes });
      throw new SignatureError(`signature ${check.problem}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(bodyText(rawBody));
    } catch {
      t.count('WebhookNotJson');
      throw new BadRequestError('body is not JSON');
    }
    const receivedAtMs = this.#o.now();
    const receivedAt = isoTime(receivedAtMs);
    const parsed = parseWebhook(json, { receivedAtMs, maxFutureSkewMs: this.#o.maxEventFutureSkewMs });
    if (parsed.kind === 'ignored') {
      t.count('WebhookIgnoredObject');
      t.info('webhook for another object ignored', { object: parsed.object.slice(0, 64) });
      return { accountUpdates: 0, statusChanges: 0, forwarded: 0, unreadable: 0, ignoredObject: parsed.object };
    }
    if (parsed.kind === 'invalid') {
      // Signed by Meta but not the shape we know: keep it on the inbound queue rather than refuse it
      // (any non-200 makes Meta retry the same body for days).
      t.count('WebhookUnreadableChanges');
      t.warn('webhook body unreadable; forwarded as is', { problem: parsed.problem });
      await this.#o.inbound.forward([
        {
          dedupeId: createHash('sha256').update(rawBody).digest('hex').slice(0, 32),
          wabaId: null,
          field: 'unreadable',
          entryTime: null,
          problem: parsed.problem,
          raw: json,
          receivedAt,
        },
      ]);
      return { accountUpdates: 0, statusChanges: 0, forwarded: 0, unreadable: 1 };
    }

    const changes = parsed.changes;
    if (changes.length > MAX_CHANGES_PER_POST) t.warn('more changes than Meta documents', { changes: changes.length });
    const tasks: StoreTask[] = [];
    const toForward: InboundEvent[] = [];
    const toRelease = new Set<string>();
    const toPublish: RelayEvent[] = [];
    const followUps = { toRelease, toPublish };
    const sightings = new Map<string, { phoneNumberId: string; wabaId: string; atMs: number }>();
    const statusBatches: StatusBatch[] = [];
    const echoes: HumanReply[] = [];
    let accountUpdates = 0;
    let unreadable = 0;
    let rejectedTimes = 0;
    for (const c of changes) {
      if (c.kind === 'account_update') {
        accountUpdates++;
        tasks.push(this.#guard(c.raw, c.wabaId, toForward, receivedAt, () => this.#accountUpdates.apply(c, receivedAt, followUps)));
      } else if (c.kind === 'rejected-time') {
        rejectedTimes++;
        t.warn('event time rejected', { wabaId: c.wabaId, problem: c.problem, time: c.rawTime });
        tasks.push(this.#guard(c.raw, c.wabaId, [], receivedAt, () => this.#accountUpdates.recordRejectedTime(c, receivedAt)));
        toForward.push({ dedupeId: c.dedupeId, wabaId: c.wabaId, field: 'unreadable', entryTime: c.claimedTimeMs, problem: `${c.problem}: ${c.detail}`, raw: c.raw, receivedAt });
      } else if (c.kind === 'forward') {
        toForward.push({ dedupeId: c.dedupeId, wabaId: c.wabaId, field: c.field, entryTime: c.entryTimeMs, value: c.value, receivedAt });
        if (c.field === 'smb_message_echoes' && c.wabaId !== null && this.#o.humanReplies) echoes.push(...readEchoes(c.wabaId, c.value, receivedAtMs, this.#o.maxEventFutureSkewMs));
        if (c.statuses) statusBatches.push({ wabaId: c.wabaId, statuses: c.statuses, ...(c.phoneNumberId !== undefined ? { phoneNumberId: c.phoneNumberId } : {}) });
        if (c.phoneNumberId !== undefined && this.#o.phones) {
          const key = `${c.phoneNumberId}\u0000${c.wabaId}`;
          const atMs = c.seenAtMs ?? receivedAtMs;
          const seen = sightings.get(key);
          if (!seen || seen.atMs < atMs) sightings.set(key, { phoneNumberId: c.phoneNumberId, wabaId: c.wabaId, atMs });
        }
      } else {
        unreadable++;
        t.warn('unreadable change forwarded', { wabaId: c.wabaId, problem: c.problem.slice(0, 200) });
        toForward.push({ dedupeId: c.dedupeId, wabaId: c.wabaId, field: 'unreadable', entryTime: null, problem: c.problem, raw: c.raw, receivedAt });
      }
    }
    const humans = this.#o.humanReplies;
    if (humans && echoes.length > 0) {
      // One conditional write per customer (only a later reply moves it), and an event for each reply that did.
      tasks.push(async () => {
        for (const r of await humans.record(echoes, HUMAN_REPLY_RETENTION_SECONDS)) toPublish.push(humanReplied(r));
        t.count('HumanRepliesSeen', echoes.length);
        return 'learned';
      });
    }
    const phones = this.#o.phones;
    if (phones) {
      for (const s of sightings.values()) {
        tasks.push(async () => {
          await phones.learn(s.phoneNumberId, s.wabaId, 'webhook', s.atMs);
          return 'learned';
        });
      }
    }

    // DynamoDB first, forwarding after: when DynamoDB is down nothing at all is queued. A retryable failure of any
    // step fails the request (after the others finished) so Meta delivers it again; every write is idempotent, so the
    // redelivery completes what is missing and changes nothing already stored.
    const outcomes = this.#o.outcomes;
    const storing = tasks.length === 1 ? (tasks[0] as StoreTask)().then((r) => [r]) : mapLimit(tasks, this.#o.writeConcurrency, (task) => task());
    let results: Awaited<typeof storing>;
    let messageStatuses: StatusSummary | undefined;
    if (outcomes && statusBatches.length > 0) {
      const [stored, applied] = await Promise.allSettled([
        storing,
        // Outcomes from statuses: one conditional write each, then their events (and fallbacks) before the answer.
        outcomes.applyStatuses(statusBatches, receivedAtMs),
      ]);
      if (stored.status === 'rejected') throw stored.reason;
      if (applied.status === 'rejected') throw applied.reason;
      results = stored.value;
      messageStatuses = applied.value;
    } else {
      results = await storing;
    }
    const unstorable = results.filter((r) => typeof r === 'object').length;
    // Releases after the status writes, once per client: failing to queue one fails the request (Meta delivers again,
    // and the redelivery asks again).
    if (toRelease.size > 0) {
      await Promise.all([...toRelease].map((w) => this.#o.releases.requestRelease(w, 'status-connected')));
      t.count('ReleasesRequested', toRelease.size);
    }
    if (toForward.length > 0) await this.#o.inbound.forward(toForward);
    // Relay events last, after every status write they report: a failure to publish fails the request like any other
    // step, Meta delivers again, and the redelivery publishes the same events (same ids) from the stored timeline.
    if (toPublish.length > 0) await this.#o.events.publish(toPublish);
    const statusChanges = results.filter((e) => e === 'status-changed').length;
    const forwarded = toForward.length - unreadable - rejectedTimes - unstorable;
    t.count('AccountUpdateEvents', accountUpdates);
    t.count('ClientStatusChanges', statusChanges);
    t.count('InboundEventsForwarded', forwarded);
    if (unreadable + rejectedTimes + unstorable > 0) t.count('WebhookUnreadableChanges', unreadable + rejectedTimes + unstorable);
    if (rejectedTimes > 0) t.count('WebhookRejectedEventTimes', rejectedTimes);
    if (unstorable > 0) t.count('WebhookUnstorableChanges', unstorable);
    // Assigned one by one rather than spread in: an object built from spreads is slow to copy into the log line.
    const summary: Mutable<ReceiveSummary> = { accountUpdates, statusChanges, forwarded, unreadable: unreadable + unstorable };
    if (rejectedTimes > 0) summary.rejectedTimes = rejectedTimes;
    if (unstorable > 0) summary.unstorable = unstorable;
    if (messageStatuses) summary.messageStatuses = messageStatuses;
    return summary;
  }

  /**
   * Runs one store step; when the store refuses it for good the change goes to `forwardTo` as unreadable (with the
   * store's reason) instead of failing the POST. Any other error propagates: a retry may fix it.
   */
  #guard(raw: unknown, wabaId: string, forwardTo: InboundEvent[], receivedAt: string, step: () => Promise<EventEffect>): StoreTask {
    return async () => {
      try {
        return await step();
      } catch (error) {
        if (!(error instanceof UnstorableError)) throw error;
        const problem = `unstorable: ${error.message.slice(0, 300)}`;
        this.#o.telemetry.warn('change the store refuses forwarded as unreadable', { wabaId, problem });
        forwardTo.push({
          dedupeId: createHash('sha256').update(`unstorable\u0000${wabaId}\u0000${problem}`).digest('hex').slice(0, 32),
          wabaId,
          field: 'unreadable',
          entryTime: null,
          problem,
          raw,
          receivedAt,
        });
        return { unstorable: problem };
      }
    };
  }
}
