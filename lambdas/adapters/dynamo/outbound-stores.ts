import { randomUUID } from 'node:crypto';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ClientHealth } from '../../core/health/client-health.js';
import { type LatestByClass, STATUS_CLASSES } from '../../core/status/client-status.js';
import { chunk, mapLimit } from '../../core/shared/concurrency.js';
import { type BatchContext, type BatchContextReader, type ClientPhoneNumber, type ClientPhoneNumbers, type CustomerKey, customerIdentity, messageIdentity, type PhoneOwner } from '../../core/outbound/ports.js';
import type { ClientStatusReader } from '../../core/status/ports.js';
import {
  CLAIMABLE_STATES,
  type ClaimResult,
  isFinal,
  isResend,
  type LedgerState,
  type LedgerView,
  type MessageKey,
  SETTLED_STATE,
  type SendLedger,
} from '../../core/outbound/send-ledger.js';
import { conditionalUpdate } from './conditional.js';
import { LEDGER_ATTRS, ledgerViewFromItem, OUTCOME_ATTRS } from './message-item.js';
import { PHONE_OWNER_ATTRS, phoneOwnerFromItem } from './phone-items.js';
import {
  classAttr,
  HEALTH_ATTRIBUTES,
  HEALTH_PROJECTION,
  healthFromItem,
  latestFromItem,
  phoneNumberIdFromItem,
  RELEASE_ATTRS,
  clientCreateSet,
  releaseGateFromItem,
  STATUS_ATTRS,
} from './status-item.js';
import { keys, PHONE_PREFIX, type TableKey, TABLE_TTL_ATTRIBUTE, ttlAfterDays } from './table.js';

const BATCH_GET_MAX = 100;
const BATCH_GET_ROUNDS = 5;

/** BatchGetItem of any keys of the table (100 per request), retrying unprocessed keys; strongly consistent by default. */
const batchGet = async (
  doc: DynamoDBDocumentClient,
  tableName: string,
  wanted: readonly TableKey[],
  projection: { readonly expression: string; readonly names: Readonly<Record<string, string>> },
  consistent = true,
): Promise<Record<string, unknown>[]> => {
  const items: Record<string, unknown>[] = [];
  for (const part of chunk(wanted, BATCH_GET_MAX)) {
    let pending: Record<string, unknown>[] | undefined = part.map((k) => ({ ...k }));
    for (let round = 0; pending && pending.length > 0; round++) {
      if (round === BATCH_GET_ROUNDS) throw new Error(`batch read left ${pending.length} keys unprocessed`);
      const out = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: { Keys: pending, ConsistentRead: consistent, ProjectionExpression: projection.expression, ExpressionAttributeNames: projection.names },
          },
        }),
      );
      items.push(...(out.Responses?.[tableName] ?? []));
      pending = out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return items;
};

/**
 * Only what the decisions need: the latest event of each class, the client's health evidence, a phone number's owner,
 * a message's ledger state.
 */
const PROJECTED = ['pk', 'sk', STATUS_ATTRS.wabaId, PHONE_OWNER_ATTRS.learnedFrom, PHONE_OWNER_ATTRS.learnedAt, LEDGER_ATTRS.state, LEDGER_ATTRS.wamid, 'repliedAtMs', ...STATUS_CLASSES.map(classAttr), ...HEALTH_PROJECTION, RELEASE_ATTRS.drainSince, RELEASE_ATTRS.beatAt];
/** Names go through placeholders: some attribute names (`hold`) are DynamoDB reserved words. */
const PROJECTION = {
  expression: PROJECTED.map((_, i) => `#p${i}`).join(', '),
  names: Object.fromEntries(PROJECTED.map((name, i) => [`#p${i}`, name])),
};

/**
 * The consumer's read per batch: the status items of its distinct clients (and what else it asks for) in one strongly
 * consistent BatchGetItem, and the owner items of its distinct phone numbers in one eventually consistent one, at once.
 */
