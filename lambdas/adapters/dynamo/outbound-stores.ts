import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { STATUS_CLASSES } from '../../core/client-status.js';
import { chunk } from '../../core/concurrency.js';
import type { ActivityRecorder, ClientActivity, ClientSnapshot, ClientStatusReader } from '../../core/ports.js';
import {
  CLAIMABLE_STATES,
  type ClaimResult,
  isResend,
  type LedgerState,
  SETTLED_STATE,
  type SendLedger,
} from '../../core/send-ledger.js';
import {
  classAttr,
  HEALTH_ATTRIBUTES,
  HEALTH_PROJECTION,
  healthFromItem,
  keys,
  latestFromItem,
  TABLE_TTL_ATTRIBUTE,
  ttlAfterDays,
} from './table.js';

const BATCH_GET_MAX = 100;
/** Only what the decision needs: the latest event of each class and the health evidence. */
const PROJECTED = ['wabaId', ...STATUS_CLASSES.map(classAttr), ...HEALTH_PROJECTION];
/** Names go through placeholders: some attribute names (`hold`) are DynamoDB reserved words. */
const STATUS_PROJECTION = PROJECTED.map((_, i) => `#p${i}`).join(', ');
const PROJECTION_NAMES = Object.fromEntries(PROJECTED.map((name, i) => [`#p${i}`, name]));
const BATCH_WRITE_MAX = 25;

/** Reads the status items of a batch's distinct clients with one strongly consistent BatchGetItem (per 100). */
export class DynamoStatusReader implements ClientStatusReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readClients(wabaIds: readonly string[]): Promise<ReadonlyMap<string, ClientSnapshot>> {
    const result = new Map<string, ClientSnapshot>();
    for (const ids of chunk(wabaIds, BATCH_GET_MAX)) {
      let pending: Record<string, unknown>[] | undefined = ids.map((w) => ({ ...keys.status(w) }));
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round === 5) throw new Error(`status read left ${pending.length} keys unprocessed`);
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: { Keys: pending, ConsistentRead: true, ProjectionExpression: STATUS_PROJECTION, ExpressionAttributeNames: PROJECTION_NAMES },
            },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          result.set(String(item.wabaId), { latest: latestFromItem(item), health: healthFromItem(item) });
        }
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return result;
  }
}

/** A claim may take the entry: none yet, a claimable state, or SENDING whose lease expired (its worker died). */
const CLAIM_CONDITION = `attribute_not_exists(pk) OR #state IN (${CLAIMABLE_STATES.map((s) => `:${s}`).join(', ')}) OR (#state = :SENDING AND leaseUntil < :now)`;
/** Only the claim's own holder may settle it: a worker whose lease was taken over changes nothing. */
const HOLDER_CONDITION = '#token = :token';

/** The send ledger (`lambdas/core/send-ledger.ts`) in DynamoDB, one item per `messageId`, with a lease on SENDING. */
export class DynamoSendLedger implements SendLedger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long a claim blocks others; longer than the Cloud API timeout. */
    private readonly leaseMs: number,
    private readonly retentionDays: number,
  ) {}

  async claim(messageId: string, wabaId: string, nowMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.ledger(messageId),
          UpdateExpression: `SET #state = :SENDING, #token = :token, leaseUntil = :lease, wabaId = :waba, #ttl = :ttl ADD claims :one`,
          ConditionExpression: CLAIM_CONDITION,
          ExpressionAttributeNames: { '#state': 'state', '#token': 'token', '#ttl': TABLE_TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':SENDING': 'SENDING' satisfies LedgerState,
            ...Object.fromEntries(CLAIMABLE_STATES.map((s) => [`:${s}`, s])),
            ':token': token,
            ':lease': nowMs + this.leaseMs,
            ':now': nowMs,
            ':waba': wabaId,
            ':ttl': ttlAfterDays(nowMs, this.retentionDays),
            ':one': 1,
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { outcome: 'claimed', token, resend: isResend(out.Attributes?.state) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.ledger(messageId), ConsistentRead: true }),
      );
      if (current.Item?.state === SETTLED_STATE.markSent) {
        return { outcome: 'already-sent', wamid: typeof current.Item.wamid === 'string' ? current.Item.wamid : null };
      }
      return { outcome: 'in-flight' };
    }
  }

  async markSent(messageId: string, token: string, wamid: string, nowMs: number): Promise<void> {
    await this.#transition(messageId, token, SETTLED_STATE.markSent, { wamid, sentAt: new Date(nowMs).toISOString() });
  }

  async release(messageId: string, token: string): Promise<void> {
    await this.#transition(messageId, token, SETTLED_STATE.release);
  }

  async markAmbiguous(messageId: string, token: string): Promise<void> {
    await this.#transition(messageId, token, SETTLED_STATE.markAmbiguous);
  }

  async #transition(messageId: string, token: string, state: LedgerState, extra: Record<string, string> = {}): Promise<void> {
    const names: Record<string, string> = { '#state': 'state', '#token': 'token' };
    const values: Record<string, unknown> = { ':state': state, ':token': token };
    let set = '#state = :state';
    for (const [k, v] of Object.entries(extra)) {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      set += `, #${k} = :${k}`;
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.ledger(messageId),
          UpdateExpression: `SET ${set} REMOVE leaseUntil`,
          ConditionExpression: HOLDER_CONDITION,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      // The lease was taken over (this worker was too slow): the newer holder owns the item now.
      if (error instanceof ConditionalCheckFailedException) return;
      throw error;
    }
  }
}

