import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { chunk } from '../../core/shared/concurrency.js';
import type { BeginRelease, Pacer, ParkedCopy, ParkedRef, ParkedStore, ReleaseGate, ReleaseProgress, ReleaseStore, StoredParkedCopy } from '../../core/release/ports.js';
import { conditionalUpdate } from './conditional.js';
import { DEFAULT_PARKED_TTL_SECONDS, LEGACY_PARKED_MARKER, PARKED_ATTRS, parkedFromItem, parkedItem } from './parked-item.js';
import { PACE_ATTRS, paceTtl } from './phone-items.js';
import { clientCreateSet, RELEASE_ATTRS, RELEASE_PROJECTION, releaseGateFromItem } from './status-item.js';
import { keys, PARKED_PREFIX, TABLE_TTL_ATTRIBUTE } from './table.js';

const parkedKey = (ref: ParkedRef) => keys.parkedCopy(ref.wabaId, ref.orderKey);
const clientPk = keys.clientPk;

const BATCH_WRITE_MAX = 25;

const batchWrite = async (doc: DynamoDBDocumentClient, tableName: string, requests: Record<string, unknown>[]): Promise<Record<string, unknown>[]> => {
  let pending: Record<string, unknown>[] | undefined = requests;
  for (let round = 0; pending && pending.length > 0 && round < 4; round++) {
    if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending as never } }));
    pending = out.UnprocessedItems?.[tableName] as Record<string, unknown>[] | undefined;
  }
  return pending ?? [];
};

/** Parked copies beside their client's status item, read back in first-enqueued order with strongly consistent queries. */
export class DynamoParkedStore implements ParkedStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Seconds after the first park that DynamoDB may drop a copy left behind (longer than MAX_PARK_SECONDS). */
    private readonly ttlSeconds: number = DEFAULT_PARKED_TTL_SECONDS,
  ) {}

  async put(copies: readonly ParkedCopy[]): Promise<ReadonlySet<string>> {
    const failed = new Set<string>();
    await Promise.all(
      chunk(copies, BATCH_WRITE_MAX).map(async (batch) => {
        try {
          const left = await batchWrite(
            this.doc,
            this.tableName,
            batch.map((c) => ({ PutRequest: { Item: { ...parkedKey(c), ...parkedItem(c, this.ttlSeconds) } } })),
          );
          for (const l of left) failed.add(String((l.PutRequest as { Item: { messageId: string } }).Item.messageId));
        } catch {
          for (const c of batch) failed.add(c.messageId);
        }
      }),
    );
    return failed;
  }

  async remove(refs: readonly ParkedRef[]): Promise<void> {
    const unique = [...new Map(refs.map((r) => [`${r.wabaId}|${r.orderKey}`, r])).values()];
    await Promise.all(
      chunk(unique, BATCH_WRITE_MAX).map(async (batch) => {
        const left = await batchWrite(this.doc, this.tableName, batch.map((r) => ({ DeleteRequest: { Key: parkedKey(r) } })));
        if (left.length > 0) throw new Error(`${left.length} parked copies not deleted`);
      }),
    );
  }

  async list(wabaId: string, limit: number, cursor?: string): Promise<{ items: StoredParkedCopy[]; cursor: string | null }> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': clientPk(wabaId), ':prefix': PARKED_PREFIX },
        ConsistentRead: true,
        Limit: limit,
        ...(cursor ? { ExclusiveStartKey: { pk: clientPk(wabaId), sk: cursor } } : {}),
      }),
    );
    const items: StoredParkedCopy[] = [];
    const legacy: Record<string, unknown>[] = [];
    for (const item of out.Items ?? []) {
      if (LEGACY_PARKED_MARKER.test(String(item.sk))) legacy.push({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } });
      else items.push(parkedFromItem(item, wabaId));
    }
    if (legacy.length > 0) await batchWrite(this.doc, this.tableName, legacy);
    const next = out.LastEvaluatedKey?.sk;
    return { items, cursor: typeof next === 'string' ? next : null };
  }

  async summary(wabaId: string): Promise<{ count: number; oldestParkedAt: string | null }> {
    const base = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': clientPk(wabaId), ':prefix': PARKED_PREFIX },
    };
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...base, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) }));
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    if (count === 0) return { count, oldestParkedAt: null };
    const first = await this.doc.send(new QueryCommand({ ...base, ProjectionExpression: PARKED_ATTRS.firstParkedAt, Limit: 1 }));
    const at = first.Items?.[0]?.[PARKED_ATTRS.firstParkedAt];
    return { count, oldestParkedAt: typeof at === 'string' ? at : null };
  }

  async updateCounters(ref: ParkedRef, counters: { sendAttempts: number; rateLimitHits: number }): Promise<void> {
    // Refused: the copy is gone meanwhile, nothing to record.
    await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: parkedKey(ref),
      UpdateExpression: 'SET #a = :a, #r = :r',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#a': PARKED_ATTRS.sendAttempts, '#r': PARKED_ATTRS.rateLimitHits },
      ExpressionAttributeValues: { ':a': counters.sendAttempts, ':r': counters.rateLimitHits },
    });
  }
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** The release lease, drain flag and progress, as conditional writes on the client's status item. */
export class DynamoReleaseStore implements ReleaseStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  #key(wabaId: string) {
    return keys.status(wabaId);
  }

  async read(wabaId: string): Promise<ReleaseGate> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: this.#key(wabaId), ConsistentRead: true, ProjectionExpression: RELEASE_PROJECTION }),
    );
    return releaseGateFromItem(out.Item);
  }

  async begin(wabaId: string, releaseId: string, nowMs: number, leaseMs: number, progress: ReleaseProgress): Promise<BeginRelease> {
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: this.#key(wabaId),
      UpdateExpression:
        `SET #lid = :id, #lu = :until, #beat = :now, #drain = if_not_exists(#drain, :now), #last = :p, ${clientCreateSet(':iso')}`,
      ConditionExpression: 'attribute_not_exists(#lu) OR #lu < :now OR #lid = :id',
      ExpressionAttributeNames: {
        '#lid': RELEASE_ATTRS.leaseId,
        '#lu': RELEASE_ATTRS.leaseUntil,
        '#beat': RELEASE_ATTRS.beatAt,
        '#drain': RELEASE_ATTRS.drainSince,
        '#last': RELEASE_ATTRS.last,
      },
      ExpressionAttributeValues: {
        ':id': releaseId,
        ':until': nowMs + leaseMs,
        ':now': nowMs,
        ':p': progress,
        ':waba': wabaId,
        ':iso': new Date(nowMs).toISOString(),
      },
      ReturnValues: 'ALL_OLD',
    });
    if (!w.written) return { ok: false, leaseUntilMs: numOrNull(w.old?.[RELEASE_ATTRS.leaseUntil]) ?? nowMs };
    const old = w.attributes;
    return { ok: true, drainSince: numOrNull(old?.[RELEASE_ATTRS.drainSince]) ?? nowMs, previous: (old?.[RELEASE_ATTRS.last] as ReleaseProgress | undefined) ?? null };
  }

  async heartbeat(wabaId: string, releaseId: string, nowMs: number, leaseMs: number, progress: ReleaseProgress): Promise<boolean> {
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: this.#key(wabaId),
      UpdateExpression: 'SET #lu = :until, #beat = :now, #last = :p',
      ConditionExpression: '#lid = :id',
      ExpressionAttributeNames: { '#lid': RELEASE_ATTRS.leaseId, '#lu': RELEASE_ATTRS.leaseUntil, '#beat': RELEASE_ATTRS.beatAt, '#last': RELEASE_ATTRS.last },
      ExpressionAttributeValues: { ':id': releaseId, ':until': nowMs + leaseMs, ':now': nowMs, ':p': progress },
    });
    return w.written;
  }

  async finish(wabaId: string, releaseId: string, progress: ReleaseProgress, clearDrainIf: number | null): Promise<boolean> {
    const attempt = async (clear: boolean): Promise<boolean> => {
      const w = await conditionalUpdate(this.doc, {
        TableName: this.tableName,
        Key: this.#key(wabaId),
        UpdateExpression: `SET #last = :p, #beat = :now REMOVE #lid, #lu${clear ? ', #drain' : ''}`,
        ConditionExpression: clear ? '#lid = :id AND #drain = :drain' : '#lid = :id',
        ExpressionAttributeNames: {
          '#lid': RELEASE_ATTRS.leaseId,
          '#lu': RELEASE_ATTRS.leaseUntil,
          '#beat': RELEASE_ATTRS.beatAt,
          '#last': RELEASE_ATTRS.last,
          ...(clear ? { '#drain': RELEASE_ATTRS.drainSince } : {}),
        },
        ExpressionAttributeValues: {
          ':id': releaseId,
          ':p': progress,
          ':now': Date.parse(progress.updatedAt),
          ...(clear ? { ':drain': clearDrainIf } : {}),
        },
      });
      return w.written;
    };
    if (clearDrainIf !== null && (await attempt(true))) return true;
    await attempt(false);
    return false;
  }

  async markDrain(wabaId: string, nowMs: number): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.#key(wabaId),
        UpdateExpression: `SET #drain = if_not_exists(#drain, :now), ${clientCreateSet(':iso')}`,
        ExpressionAttributeNames: { '#drain': RELEASE_ATTRS.drainSince },
        ExpressionAttributeValues: { ':now': nowMs, ':waba': wabaId, ':iso': new Date(nowMs).toISOString() },
      }),
    );
  }
}

