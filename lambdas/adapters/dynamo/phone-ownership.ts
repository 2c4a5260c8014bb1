import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunk } from '../../core/shared/concurrency.js';
import type { PhoneOwner, PhoneOwnership, PhoneOwnershipSource } from '../../core/outbound/ports.js';
import { classifyWriteError } from './client-store.js';
import { conditionalUpdate } from './conditional.js';
import { PHONE_OWNER_ATTRS, phoneOwnerFromItem } from './phone-items.js';
import { keys, PHONE_PREFIX } from './table.js';

/** BatchGetItem reads up to 100 keys per request. */
const MAX_BATCH_GET = 100;
/** Rounds of UnprocessedKeys retried before giving up (the caller retries the whole batch later). */
const MAX_BATCH_GET_ROUNDS = 5;

/** Phone number ownership, one item per phone number id (`PHONE#<phoneNumberId>` / `OWNER`). */
export class DynamoPhoneOwnership implements PhoneOwnership {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async learn(phoneNumberId: string, wabaId: string, source: PhoneOwnershipSource, atMs: number): Promise<void> {
    await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.phoneOwner(phoneNumberId),
      UpdateExpression: 'SET #waba = :waba, #from = :from, #at = :at',
      // Keep the latest sighting: an equal or older one (a redelivery, a stale webhook) changes nothing.
      ConditionExpression: 'attribute_not_exists(#at) OR #at < :at',
      ExpressionAttributeNames: { '#waba': PHONE_OWNER_ATTRS.wabaId, '#from': PHONE_OWNER_ATTRS.learnedFrom, '#at': PHONE_OWNER_ATTRS.learnedAt },
      ExpressionAttributeValues: { ':waba': wabaId, ':from': source, ':at': atMs },
    }).catch((error: unknown) => {
      throw classifyWriteError(error);
    });
  }

  async ownerOf(phoneNumberIds: readonly string[]): Promise<ReadonlyMap<string, PhoneOwner>> {
    const owners = new Map<string, PhoneOwner>();
    for (const ids of chunk([...new Set(phoneNumberIds)], MAX_BATCH_GET)) {
      let pending: Record<string, unknown>[] | undefined = ids.map((id) => ({ ...keys.phoneOwner(id) }));
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round === MAX_BATCH_GET_ROUNDS) throw new Error(`phone owners: ${pending.length} keys still unprocessed`);
        const out = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const owner = phoneOwnerFromItem(item);
          if (owner) owners.set(String(item.pk).slice(PHONE_PREFIX.length), owner);
        }
        pending = out.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return owners;
  }
}