/**
 * Per-client counters (one UpdateItem per client per batch) and parked-message markers (BatchWriteItem), so the
 * status route can report counts and the oldest parked message without a scan. Markers expire by TTL in case a
 * delete is ever lost.
 */
export class DynamoActivityRecorder implements ActivityRecorder {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly markerTtlSeconds: number,
  ) {}

  async record(activity: readonly ClientActivity[], nowMs: number): Promise<void> {
    const nowIso = new Date(nowMs).toISOString();
    const writes: Record<string, unknown>[] = [];
    for (const a of activity) {
      for (const p of a.newlyParked) {
        writes.push({
          PutRequest: {
            Item: {
              ...keys.parkedMarker(a.wabaId, p.firstParkedAt, p.messageId),
              messageId: p.messageId,
              firstParkedAt: p.firstParkedAt,
              [TABLE_TTL_ATTRIBUTE]: Math.floor(Date.parse(p.firstParkedAt) / 1000) + this.markerTtlSeconds,
            },
          },
        });
      }
      for (const p of a.unparked) {
        writes.push({ DeleteRequest: { Key: keys.parkedMarker(a.wabaId, p.firstParkedAt, p.messageId) } });
      }
    }
    await Promise.all([
      ...activity
        .filter((a) => a.parked + a.sent + a.deadLettered + a.ambiguousResends > 0)
        .map((a) =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keys.status(a.wabaId),
              UpdateExpression: `SET wabaId = :waba, firstSeenAt = if_not_exists(firstSeenAt, :now)${
                a.phoneNumberId ? `, ${HEALTH_ATTRIBUTES.phoneNumberId} = :pn` : ''
              } ADD parkedTotal :p, sentTotal :s, deadLetteredTotal :d, ambiguousResends :a`,
              ExpressionAttributeValues: {
                ...(a.phoneNumberId ? { ':pn': a.phoneNumberId } : {}),
                ':waba': a.wabaId,
                ':now': nowIso,
                ':p': a.parked,
                ':s': a.sent,
                ':d': a.deadLettered,
                ':a': a.ambiguousResends,
              },
            }),
          ),
        ),
      ...chunk(dedupeWrites(writes), BATCH_WRITE_MAX).map((batch) => this.#batchWrite(batch)),
    ]);
  }

  async #batchWrite(batch: Record<string, unknown>[]): Promise<void> {
    let pending: Record<string, unknown>[] | undefined = batch;
    for (let round = 0; pending && pending.length > 0 && round < 3; round++) {
      const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending as never } }));
      pending = out.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
    }
  }
}

/** BatchWriteItem refuses two requests for one key; keep the last. */
const dedupeWrites = (writes: Record<string, unknown>[]): Record<string, unknown>[] => {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const w of writes) {
    const r = (w.PutRequest as { Item: { pk: string; sk: string } } | undefined)?.Item ?? (w.DeleteRequest as { Key: { pk: string; sk: string } }).Key;
    byKey.set(`${r.pk}|${r.sk}`, w);
  }
  return [...byKey.values()];
};
