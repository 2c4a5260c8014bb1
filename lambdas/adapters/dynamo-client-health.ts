import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ClientHealth,
  type HoldRecord,
  PROBE_VERDICTS,
  type ProbeRecord,
} from '../core/client-health.js';
import type { ClientHealthStore } from '../core/ports.js';
import { clientPk, STATUS_SK } from './dynamo-client-store.js';
import { OFFBOARDED_INDEX_PK, OFFBOARDED_INDEX_SK, OFFBOARDED_INDEX_VALUE } from './table-schema.js';

/** Attributes of the client status item that hold its health evidence (the item's other attributes: the status). */
export const HEALTH_ATTRIBUTES = {
  hold: 'hold',
  probe: 'probe',
  canSendAt: 'canSendAt',
  nextProbeAt: 'nextProbeAt',
  probeAttempt: 'probeAttempt',
  restriction: 'restriction',
  disableWarning: 'disableWarning',
  /** The phone number id of the client's latest outbound message: what the sweeper probes for a long offboarding. */
  phoneNumberId: 'lastPhoneNumberId',
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numOr = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Reads the health evidence of a status item; anything malformed reads as absent, never as an error. */
export const healthFromItem = (item: Record<string, unknown> | undefined): ClientHealth => {
  if (!item) return {};
  const h: { -readonly [K in keyof ClientHealth]: ClientHealth[K] } = {};
  const hold = item[HEALTH_ATTRIBUTES.hold];
  if (isObj(hold) && typeof hold.holdId === 'string' && numOr(hold.startedAtMs) !== undefined) {
    h.hold = {
      holdId: hold.holdId,
      startedAtMs: numOr(hold.startedAtMs) as number,
      code: str(hold.code),
      why: str(hold.why),
      phoneNumberId: str(hold.phoneNumberId),
      messageId: str(hold.messageId),
    };
  }
  const probe = item[HEALTH_ATTRIBUTES.probe];
  if (isObj(probe) && numOr(probe.atMs) !== undefined && (PROBE_VERDICTS as readonly unknown[]).includes(probe.verdict)) {
    h.probe = probe as unknown as ProbeRecord;
  }
  const canSend = numOr(item[HEALTH_ATTRIBUTES.canSendAt]);
  if (canSend !== undefined) h.canSendAtMs = canSend;
  const next = numOr(item[HEALTH_ATTRIBUTES.nextProbeAt]);
  if (next !== undefined) h.nextProbeAtMs = next;
  const attempt = numOr(item[HEALTH_ATTRIBUTES.probeAttempt]);
  if (attempt !== undefined) h.probeAttempt = attempt;
  const r = item[HEALTH_ATTRIBUTES.restriction];
  if (isObj(r) && numOr(r.eventTimeMs) !== undefined && Array.isArray(r.restrictions)) {
    h.restriction = {
      orderKey: str(r.orderKey),
      eventId: str(r.eventId),
      eventTimeMs: numOr(r.eventTimeMs) as number,
      appliedAt: str(r.appliedAt),
      restrictions: r.restrictions.filter(isObj).map((x) => ({ type: str(x.type), expiresAtMs: numOr(x.expiresAtMs) ?? null })),
    };
  }
  const w = item[HEALTH_ATTRIBUTES.disableWarning];
  if (isObj(w) && numOr(w.eventTimeMs) !== undefined) {
    h.disableWarning = {
      orderKey: str(w.orderKey),
      eventId: str(w.eventId),
      eventTimeMs: numOr(w.eventTimeMs) as number,
      appliedAt: str(w.appliedAt),
      ...(typeof w.banDate === 'string' ? { banDate: w.banDate } : {}),
    };
  }
  return h;
};

export const phoneNumberIdFromItem = (item: Record<string, unknown> | undefined): string | null => {
  const v = item?.[HEALTH_ATTRIBUTES.phoneNumberId];
  return typeof v === 'string' && v.length > 0 ? v : null;
};

/** The projection a reader needs to derive health (with the status attributes). */
export const HEALTH_PROJECTION = Object.values(HEALTH_ATTRIBUTES);

/** Each method is one conditional UpdateItem on the client's status item; a refused condition is an answer, not an error. */
export class DynamoClientHealthStore implements ClientHealthStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async #conditional(input: ConstructorParameters<typeof UpdateCommand>[0]): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  tripHold(wabaId: string, hold: HoldRecord, replacing: string | null): Promise<boolean> {
    // Also lists the client in the sparse offboarded index, so the sweeper finds held clients without a scan.
    return this.#conditional({
      TableName: this.tableName,
      Key: { pk: clientPk(wabaId), sk: STATUS_SK },
      UpdateExpression:
        'SET #hold = :hold, #attempt = :zero, wabaId = :waba, firstSeenAt = if_not_exists(firstSeenAt, :now), #idx = :idx, #idxKey = :idxKey',
      // Compare-and-swap on the hold's identity: a hold another worker started since our read is never replaced.
      ConditionExpression: replacing === null ? 'attribute_not_exists(#hold)' : 'attribute_not_exists(#hold) OR #hold.holdId = :seen',
      ExpressionAttributeNames: {
        '#hold': HEALTH_ATTRIBUTES.hold,
        '#attempt': HEALTH_ATTRIBUTES.probeAttempt,
        '#idx': OFFBOARDED_INDEX_PK,
        '#idxKey': OFFBOARDED_INDEX_SK,
      },
      ExpressionAttributeValues: {
        ':hold': hold,
        ':zero': 0,
        ':waba': wabaId,
        ':now': new Date(hold.startedAtMs).toISOString(),
        ':idx': OFFBOARDED_INDEX_VALUE,
        ':idxKey': `HOLD#${hold.holdId}`,
        ...(replacing === null ? {} : { ':seen': replacing }),
      },
    });
  }

  claimProbe(wabaId: string, nowMs: number, nextProbeAtMs: number): Promise<boolean> {
    return this.#conditional({
      TableName: this.tableName,
      Key: { pk: clientPk(wabaId), sk: STATUS_SK },
      UpdateExpression: 'SET #next = :next, #attempt = if_not_exists(#attempt, :zero) + :one',
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#next) OR #next <= :now)',
      ExpressionAttributeNames: { '#next': HEALTH_ATTRIBUTES.nextProbeAt, '#attempt': HEALTH_ATTRIBUTES.probeAttempt },
      ExpressionAttributeValues: { ':next': nextProbeAtMs, ':now': nowMs, ':zero': 0, ':one': 1 },
    });
  }

  recordProbe(wabaId: string, probe: ProbeRecord): Promise<boolean> {
    const canSend = probe.verdict === 'can-send';
    return this.#conditional({
      TableName: this.tableName,
      Key: { pk: clientPk(wabaId), sk: STATUS_SK },
      // canSendAt only moves forward: it is written only with a probe later than the one stored.
      UpdateExpression: `SET #probe = :probe${canSend ? ', #canSend = :at' : ''}`,
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#probe) OR #probe.atMs < :at)',
      ExpressionAttributeNames: { '#probe': HEALTH_ATTRIBUTES.probe, ...(canSend ? { '#canSend': HEALTH_ATTRIBUTES.canSendAt } : {}) },
      ExpressionAttributeValues: { ':probe': probe, ':at': probe.atMs },
    });
  }
}
