import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { chunk } from '../../core/shared/concurrency.js';
import { entryKey, type OutcomeEntry, type OutcomeHistory } from '../../core/outcomes/message-outcome.js';
import type { MessageOutcomeStore, MessageRecord, StoredFallback } from '../../core/outcomes/ports.js';
import type { MessageKey } from '../../core/outbound/send-ledger.js';
import { classifyWriteError } from './client-store.js';
import { conditionalUpdate } from './conditional.js';
import { fallbackFromItem, historyFromItem, LEDGER_ATTRS, ledgerRecordFromItem, LEGACY_OUTCOME_SK, messageKeyFromWamidItem, OUTCOME_ATTRS } from './message-item.js';
import { keys, TABLE_TTL_ATTRIBUTE, ttlAfterDays } from './table.js';

const BATCH_GET_MAX = 100;

/**
 * Message outcomes in the relay's table, on the message item itself (beside its ledger state and wamid: a status from
 * Meta is kept only when its wamid is the one the relay recorded), and wamid items for sends whose statuses will not
 * carry the relay's callback data. Items expire with the send ledger's retention.
 */
export class DynamoMessageOutcomeStore implements MessageOutcomeStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  async record(
    key: MessageKey,
    entry: OutcomeEntry,
    nowMs: number,
    expectWamid?: string,
  ): Promise<{ history: OutcomeHistory; fallback: StoredFallback | null } | null | 'wamid-mismatch'> {
    // The entry is kept unless one that sorts before it is: "keep the least" per state commutes, so the history is the
    // same whatever order statuses arrive in. An identical entry is written again (a no-op). A status from Meta also
    // names its wamid: it is kept only on the message the relay sent with that wamid.
    const keep = 'attribute_not_exists(#k) OR #k >= :k';
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.message(key.wabaId, key.messageId),
      UpdateExpression: `SET #e = :e, #k = :k, ${LEDGER_ATTRS.wabaId} = :w, ${LEDGER_ATTRS.messageId} = :m, #ttl = :ttl`,
      ConditionExpression: expectWamid === undefined ? keep : `(${keep}) AND ${LEDGER_ATTRS.wamid} = :wamid`,
      ExpressionAttributeNames: { '#e': OUTCOME_ATTRS.entry(entry.state), '#k': OUTCOME_ATTRS.key(entry.state), '#ttl': TABLE_TTL_ATTRIBUTE },
      ExpressionAttributeValues: {
        ':e': entry,
        ':k': entryKey(entry),
        ':w': key.wabaId,
        ':m': key.messageId,
        ':ttl': ttlAfterDays(nowMs, this.retentionDays),
        ...(expectWamid === undefined ? {} : { ':wamid': expectWamid }),
      },
      ReturnValues: 'ALL_NEW',
    }).catch((error: unknown) => {
      throw classifyWriteError(error);
    });
    if (w.written) return { history: historyFromItem(w.attributes), fallback: fallbackFromItem(w.attributes) };
    if (expectWamid !== undefined && w.old?.[LEDGER_ATTRS.wamid] !== expectWamid) return 'wamid-mismatch';
    return null;
  }

  async recordSend(key: MessageKey, send: { readonly wamid: string; readonly rememberWamid: boolean; readonly fallback?: StoredFallback }, nowMs: number): Promise<void> {
    const ttl = ttlAfterDays(nowMs, this.retentionDays);
    await Promise.all([
      send.rememberWamid
        ? this.doc.send(
            // An upsert (UpdateItem, the action every writer already has): the same wamid always names the same message.
            new UpdateCommand({
              TableName: this.tableName,
              Key: keys.wamid(send.wamid),
              UpdateExpression: `SET ${LEDGER_ATTRS.wabaId} = :w, ${LEDGER_ATTRS.messageId} = :m, #ttl = :ttl`,
              ExpressionAttributeNames: { '#ttl': TABLE_TTL_ATTRIBUTE },
              ExpressionAttributeValues: { ':w': key.wabaId, ':m': key.messageId, ':ttl': ttl },
            }),
          )
        : undefined,
      send.fallback
        ? this.doc.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: keys.message(key.wabaId, key.messageId),
              UpdateExpression: `SET #f = :f, ${LEDGER_ATTRS.wabaId} = :w, ${LEDGER_ATTRS.messageId} = :m, #ttl = :ttl`,
              ExpressionAttributeNames: { '#f': OUTCOME_ATTRS.fallback, '#ttl': TABLE_TTL_ATTRIBUTE },
              ExpressionAttributeValues: { ':f': send.fallback, ':w': key.wabaId, ':m': key.messageId, ':ttl': ttl },
            }),
          )
        : undefined,
    ]).catch((error: unknown) => {
      throw classifyWriteError(error);
    });
  }

  async findByWamid(wamids: readonly string[]): Promise<ReadonlyMap<string, MessageKey>> {
    const found = new Map<string, MessageKey>();
    for (const part of chunk([...new Set(wamids)], BATCH_GET_MAX)) {
      let pending: Record<string, unknown>[] | undefined = part.map((w) => ({ ...keys.wamid(w) }));
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round === 5) throw new Error(`wamid read left ${pending.length} keys unprocessed`);
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }));
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const message = messageKeyFromWamidItem(item);
          if (message) found.set(String(item.pk).slice('WAMID#'.length), message);
        }
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  async read(key: MessageKey): Promise<MessageRecord | null> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.messagePk(key.wabaId, key.messageId) },
        ConsistentRead: true,
      }),
    );
    const items = out.Items ?? [];
    // Outcomes written before they moved onto the message item (sk OUTCOME) are read too, until their TTL ends.
    const legacy = items.find((i) => i.sk === LEGACY_OUTCOME_SK);
    const message = items.find((i) => i.sk === keys.message(key.wabaId, key.messageId).sk);
    if (!legacy && !message) return null;
    return {
      history: { ...historyFromItem(legacy), ...historyFromItem(message) },
      fallback: fallbackFromItem(message) ?? fallbackFromItem(legacy),
      ledger: ledgerRecordFromItem(message),
    };
  }
}
