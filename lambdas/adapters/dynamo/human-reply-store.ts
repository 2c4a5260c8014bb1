import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { HumanReply, HumanReplyRecorder } from '../../core/outbound/ports.js';
import { mapLimit } from '../../core/shared/concurrency.js';
import { conditionalUpdate } from './conditional.js';
import { HUMAN_PREFIX, keys, TABLE_TTL_ATTRIBUTE } from './table.js';

/** The owner's last reply per customer, on the client's partition (`HUMAN#<phoneNumberId>#<customer>`). */
export class DynamoHumanReplyStore implements HumanReplyRecorder {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(replies: readonly HumanReply[], retentionSeconds: number): Promise<readonly HumanReply[]> {
    // The latest reply per customer of this call, then one conditional write each: the time only moves forward.
    const latest = new Map<string, HumanReply>();
    for (const r of replies) {
      const id = `${r.wabaId}\u0000${r.phoneNumberId}\u0000${r.customer}`;
      const seen = latest.get(id);
      if (!seen || seen.atMs < r.atMs) latest.set(id, r);
    }
    const moved = await mapLimit([...latest.values()], 16, async (r) => {
      const w = await conditionalUpdate(this.doc, {
        TableName: this.tableName,
        Key: keys.humanReply(r.wabaId, r.phoneNumberId, r.customer),
        UpdateExpression: 'SET repliedAtMs = :t, wabaId = :w, phoneNumberId = :p, customer = :c, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(repliedAtMs) OR repliedAtMs < :t',
        ExpressionAttributeNames: { '#ttl': TABLE_TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':t': r.atMs, ':w': r.wabaId, ':p': r.phoneNumberId, ':c': r.customer, ':ttl': Math.floor(r.atMs / 1000) + retentionSeconds },
      });
      return w.written ? r : null;
    });
    return moved.filter((r): r is HumanReply => r !== null);
  }

  async countHeld(wabaId: string, nowMs: number, holdSeconds: number): Promise<number> {
    if (holdSeconds <= 0) return 0;
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: 'repliedAtMs > :since',
          ExpressionAttributeValues: { ':pk': keys.clientPk(wabaId), ':prefix': HUMAN_PREFIX, ':since': nowMs - holdSeconds * 1000 },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }
}
