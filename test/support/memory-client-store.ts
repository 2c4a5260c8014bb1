import { type LatestByClass, orderKeyOf, type StatusClass, type StatusEventRecord, supersedes } from '../../lambdas/core/status/client-status.js';
import type { DisableWarningRecord, RestrictionRecord } from '../../lambdas/core/health/client-health.js';
import type { ApplyStatusEventResult, ClientRecord, ClientStore, TimelineEntry } from '../../lambdas/core/status/ports.js';

interface MemoryClient {
  firstSeenAt: string;
  latest: LatestByClass;
  counters: { parked: number; sent: number; deadLettered: number; ambiguousResends: number };
  restriction?: RestrictionRecord;
  disableWarning?: DisableWarningRecord;
}

/**
 * In-memory {@link ClientStore} with the same semantics as the DynamoDB one (used by benchmarks to measure the
 * handler without storage, and by unit tests that need many orderings quickly).
 */
export class MemoryClientStore implements ClientStore {
  readonly clients = new Map<string, MemoryClient>();
  readonly timeline = new Map<string, Map<string, TimelineEntry>>();

  #client(wabaId: string, nowIso: string): MemoryClient {
    let c = this.clients.get(wabaId);
    if (!c) {
      c = { firstSeenAt: nowIso, latest: {}, counters: { parked: 0, sent: 0, deadLettered: 0, ambiguousResends: 0 } };
      this.clients.set(wabaId, c);
    }
    return c;
  }

  async applyStatusEvent(wabaId: string, cls: StatusClass, record: StatusEventRecord): Promise<ApplyStatusEventResult> {
    const c = this.#client(wabaId, record.appliedAt);
    const before = { ...c.latest };
    if (!supersedes(c.latest[cls], record.orderKey)) return { before, written: false };
    c.latest = { ...c.latest, [cls]: record };
    return { before, written: true };
  }

  async touchClient(wabaId: string, nowIso: string): Promise<LatestByClass> {
    return { ...this.#client(wabaId, nowIso).latest };
  }

  async resetStatus(wabaId: string, _nowIso: string): Promise<LatestByClass | null> {
    const c = this.clients.get(wabaId);
    if (!c) return null;
    const before = { ...c.latest };
    c.latest = {};
    return before;
  }

  async putTimelineEntry(entry: TimelineEntry): Promise<TimelineEntry> {
    let t = this.timeline.get(entry.wabaId);
    if (!t) {
      t = new Map();
      this.timeline.set(entry.wabaId, t);
    }
    const key = orderKeyOf(entry.eventTimeMs, entry.eventId);
    const stored = t.get(key);
    if (stored) return stored;
    t.set(key, entry);
    return entry;
  }

  async getClient(wabaId: string): Promise<ClientRecord | null> {
    const c = this.clients.get(wabaId);
    if (!c) return null;
    const health = { ...(c.restriction ? { restriction: c.restriction } : {}), ...(c.disableWarning ? { disableWarning: c.disableWarning } : {}) };
    return { wabaId, firstSeenAt: c.firstSeenAt, latest: { ...c.latest }, counters: { ...c.counters }, health, phoneNumberId: null, release: { drainSince: null, last: null } };
  }

  async listTimeline(wabaId: string, limit: number): Promise<readonly TimelineEntry[]> {
    const t = this.timeline.get(wabaId);
    if (!t) return [];
    return [...t.entries()]
      .sort(([a], [b]) => (a < b ? 1 : -1))
      .slice(0, limit)
      .map(([, e]) => e);
  }

  async applyRestriction(wabaId: string, restriction: RestrictionRecord): Promise<boolean> {
    const c = this.#client(wabaId, restriction.appliedAt);
    if (c.restriction && c.restriction.orderKey >= restriction.orderKey) return false;
    c.restriction = restriction;
    return true;
  }

  async applyDisableWarning(wabaId: string, warning: DisableWarningRecord): Promise<boolean> {
    const c = this.#client(wabaId, warning.appliedAt);
    if (c.disableWarning && c.disableWarning.orderKey >= warning.orderKey) return false;
    c.disableWarning = warning;
    return true;
  }

  /** The consumer's parked markers are not kept here: the webhook side never parks. */
  async parkedNow(_wabaId: string): Promise<{ count: number; oldestParkedAt: string | null }> {
    return { count: 0, oldestParkedAt: null };
  }
}