export class DynamoStatusReader implements ClientStatusReader, BatchContextReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readLatest(wabaIds: readonly string[]): Promise<ReadonlyMap<string, LatestByClass>> {
    return (await this.readBatch(wabaIds, [])).latest;
  }

  async readBatch(
    wabaIds: readonly string[],
    phoneNumberIds: readonly string[],
    messages: readonly MessageKey[] = [],
    customers: readonly CustomerKey[] = [],
  ): Promise<BatchContext> {
    const byCustomer = new Map(customers.map((c) => [customerIdentity(c), c]));
    const customerKeys = new Map([...byCustomer].map(([id, c]) => [JSON.stringify(keys.humanReply(c.wabaId, c.phoneNumberId, c.customer)), id]));
    const humanReplies = new Map<string, number>();
    const unique = new Map(messages.map((m) => [messageIdentity(m), m]));
    const messagePks = new Map([...unique].map(([id, m]) => [keys.ledger(m.wabaId, m.messageId).pk, id]));
    const wanted = [
      ...wabaIds.map(keys.status),
      ...[...unique.values()].map((m) => keys.ledger(m.wabaId, m.messageId)),
      ...[...byCustomer.values()].map((c) => keys.humanReply(c.wabaId, c.phoneNumberId, c.customer)),
    ];
    // A number's owner changes only when the number moves to another WABA, an event of minutes that the relay learns
    // from webhooks after the fact: an eventually consistent read (half the read units) loses nothing that a strongly
    // consistent one would catch. Everything else is read strongly consistent, in parallel with it.
    const [strong, owners] = await Promise.all([
      wanted.length > 0 ? batchGet(this.doc, this.tableName, wanted, PROJECTION) : [],
      phoneNumberIds.length > 0 ? batchGet(this.doc, this.tableName, phoneNumberIds.map(keys.phoneOwner), PROJECTION, false) : [],
    ]);
    const ledger = new Map<string, LedgerView>();
    const latest = new Map<string, LatestByClass>();
    const health = new Map<string, ClientHealth>();
    const phoneOwners = new Map<string, PhoneOwner>();
    const releases = new Map<string, { drainSince: number | null; beatAt: number | null }>();
    const phoneNumbers = new Map<string, string>();
    for (const item of [...strong, ...owners]) {
      const pk = String(item.pk);
      const message = messagePks.get(pk);
      const customer = customerKeys.get(JSON.stringify({ pk, sk: item.sk }));
      if (customer !== undefined) {
        if (typeof item.repliedAtMs === 'number') humanReplies.set(customer, item.repliedAtMs);
      } else if (message !== undefined) {
        const view = ledgerViewFromItem(item);
        if (view) ledger.set(message, view);
      } else if (pk.startsWith(PHONE_PREFIX)) {
        const owner = phoneOwnerFromItem(item);
        if (owner) phoneOwners.set(pk.slice(PHONE_PREFIX.length), owner);
      } else {
        const wabaId = String(item[STATUS_ATTRS.wabaId]);
        latest.set(wabaId, latestFromItem(item));
        health.set(wabaId, healthFromItem(item));
        const gate = releaseGateFromItem(item);
        releases.set(wabaId, { drainSince: gate.drainSince, beatAt: gate.beatAt });
        const phoneNumberId = phoneNumberIdFromItem(item);
        if (phoneNumberId) phoneNumbers.set(wabaId, phoneNumberId);
      }
    }
    return { latest, health, phoneOwners, releases, ledger, humanReplies, phoneNumbers };
  }
}

/**
 * A claim may take the entry: none yet (or only an outcome written before any claim), a claimable state, SENDING whose
 * lease expired (its worker died).
 */
const CLAIM_CONDITION = `attribute_not_exists(#state) OR #state IN (${CLAIMABLE_STATES.map((s) => `:${s}`).join(', ')}) OR (#state = :SENDING AND ${LEDGER_ATTRS.leaseUntil} < :now)`;
/** Only the claim's own holder may settle it: a worker whose lease was taken over changes nothing. */
const HOLDER_CONDITION = '#token = :token';

/**
 * The send ledger (`lambdas/core/send-ledger.ts`) in DynamoDB, one item per `(wabaId, messageId)`, with a lease on
 * SENDING. A refused claim learns why from the item it returns (no second read).
 */
