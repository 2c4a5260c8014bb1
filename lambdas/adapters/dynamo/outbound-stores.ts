import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type LatestByClass, STATUS_CLASSES } from '../../core/client-status.js';
import { chunk } from '../../core/concurrency.js';
import type { ActivityRecorder, ClientActivity, ClientSnapshot, ClientStatusReader } from '../../core/ports.js';
import { releaseGateFromItem } from './release-stores.js';
import {
  CLAIMABLE_STATES,
  type ClaimResult,
  isResend,
  type LedgerState,
  SETTLED_STATE,
  type SendLedger,
} from '../../core/send-ledger.js';
import { classAttr, keys, RELEASE_ATTRS, TABLE_TTL_ATTRIBUTE, ttlAfterDays } from './table.js';

const BATCH_GET_MAX = 100;
/** Only what the consumer's decision needs: the latest event of each class and the release's drain flag. */
const STATUS_PROJECTION = ['wabaId', ...STATUS_CLASSES.map(classAttr), RELEASE_ATTRS.drainSince, RELEASE_ATTRS.beatAt].join(', ');
const BATCH_WRITE_MAX = 25;

/** Reads the status items of a batch's distinct clients with one strongly consistent BatchGetItem (per 100). */
export class DynamoStatusReader implements ClientStatusReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readLatest(wabaIds: readonly string[]): Promise<ReadonlyMap<string, ClientSnapshot>> {
    const result = new Map<string, ClientSnapshot>();
    for (const ids of chunk(wabaIds, BATCH_GET_MAX)) {
      let pending: Record<string, unknown>[] | undefined = ids.map((w) => ({ ...keys.status(w) }));
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round === 5) throw new Error(`status read left ${pending.length} keys unprocessed`);
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: { Keys: pending, ConsistentRead: true, ProjectionExpression: STATUS_PROJECTION },
            },
          }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const gate = releaseGateFromItem(item);
          result.set(String(item.wabaId), { latest: gate.latest, drainSince: gate.drainSince, beatAt: gate.beatAt });
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
 * Per-client counters, one UpdateItem per client per batch (parked messages themselves are kept as parked copies, see
 * `release-stores.ts`).
 */
export class DynamoActivityRecorder implements ActivityRecorder {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(activity: readonly ClientActivity[], nowMs: number): Promise<void> {
    const nowIso = new Date(nowMs).toISOString();
    await Promise.all([
      ...activity
        .filter((a) => a.parked + a.sent + a.deadLettered + a.ambiguousResends > 0)
        .map((a) =>
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keys.status(a.wabaId),
              UpdateExpression:
                'SET wabaId = :waba, firstSeenAt = if_not_exists(firstSeenAt, :now) ADD parkedTotal :p, sentTotal :s, deadLetteredTotal :d, ambiguousResends :a',
              ExpressionAttributeValues: {
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
    ]);
  }
}

