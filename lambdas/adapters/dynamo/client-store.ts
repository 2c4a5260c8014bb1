import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type LatestByClass, orderKeyOf, STATUS_CLASSES, type StatusClass, type StatusEventRecord } from '../../core/status/client-status.js';
import { UnstorableError } from '../../core/shared/errors.js';
import type { OffboardedIndex, OffboardedListing } from '../../core/health/offboarded-sweep.js';
import type { DisableWarningRecord, RestrictionRecord } from '../../core/health/client-health.js';
import type { ApplyStatusEventResult, ClientRecord, ClientStore, TimelineEntry } from '../../core/status/ports.js';
import { classAttr, clientFromItem, HEALTH_ATTRIBUTES, healthFromItem, latestFromItem, phoneNumberIdFromItem, RELEASE_ATTRS, clientCreateSet, STATUS_ATTRS } from './status-item.js';
import { keys, OFFBOARDED_INDEX, OFFBOARDED_INDEX_PK, OFFBOARDED_INDEX_SK, OFFBOARDED_INDEX_VALUE, TIMELINE_PREFIX } from './table.js';
import { timelineFromItem, timelineItemUpdate } from './timeline-item.js';
import { conditionalUpdate } from './conditional.js';
import { DynamoParkedStore } from './release-stores.js';

/**
 * Numbers are read as plain numbers whatever their size: the relay only writes safe integers, and a number written by
 * other means (by hand, 1e100) must not make a read throw.
 */
export const documentClient = (client: DynamoDBClient): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
    unmarshallOptions: { wrapNumbers: (n: string) => Number(n) },
  });

/**
 * Errors a retry cannot fix (the request itself is refused: an item or key over DynamoDB's size limits, a value it
 * cannot hold, one too deep to marshal) become {@link UnstorableError}; everything else is rethrown as it is.
 */
export const classifyWriteError = (error: unknown): unknown => {
  if (error instanceof UnstorableError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'ValidationException' || error instanceof RangeError) {
    return new UnstorableError(`${name}: ${(error as Error).message}`.slice(0, 300));
  }
  return error;
};