/**
 * Pace slots per phone number, one item each: a reservation takes the stored next slot when it lies ahead (and moves it
 * one interval on), otherwise now. Both are conditional writes, so concurrent reservations from any number of
 * instances get distinct slots at least one interval apart (see `lambdas/core/pacing.ts`).
 */
export class DynamoPacer implements Pacer {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly intervalMs: number,
  ) {}

  async reserve(phoneNumberId: string, nowMs: number): Promise<number> {
    const ttl = paceTtl(nowMs);
    const names = { '#next': PACE_ATTRS.nextSlotMs, '#ttl': TABLE_TTL_ATTRIBUTE };
    for (let attempt = 0; attempt < 20; attempt++) {
      const ahead = await conditionalUpdate(this.doc, {
        TableName: this.tableName,
        Key: keys.pace(phoneNumberId),
        UpdateExpression: 'SET #next = #next + :i, #ttl = :ttl',
        ConditionExpression: '#next > :now',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':i': this.intervalMs, ':now': nowMs, ':ttl': ttl },
        ReturnValues: 'UPDATED_NEW',
      });
      if (ahead.written) return Number(ahead.attributes?.[PACE_ATTRS.nextSlotMs]) - this.intervalMs;
      // Refused: no slot ahead; take now, unless another reservation moved the slot ahead meanwhile (then try again).
      const now = await conditionalUpdate(this.doc, {
        TableName: this.tableName,
        Key: keys.pace(phoneNumberId),
        UpdateExpression: 'SET #next = :next, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#next) OR #next <= :now',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':next': nowMs + this.intervalMs, ':now': nowMs, ':ttl': ttl },
      });
      if (now.written) return nowMs;
    }
    throw new Error(`pace slot for ${phoneNumberId} not reserved after 20 attempts`);
  }
}
