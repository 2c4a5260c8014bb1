import { createHash } from 'node:crypto';
import {
  type ClientStatus,
  DEFAULT_RECONNECT_SKEW_MS,
  deriveStatus,
  describeEffect,
  orderKeyOf,
  type StatusEventRecord,
} from './client-status.js';
import { holdState } from './client-health.js';
import { mapLimit } from './concurrency.js';
import { BadRequestError, ConfigError, ForbiddenError, PayloadTooLargeError, SignatureError } from './errors.js';
import type { ClientStore, InboundEvent, InboundEventSink, Telemetry, TimelineEntry } from './ports.js';
import type { SignatureVerifier } from './signature.js';
import { type AccountUpdate, MAX_CHANGES_PER_POST, parseWebhook } from './webhook-payload.js';

/** Meta's maximum webhook payload. */
export const MAX_WEBHOOK_BYTES = 3 * 1024 * 1024;

export interface WebhookServiceOptions {
  readonly verifier: SignatureVerifier;
  readonly verifyToken: string;
  readonly store: ClientStore;
  readonly inbound: InboundEventSink;
  readonly telemetry: Telemetry;
  readonly now?: () => number;
  readonly reconnectSkewMs?: number;
  readonly timelineRetentionDays?: number;
  /** How many status writes one request runs at once. */
  readonly writeConcurrency?: number;
}

export interface ReceiveSummary {
  readonly accountUpdates: number;
  readonly statusChanges: number;
  readonly forwarded: number;
  readonly unreadable: number;
  readonly ignoredObject?: string;
}

const timingSafeTokenEquals = (a: string, b: string): boolean => {
  // Tokens are short; compare every character so the time does not depend on where they differ.
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
};

export class WebhookService {
  readonly #o: Required<Omit<WebhookServiceOptions, 'now'>> & { now: () => number };