export class DynamoClientStore implements ClientStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async applyStatusEvent(
    wabaId: string,
    cls: StatusClass,
    record: StatusEventRecord,
    options: { readonly drainSince?: number } = {},
  ): Promise<ApplyStatusEventResult> {
    // An offboarding also lists the client in the sparse offboarded index, in the same atomic write; a connecting
    // event sets the release's drain flag in it.
    const offboarding = cls === 'OFFBOARDED';
    const drain = options.drainSince !== undefined;
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.status(wabaId),
      UpdateExpression: `SET #cls = :rec, ${clientCreateSet(':now')}, ${STATUS_ATTRS.updatedAt} = :now${
        offboarding ? `, ${OFFBOARDED_INDEX_PK} = :idx, ${OFFBOARDED_INDEX_SK} = :key` : ''
      }${drain ? `, ${RELEASE_ATTRS.drainSince} = if_not_exists(${RELEASE_ATTRS.drainSince}, :drain)` : ''}`,
      // The whole ordering guarantee: only a strictly later event of the same class replaces the stored one.
      ConditionExpression: 'attribute_not_exists(#cls) OR #cls.orderKey < :key',
      ExpressionAttributeNames: { '#cls': classAttr(cls) },
      ExpressionAttributeValues: {
        ':rec': record,
        ':waba': wabaId,
        ':now': record.appliedAt,
        ':key': record.orderKey,
        ...(offboarding ? { ':idx': OFFBOARDED_INDEX_VALUE } : {}),
        ...(drain ? { ':drain': options.drainSince } : {}),
      },
      ReturnValues: 'ALL_OLD',
    }).catch((error: unknown) => {
      throw classifyWriteError(error);
    });
    if (w.written) return { before: latestFromItem(w.attributes), written: true, beforeHealth: healthFromItem(w.attributes) };
    // Refused: an equal or later event of this class is stored; the item that refused it says what is there.
    return { before: latestFromItem(w.old ?? undefined), written: false };
  }

  async touchClient(wabaId: string, nowIso: string): Promise<LatestByClass> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.status(wabaId),
          UpdateExpression: `SET ${clientCreateSet(':now')}`,
          ExpressionAttributeValues: { ':waba': wabaId, ':now': nowIso },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return latestFromItem(out.Attributes);
    } catch (error) {
      throw classifyWriteError(error);
    }
  }

  async resetStatus(wabaId: string, nowIso: string): Promise<LatestByClass | null> {
    const names: Record<string, string> = { '#idx': OFFBOARDED_INDEX_PK, '#idxKey': OFFBOARDED_INDEX_SK };
    STATUS_CLASSES.forEach((cls, i) => {
      names[`#c${i}`] = classAttr(cls);
    });
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.status(wabaId),
      // Every class record and the offboarded listing go in one write; only an existing client is reset.
      UpdateExpression: `SET ${STATUS_ATTRS.updatedAt} = :now, ${STATUS_ATTRS.lastResetAt} = :now REMOVE ${STATUS_CLASSES.map((_, i) => `#c${i}`).join(', ')}, #idx, #idxKey`,
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':now': nowIso },
      ReturnValues: 'ALL_OLD',
    });
    return w.written ? latestFromItem(w.attributes) : null; // refused: never seen, nothing to reset
  }

  async putTimelineEntry(entry: TimelineEntry): Promise<TimelineEntry> {
    const orderKey = orderKeyOf(entry.eventTimeMs, entry.eventId);
    const key = keys.timeline(entry.wabaId, orderKey);
    // Written only when new: an UpdateItem setting every attribute is the put, and a refusal returns the entry stored.
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: key,
      ...timelineItemUpdate(entry),
      ConditionExpression: 'attribute_not_exists(pk)',
    }).catch((error: unknown) => {
      throw classifyWriteError(error);
    });
    // Already recorded (a redelivery): keep the first account and return it.
    return w.written || !w.old ? entry : timelineFromItem(w.old);
  }

  async getClient(wabaId: string): Promise<ClientRecord | null> {
    const [status, counters] = await Promise.all(
      [keys.status(wabaId), keys.counters(wabaId)].map((Key) => this.doc.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }))),
    );
    return status?.Item ? clientFromItem(status.Item, counters?.Item) : null;
  }

  async listTimeline(wabaId: string, limit: number): Promise<readonly TimelineEntry[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': keys.clientPk(wabaId), ':prefix': TIMELINE_PREFIX },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map(timelineFromItem);
  }

  async parkedNow(wabaId: string): Promise<{ count: number; oldestParkedAt: string | null }> {
    return new DynamoParkedStore(this.doc, this.tableName).summary(wabaId);
  }

  applyRestriction(wabaId: string, restriction: RestrictionRecord): Promise<boolean> {
    return this.#keepLatest(wabaId, HEALTH_ATTRIBUTES.restriction, restriction, restriction.orderKey, restriction.appliedAt);
  }

  applyDisableWarning(wabaId: string, warning: DisableWarningRecord): Promise<boolean> {
    return this.#keepLatest(wabaId, HEALTH_ATTRIBUTES.disableWarning, warning, warning.orderKey, warning.appliedAt);
  }

  /** "Keep the latest" by order key, like the status classes: commutative, so arrival order does not matter. */
  async #keepLatest(wabaId: string, attribute: string, value: unknown, orderKey: string, appliedAt: string): Promise<boolean> {
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.status(wabaId),
      UpdateExpression: `SET #a = :v, ${clientCreateSet(':now')}`,
      ConditionExpression: 'attribute_not_exists(#a) OR #a.orderKey < :key',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':v': value, ':waba': wabaId, ':now': appliedAt, ':key': orderKey },
    });
    return w.written;
  }
}

/** The sparse offboarded index: queried page by page, never scanned. */
export class DynamoOffboardedIndex implements OffboardedIndex {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<readonly OffboardedListing[]> {
    const listings: OffboardedListing[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: OFFBOARDED_INDEX,
          KeyConditionExpression: '#pk = :idx',
          ExpressionAttributeNames: { '#pk': OFFBOARDED_INDEX_PK },
          ExpressionAttributeValues: { ':idx': OFFBOARDED_INDEX_VALUE },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        listings.push({
          wabaId: String(item[STATUS_ATTRS.wabaId]),
          latest: latestFromItem(item),
          listingKey: String(item[OFFBOARDED_INDEX_SK]),
          health: healthFromItem(item),
          phoneNumberId: phoneNumberIdFromItem(item),
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return listings;
  }

  async unlist(wabaId: string, listingKey: string): Promise<void> {
    // Refused: offboarded again meanwhile, the client stays listed.
    await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.status(wabaId),
      UpdateExpression: 'REMOVE #pk, #sk',
      ConditionExpression: '#sk = :key',
      ExpressionAttributeNames: { '#pk': OFFBOARDED_INDEX_PK, '#sk': OFFBOARDED_INDEX_SK },
      ExpressionAttributeValues: { ':key': listingKey },
    });
  }
}

