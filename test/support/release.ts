import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoSendLedger, DynamoStatusReader } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import { DynamoPacer, DynamoParkedStore, DynamoReleaseStore } from '../../lambdas/adapters/dynamo/release-stores.js';
import { CallWindow, paceIntervalMs } from '../../lambdas/core/release/pacing.js';
import type { CloudApi } from '../../lambdas/core/outbound/ports.js';
import { silentTelemetry } from '../../lambdas/core/shared/telemetry.js';
import { ReleaseService, type ReleaseRunResult } from '../../lambdas/core/release/release.js';
import { randomUUID } from 'node:crypto';
import { orderKeyOf, type StatusClass } from '../../lambdas/core/status/client-status.js';
import type { ClientStore } from '../../lambdas/core/status/ports.js';
import type { ParkedCopy, ParkedRef, ParkedStore, ReleaseRequester, ReleaseTrigger } from '../../lambdas/core/release/ports.js';
import { parkedOrderKey } from '../../lambdas/core/release/release.js';

/** Writes one status event for a client straight into the store (what the webhook does for an account_update). */
export const setStatus = async (store: ClientStore, wabaId: string, cls: StatusClass, timeSeconds: number): Promise<void> => {
  const eventId = `${cls}-${timeSeconds}-${randomUUID().slice(0, 6)}`;
  await store.applyStatusEvent(wabaId, cls, {
    orderKey: orderKeyOf(timeSeconds * 1000, eventId),
    event: cls === 'OFFBOARDED' ? 'ACCOUNT_OFFBOARDED' : cls === 'RECONNECTED' ? 'ACCOUNT_RECONNECTED' : cls,
    eventId,
    eventTimeMs: timeSeconds * 1000,
    appliedAt: new Date().toISOString(),
  });
};

export interface CopyInit {
  readonly wabaId: string;
  readonly to: string;
  readonly phoneNumberId?: string;
  readonly enqueuedMs: number;
  readonly text?: string;
  readonly body?: string;
}

/** A parked copy as the consumer writes it when it parks a message. */
export const parkedCopy = (init: CopyInit): ParkedCopy => {
  const messageId = `m-${randomUUID().slice(0, 12)}`;
  const phoneNumberId = init.phoneNumberId ?? `pn-${init.wabaId}`;
  const body =
    init.body ??
    JSON.stringify({
      messageId,
      wabaId: init.wabaId,
      phoneNumberId,
      payload: { messaging_product: 'whatsapp', to: init.to, type: 'text', text: { body: init.text ?? messageId } },
    });
  return {
    wabaId: init.wabaId,
    messageId,
    orderKey: parkedOrderKey(init.enqueuedMs, messageId),
    firstEnqueuedMs: init.enqueuedMs,
    firstParkedAt: new Date(init.enqueuedMs + 5).toISOString(),
    phoneNumberId,
    recipient: init.to,
    parkCount: 1,
    sendAttempts: 0,
    rateLimitHits: 0,
    body,
  };
};

/** Remembers the releases asked for (for tests that only need the webhook or the consumer to ask). */
export class RecordingReleases implements ReleaseRequester {
  readonly requests: { wabaId: string; trigger: ReleaseTrigger }[] = [];
  async requestRelease(wabaId: string, trigger: ReleaseTrigger): Promise<void> {
    this.requests.push({ wabaId, trigger });
  }
}

/** Parked copies in memory, in first-enqueued order (for tests of the consumer's decisions). */
export class MemoryParkedStore implements ParkedStore {
  readonly copies = new Map<string, ParkedCopy>();
  failPut = false;
  async put(copies: readonly ParkedCopy[]): Promise<ReadonlySet<string>> {
    if (this.failPut) return new Set(copies.map((c) => c.messageId));
    for (const c of copies) this.copies.set(`${c.wabaId}|${c.orderKey}`, c);
    return new Set();
  }
  async remove(refs: readonly ParkedRef[]): Promise<void> {
    for (const r of refs) this.copies.delete(`${r.wabaId}|${r.orderKey}`);
  }
  async list(wabaId: string, limit: number, cursor?: string) {
    const mine = [...this.copies.values()].filter((c) => c.wabaId === wabaId && (!cursor || c.orderKey > cursor)).sort((a, b) => (a.orderKey < b.orderKey ? -1 : 1));
    const items = mine.slice(0, limit).map((copy) => ({ ok: true as const, copy }));
    return { items, cursor: mine.length > limit ? (items[items.length - 1]?.copy.orderKey ?? null) : null };
  }
  async summary(wabaId: string) {
    const mine = [...this.copies.values()].filter((c) => c.wabaId === wabaId).sort((a, b) => (a.orderKey < b.orderKey ? -1 : 1));
    return { count: mine.length, oldestParkedAt: mine[0]?.firstParkedAt ?? null };
  }
  async updateCounters(ref: ParkedRef, counters: { sendAttempts: number; rateLimitHits: number }): Promise<void> {
    const c = this.copies.get(`${ref.wabaId}|${ref.orderKey}`);
    if (c) this.copies.set(`${ref.wabaId}|${ref.orderKey}`, { ...c, ...counters });
  }
}

/**
 * Runs the release a connecting webhook asked for, against the real table (what the releaser does in the pipeline):
 * for tests that drive the webhook and the consumer without a releaser. Sends go to `cloudApi`.
 */
export const runRelease = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  wabaId: string,
  cloudApi: CloudApi,
): Promise<ReleaseRunResult> =>
  new ReleaseService({
    parked: new DynamoParkedStore(doc, tableName),
    control: new DynamoReleaseStore(doc, tableName),
    statuses: new DynamoStatusReader(doc, tableName),
    requests: { enqueue: async () => undefined },
    pacer: new DynamoPacer(doc, tableName, paceIntervalMs(50)),
    callWindow: new CallWindow(50),
    ledger: new DynamoSendLedger(doc, tableName, 5_000, 1),
    tokens: { tokenFor: async () => 'release-token' },
    cloudApi,
    queues: { deadLetter: async () => new Set<string>() },
    telemetry: silentTelemetry,
    maxSendAttempts: 3,
    maxParkSeconds: 86_400,
    reconnectSkewMs: 300_000,
  }).run({ wabaId, trigger: 'status-connected', requestedAt: new Date().toISOString() });
