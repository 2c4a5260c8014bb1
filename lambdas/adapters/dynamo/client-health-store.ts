import type { DynamoDBDocumentClient, UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { HoldRecord, ProbeRecord } from '../../core/health/client-health.js';
import type { ClientHealthStore } from '../../core/health/ports.js';
import { conditionalUpdate } from './conditional.js';
import { clientCreateSet, HEALTH_ATTRIBUTES } from './status-item.js';
import { keys, OFFBOARDED_INDEX_PK, OFFBOARDED_INDEX_SK, OFFBOARDED_INDEX_VALUE } from './table.js';

/** Each method is one conditional UpdateItem on the client's status item; a refused condition is an answer, not an error. */
export class DynamoClientHealthStore implements ClientHealthStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async #conditional(input: UpdateCommandInput): Promise<boolean> {
    return (await conditionalUpdate(this.doc, input)).written;
  }

  tripHold(wabaId: string, hold: HoldRecord, replacing: string | null): Promise<boolean> {
    // Also lists the client in the sparse offboarded index, so the sweeper finds held clients without a scan.
    return this.#conditional({
      TableName: this.tableName,
      Key: keys.status(wabaId),
      UpdateExpression:
        `SET #hold = :hold, #attempt = :zero, ${clientCreateSet(':now')}, #idx = :idx, #idxKey = :idxKey`,
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
      Key: keys.status(wabaId),
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
      Key: keys.status(wabaId),
      // canSendAt only moves forward: it is written only with a probe later than the one stored.
      UpdateExpression: `SET #probe = :probe${canSend ? ', #canSend = :at' : ''}`,
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#probe) OR #probe.atMs < :at)',
      ExpressionAttributeNames: { '#probe': HEALTH_ATTRIBUTES.probe, ...(canSend ? { '#canSend': HEALTH_ATTRIBUTES.canSendAt } : {}) },
      ExpressionAttributeValues: { ':probe': probe, ':at': probe.atMs },
    });
  }
}