export class DynamoSendLedger implements SendLedger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long a claim blocks others; longer than the Cloud API timeout. */
    private readonly leaseMs: number,
    private readonly retentionDays: number,
  ) {}

  async claim({ wabaId, messageId }: MessageKey, nowMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.ledger(wabaId, messageId),
      UpdateExpression: `SET #state = :SENDING, #token = :token, ${LEDGER_ATTRS.leaseUntil} = :lease, ${LEDGER_ATTRS.wabaId} = :waba, #ttl = :ttl ADD ${LEDGER_ATTRS.claims} :one`,
      ConditionExpression: CLAIM_CONDITION,
      ExpressionAttributeNames: { '#state': LEDGER_ATTRS.state, '#token': LEDGER_ATTRS.token, '#ttl': TABLE_TTL_ATTRIBUTE },
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
    });
    if (w.written) return { outcome: 'claimed', token, resend: isResend(w.attributes?.state as LedgerState | undefined) };
    const current = ledgerViewFromItem(w.old);
    if (current && isFinal(current.state)) return { outcome: 'final', state: current.state, wamid: current.wamid };
    return { outcome: 'in-flight' };
  }

  async reopen({ wabaId, messageId }: MessageKey, deadLetteredAt: string): Promise<boolean> {
    const w = await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.ledger(wabaId, messageId),
      // The redrive reopens the outcome too: the dead letter it undoes is no longer what became of the message.
      UpdateExpression: `SET #state = :released, ${LEDGER_ATTRS.redrivenAt} = :at REMOVE #token, ${LEDGER_ATTRS.leaseUntil}, #dle, #dlk`,
      ConditionExpression: `#state = :dead AND ${LEDGER_ATTRS.deadLetteredAt} = :at`,
      ExpressionAttributeNames: {
        '#state': LEDGER_ATTRS.state,
        '#token': LEDGER_ATTRS.token,
        '#dle': OUTCOME_ATTRS.entry('dead-lettered'),
        '#dlk': OUTCOME_ATTRS.key('dead-lettered'),
      },
      ExpressionAttributeValues: { ':released': SETTLED_STATE.release, ':dead': SETTLED_STATE.markDeadLettered, ':at': deadLetteredAt },
    });
    return w.written;
  }

  async markSent(key: MessageKey, token: string, wamid: string, nowMs: number): Promise<void> {
    await this.#transition(key, token, SETTLED_STATE.markSent, { [LEDGER_ATTRS.wamid]: wamid, [LEDGER_ATTRS.sentAt]: new Date(nowMs).toISOString() });
  }

  async markDeadLettered(key: MessageKey, token: string, dead: { readonly reason: string; readonly deadLetteredAt: string }): Promise<void> {
    await this.#transition(key, token, SETTLED_STATE.markDeadLettered, { [LEDGER_ATTRS.deadLetterReason]: dead.reason, [LEDGER_ATTRS.deadLetteredAt]: dead.deadLetteredAt });
  }

  async markReplaced(key: MessageKey, token: string, fallbackMessageId: string): Promise<void> {
    await this.#transition(key, token, SETTLED_STATE.markReplaced, { [LEDGER_ATTRS.fallbackMessageId]: fallbackMessageId });
  }

  async release(key: MessageKey, token: string): Promise<void> {
    await this.#transition(key, token, SETTLED_STATE.release);
  }

  async markAmbiguous(key: MessageKey, token: string): Promise<void> {
    await this.#transition(key, token, SETTLED_STATE.markAmbiguous);
  }

  async #transition(key: MessageKey, token: string, state: LedgerState, extra: Record<string, string> = {}): Promise<void> {
    const names: Record<string, string> = { '#state': LEDGER_ATTRS.state, '#token': LEDGER_ATTRS.token };
    const values: Record<string, unknown> = { ':state': state, ':token': token };
    let set = '#state = :state';
    for (const [k, v] of Object.entries(extra)) {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      set += `, #${k} = :${k}`;
    }
    // Refused: the lease was taken over (this worker was too slow) and the newer holder owns the item now.
    await conditionalUpdate(this.doc, {
      TableName: this.tableName,
      Key: keys.ledger(key.wabaId, key.messageId),
      UpdateExpression: `SET ${set} REMOVE ${LEDGER_ATTRS.leaseUntil}`,
      ConditionExpression: HOLDER_CONDITION,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }
}

/**
 * The phone number of each client's latest outbound message, on its status item (what a stale-offboarding probe reads);
 * the consumer calls it only for clients whose number changed, so a steady client costs no write here.
 */
export class DynamoClientPhoneNumbers implements ClientPhoneNumbers {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(latest: readonly ClientPhoneNumber[], nowMs: number): Promise<void> {
    const nowIso = new Date(nowMs).toISOString();
    await mapLimit(latest, 10, (c) =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.status(c.wabaId),
          UpdateExpression: `SET ${clientCreateSet(':now')}, ${HEALTH_ATTRIBUTES.phoneNumberId} = :pn`,
          ExpressionAttributeValues: { ':waba': c.wabaId, ':now': nowIso, ':pn': c.phoneNumberId },
        }),
      ),
    );
  }
}