  constructor(options: WebhookServiceOptions) {
    if (options.verifyToken.length === 0) throw new ConfigError('verify token must not be empty');
    this.#o = {
      reconnectSkewMs: DEFAULT_RECONNECT_SKEW_MS,
      timelineRetentionDays: 30,
      writeConcurrency: 16,
      now: Date.now,
      ...options,
    };
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
   * `POST /webhook`: verifies the signature over the raw bytes before anything else, then stores every change.
   * Resolves only once everything is durably stored; throws (and the caller answers 5xx) otherwise.
   */
  async receive(rawBody: Buffer, signatureHeader: string | undefined): Promise<ReceiveSummary> {
    const t = this.#o.telemetry;
    if (rawBody.length > MAX_WEBHOOK_BYTES) {
      t.count('WebhookTooLarge');
      throw new PayloadTooLargeError(`body of ${rawBody.length} bytes exceeds ${MAX_WEBHOOK_BYTES}`);
    }
    const check = this.#o.verifier.verify(rawBody, signatureHeader);
    if (!check.valid) {
      t.count('WebhookSignatureRejected');
      t.warn('webhook signature rejected', { problem: check.problem, bytes: rawBody.length });
      throw new SignatureError(`signature ${check.problem}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      t.count('WebhookNotJson');
      throw new BadRequestError('body is not JSON');
    }
    const parsed = parseWebhook(json);
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
          receivedAt: new Date(this.#o.now()).toISOString(),
        },
      ]);
      return { accountUpdates: 0, statusChanges: 0, forwarded: 0, unreadable: 1 };
    }

    const changes = parsed.changes;
    if (changes.length > MAX_CHANGES_PER_POST) t.warn('more changes than Meta documents', { changes: changes.length });
    const receivedAt = new Date(this.#o.now()).toISOString();
    const updates: AccountUpdate[] = [];
    const toForward: InboundEvent[] = [];
    let unreadable = 0;
    for (const c of changes) {
      if (c.kind === 'account_update') updates.push(c);
      else if (c.kind === 'forward') {
        toForward.push({ dedupeId: c.dedupeId, wabaId: c.wabaId, field: c.field, entryTime: c.entryTimeMs, value: c.value, receivedAt });
      } else {
        unreadable++;
        t.warn('unreadable change forwarded', { wabaId: c.wabaId, problem: c.problem });
        toForward.push({ dedupeId: c.dedupeId, wabaId: c.wabaId, field: 'unreadable', entryTime: null, problem: c.problem, raw: c.raw, receivedAt });
      }
    }

    // Status writes first, forwarding after: when DynamoDB is down nothing at all is written or queued. Either step
    // failing fails the request so Meta delivers it again; every write is idempotent, so the redelivery completes
    // what is missing and changes nothing already stored.
    const effects =
      updates.length === 1
        ? [await this.#applyAccountUpdate(updates[0] as AccountUpdate, receivedAt)]
        : await mapLimit(updates, this.#o.writeConcurrency, (u) => this.#applyAccountUpdate(u, receivedAt));
    if (toForward.length > 0) await this.#o.inbound.forward(toForward);
    const statusChanges = effects.filter((e) => e === 'status-changed').length;
    t.count('AccountUpdateEvents', updates.length);
    t.count('ClientStatusChanges', statusChanges);
    t.count('InboundEventsForwarded', toForward.length - unreadable);
    if (unreadable > 0) t.count('WebhookUnreadableChanges', unreadable);
    return { accountUpdates: updates.length, statusChanges, forwarded: toForward.length - unreadable, unreadable };
  }

  /**
   * Restrictions and scheduled disables do not change the status but change what may be sent: the latest of each is
   * kept beside the status records (a conditional "keep the later" write, so arrival order does not matter).
   */
  async #applyHealthEvent(u: AccountUpdate, receivedAt: string): Promise<void> {
    const { store, telemetry } = this.#o;
    const base = { orderKey: orderKeyOf(u.eventTimeMs, u.eventId), eventId: u.eventId, eventTimeMs: u.eventTimeMs, appliedAt: receivedAt };
    if (u.event === 'ACCOUNT_RESTRICTION' && u.restrictions) {
      if (await store.applyRestriction(u.wabaId, { ...base, restrictions: u.restrictions })) {
        telemetry.count('RestrictionsRecorded');
        telemetry.info('client restriction recorded', { wabaId: u.wabaId, restrictions: u.restrictions.map((r) => r.type) });
      }
    } else if (u.event === 'DISABLED_UPDATE' && u.banState === 'SCHEDULE_FOR_DISABLE') {
      if (await store.applyDisableWarning(u.wabaId, { ...base, ...(u.banDate ? { banDate: u.banDate } : {}) })) {
        telemetry.count('DisableScheduled');
        telemetry.warn('client scheduled for disable', { wabaId: u.wabaId, banDate: u.banDate });
      }
    }
  }

  async #applyAccountUpdate(u: AccountUpdate, receivedAt: string): Promise<string> {
    const { store, telemetry, reconnectSkewMs } = this.#o;
    let effect: TimelineEntry['effect'];
    let statusBefore: ClientStatus;
    let statusAfter: ClientStatus;
    if (u.statusClass) {
      const record: StatusEventRecord = {
        orderKey: orderKeyOf(u.eventTimeMs, u.eventId),
        event: u.event,
        eventId: u.eventId,
        eventTimeMs: u.eventTimeMs,
        appliedAt: receivedAt,
        ...(u.disconnection ? { disconnection: u.disconnection } : {}),
        ...(u.banState ? { banState: u.banState } : {}),
      };
      const result = await store.applyStatusEvent(u.wabaId, u.statusClass, record);
      ({ effect, statusBefore, statusAfter } = describeEffect(u.statusClass, record, result.before, reconnectSkewMs));
      if (result.written && result.beforeHealth) {
        // A status event from Meta stamped after the relay's hold ends it (derived on read; counted here, once).
        const was = holdState(result.beforeHealth, result.before);
        const now = holdState(result.beforeHealth, { ...result.before, [u.statusClass]: record });
        if (was.state === 'in-force' && now.state === 'ended') {
          telemetry.count('HoldsEnded', 1, { by: 'status-event' });
          telemetry.info('hold ended by a newer status event', { wabaId: u.wabaId, event: u.event });
        }
      }
      if (effect === 'status-changed') {
        telemetry.count('ClientStatusChanged', 1, { status: statusAfter });
        telemetry.info('client status changed', { wabaId: u.wabaId, event: u.event, from: statusBefore, to: statusAfter });
      }
    } else {
      const latest = await store.touchClient(u.wabaId, receivedAt);
      effect = 'informational';
      statusBefore = statusAfter = deriveStatus(latest, reconnectSkewMs).status;
      await this.#applyHealthEvent(u, receivedAt);
    }
    const detail: Record<string, unknown> = {};
    if (u.disconnection) detail.disconnection = u.disconnection;
    if (u.banState) detail.banState = u.banState;
    if (u.banDate) detail.banDate = u.banDate;
    if (u.restrictions) {
      detail.restrictions = u.restrictions.map((r) => ({
        type: r.type,
        expiration: r.expiresAtMs === null ? null : new Date(r.expiresAtMs).toISOString(),
      }));
    }
    if (u.phoneNumber) detail.phoneNumber = u.phoneNumber;
    if (u.entryId !== u.wabaId) detail.entryId = u.entryId;
    if (u.unknownProperties.length > 0) detail.unknownProperties = u.unknownProperties;
    await store.putTimelineEntry({
      wabaId: u.wabaId,
      eventId: u.eventId,
      event: u.event,
      eventTimeMs: u.eventTimeMs,
      receivedAt,
      statusClass: u.statusClass,
      effect,
      statusBefore,
      statusAfter,
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
      expiresAt: Math.floor(this.#o.now() / 1000) + this.#o.timelineRetentionDays * 86_400,
    });
    return effect;
  }
}
