import {
  type ClientStatus,
  deriveStatus,
  describeEffect,
  type EventEffect,
  orderKeyOf,
  type StatusEventRecord,
} from '../status/client-status.js';
import { holdState } from '../health/client-health.js';
import type { ClientStore } from '../status/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { clientStatusChanged, type RelayEvent } from '../outcomes/relay-events.js';
import { CONNECTING_CLASSES, releaseDue } from '../release/release-rules.js';
import type { AccountUpdate, RejectedTimeUpdate } from './parsed-change.js';

export interface AccountUpdateWriterOptions {
  readonly store: ClientStore;
  readonly telemetry: Telemetry;
  readonly now: () => number;
  readonly reconnectSkewMs: number;
  readonly timelineRetentionDays: number;
}

/** What the writes of one POST leave for after them: clients to release, relay events to publish. */
export interface AccountUpdateFollowUps {
  readonly toRelease: Set<string>;
  readonly toPublish: RelayEvent[];
}

/**
 * Writes one `account_update` change to the client's records: the status event (or the touch and the health event),
 * then the timeline entry. What must happen after every write of the POST goes to {@link AccountUpdateFollowUps}.
 */
export class AccountUpdateWriter {
  readonly #o: AccountUpdateWriterOptions;

  constructor(options: AccountUpdateWriterOptions) {
    this.#o = options;
  }

  async apply(u: AccountUpdate, receivedAt: string, { toRelease, toPublish }: AccountUpdateFollowUps): Promise<EventEffect> {
    const { store, telemetry, reconnectSkewMs } = this.#o;
    let effect: EventEffect;
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
      const connecting = CONNECTING_CLASSES.includes(u.statusClass);
      const result = await store.applyStatusEvent(u.wabaId, u.statusClass, record, connecting ? { drainSince: this.#o.now() } : {});
      ({ effect, statusBefore, statusAfter } = describeEffect(u.statusClass, record, result.before, reconnectSkewMs));
      if (result.written && result.beforeHealth) {
        // A status event from Meta stamped after the relay's hold ends it (derived on read; counted here, once).
        const was = holdState(result.beforeHealth, result.before);
        const now = holdState(result.beforeHealth, Object.assign({}, result.before, { [u.statusClass]: record }));
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
    if (u.unknownPropertyCount !== undefined) detail.unknownPropertyCount = u.unknownPropertyCount;
    const stored = await store.putTimelineEntry({
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
      expiresAt: this.#expiresAt(),
    });
    // From the timeline entry as first stored: a redelivery (a `duplicate` now) publishes the change it made then.
    if (stored.effect === 'status-changed') {
      toPublish.push(
        clientStatusChanged(u.wabaId, { eventId: stored.eventId, event: stored.event, eventTimeMs: stored.eventTimeMs, from: stored.statusBefore, to: stored.statusAfter }),
      );
    }
    if (releaseDue(u.statusClass, statusBefore, statusAfter)) toRelease.add(u.wabaId);
    return effect;
  }

  /**
   * An event whose time may not decide status: the client is created if new and the timeline says why the event was
   * not applied. Ordered by its claimed time when that is representable (so an operator sees it first), else at 0.
   */
  async recordRejectedTime(u: RejectedTimeUpdate, receivedAt: string): Promise<EventEffect> {
    const latest = await this.#o.store.touchClient(u.wabaId, receivedAt);
    const status = deriveStatus(latest, this.#o.reconnectSkewMs).status;
    await this.#o.store.putTimelineEntry({
      wabaId: u.wabaId,
      eventId: u.eventId,
      event: u.event,
      eventTimeMs: u.claimedTimeMs ?? 0,
      receivedAt,
      statusClass: u.statusClass,
      effect: 'rejected-time',
      statusBefore: status,
      statusAfter: status,
      detail: { problem: u.problem, time: u.rawTime, ...(u.entryId !== u.wabaId ? { entryId: u.entryId } : {}) },
      expiresAt: this.#expiresAt(),
    });
    return 'rejected-time';
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

  #expiresAt(): number {
    return Math.floor(this.#o.now() / 1000) + this.#o.timelineRetentionDays * 86_400;
  }
}
