import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoSendLedger } from '../../lambdas/adapters/dynamo/outbound-stores.js';
import { keys } from '../../lambdas/adapters/dynamo/table.js';
import type { LatestByClass } from '../../lambdas/core/status/client-status.js';
import { orderKeyOf } from '../../lambdas/core/status/client-status.js';
import type { CloudApiResult } from '../../lambdas/core/outbound/cloud-api-result.js';
import { type DeadLetterBody, OutboundService, type OutboundRecord } from '../../lambdas/core/outbound/outbound-service.js';
import { isQueueArnOf } from '../../lambdas/adapters/sqs.js';
import { createConsumerHandler } from '../../lambdas/consumer/handler.js';
import { MemoryParkedStore, RecordingReleases } from '../support/release.js';
import { NoTokenError } from '../../lambdas/core/shared/errors.js';
import { type ClientPhoneNumber, messageIdentity, type PhoneOwner, type QueueMessage } from '../../lambdas/core/outbound/ports.js';
import type { ClaimResult, LedgerState, MessageKey, SendLedger } from '../../lambdas/core/outbound/send-ledger.js';
import type { RelayEvent } from '../../lambdas/core/outcomes/relay-events.js';
import { localResources } from '../support/aws.js';
import { RecordingTelemetry } from '../support/telemetry.js';

/**
 * The consumer's orchestration against the real send ledger on DynamoDB Local; the queues, counters, parked copies and
 * the Cloud API are recording fakes so each test can inject a failure exactly where it needs one (the same paths run
 * end to end through fauxqs and the stand-in in outbound.test.ts).
 */
const NOW = Date.parse('2026-11-25T12:00:00Z');

/**
 * The real DynamoDB ledger on DynamoDB Local, with faults injected where a test asks for them: the ledger's states and
 * conditions are the ones production runs, only the failures are made up.
 */
class FaultyLedger implements SendLedger {
  failMarkSent = 0;
  failClaim = false;
  readonly #real: DynamoSendLedger;
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.#real = new DynamoSendLedger(doc, tableName, 60_000, 15);
  }
  async claim(k: MessageKey, nowMs: number): Promise<ClaimResult> {
    if (this.failClaim) throw new Error('DynamoDB down');
    return this.#real.claim(k, nowMs);
  }
  reopen(k: MessageKey, deadLetteredAt: string) {
    return this.#real.reopen(k, deadLetteredAt);
  }
  async markSent(k: MessageKey, token: string, wamid: string, nowMs: number) {
    if (this.failMarkSent-- > 0) throw new Error('write failed');
    return this.#real.markSent(k, token, wamid, nowMs);
  }
  release(k: MessageKey, token: string) {
    return this.#real.release(k, token);
  }
  markAmbiguous(k: MessageKey, token: string) {
    return this.#real.markAmbiguous(k, token);
  }
  markDeadLettered(k: MessageKey, token: string, dead: { reason: string; deadLetteredAt: string }) {
    return this.#real.markDeadLettered(k, token, dead);
  }
  markReplaced(k: MessageKey, token: string, fallbackMessageId: string) {
    return this.#real.markReplaced(k, token, fallbackMessageId);
  }
  /** The stored state of one message (`wabaId:messageId`), read back from DynamoDB. */
  async state(key: string): Promise<string | undefined> {
    const [wabaId = '', messageId = ''] = key.split(':');
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.ledger(wabaId, messageId), ConsistentRead: true }));
    return out.Item?.state as string | undefined;
  }
  /** How many messages have a ledger entry at all. */
  async entries(): Promise<number> {
    const out = await this.doc.send(
      new ScanCommand({ TableName: this.tableName, FilterExpression: 'sk = :send', ExpressionAttributeValues: { ':send': keys.ledger('', '').sk }, ConsistentRead: true }),
    );
    return out.Count ?? 0;
  }
}

const setup = async (
  opts: {
    latest?: Record<string, LatestByClass>;
    owners?: Record<string, PhoneOwner>;
    api?: (phone: string) => CloudApiResult;
    failQueue?: 'park' | 'dead-letter';
    failPhoneNumbers?: boolean;
    /** The client phone numbers the batch read finds. */
    phoneNumbers?: Record<string, string>;
    failTokens?: boolean | 'no-token';
    failLearn?: boolean;
    failCopies?: boolean;
    drainSince?: number | null;
    beatAt?: number | null;
    /** The batch read fails when it is asked for ledger entries. */
    failLedgerRead?: boolean;
  } = {},
) => {
  const { doc, tableName } = await localResources([]);
  const ledger = new FaultyLedger(doc, tableName);
  const parked: QueueMessage[] = [];
  const dead: QueueMessage[] = [];
  const phoneNumbers: ClientPhoneNumber[][] = [];
  const calls: string[] = [];
  const learnt: [string, string, string][] = [];
  const telemetry = new RecordingTelemetry();
  const copies = new MemoryParkedStore();
  copies.failPut = opts.failCopies ?? false;
  const releases = new RecordingReleases();
  /** The message ids each batch read asked the ledger for. */
  const ledgerReads: string[][] = [];
  /** The relay events the batches published. */
  const events: RelayEvent[] = [];
  const service = new OutboundService({
    events: { publish: async (list) => void events.push(...list) },
    statuses: {
      readBatch: async (ids, phones, messages = []) => ({
        latest: new Map(ids.map((i) => [i, opts.latest?.[i] ?? {}])),
        health: new Map(),
        phoneOwners: new Map(phones.flatMap((p) => (opts.owners?.[p] ? [[p, opts.owners[p]] as const] : []))),
        releases: new Map(ids.map((i) => [i, { drainSince: opts.drainSince ?? null, beatAt: opts.beatAt ?? null }])),
        ledger: await (async () => {
          ledgerReads.push(messages.map((m) => m.messageId));
          if (opts.failLedgerRead && messages.length > 0) throw new Error('DynamoDB read failed');
          const found = await Promise.all(messages.map(async (m) => [messageIdentity(m), await ledger.state(`${m.wabaId}:${m.messageId}`)] as const));
          return new Map(found.flatMap(([id, state]) => (state ? [[id, { state: state as LedgerState, wamid: null }] as const] : [])));
        })(),
        humanReplies: new Map(),
        phoneNumbers: new Map(Object.entries(opts.phoneNumbers ?? {})),
      }),
    },
    parked: copies,
    releases,
    phones: {
      learn: async (phone, waba, source) => {
        if (opts.failLearn) throw new Error('owner write failed');
        learnt.push([phone, waba, source]);
      },
    },
    ledger,
    phoneNumbers: {
      record: async (a) => {
        if (opts.failPhoneNumbers) throw new Error('status item write failed');
        phoneNumbers.push([...a]);
      },
    },
    queues: {
      park: async (m) => {
        if (opts.failQueue === 'park') return new Set(m.map((x) => x.id));
        parked.push(...m);
        return new Set<string>();
      },
      deadLetter: async (m) => {
        if (opts.failQueue === 'dead-letter') return new Set(m.map((x) => x.id));
        dead.push(...m);
        return new Set<string>();
      },
    },
    cloudApi: {
      send: async (phone) => {
        calls.push(phone);
        return opts.api?.(phone) ?? { kind: 'accepted', wamid: `wamid.${calls.length}` };
      },
    },
    tokens: {
      tokenFor: async (wabaId) => {
        if (opts.failTokens === 'no-token') throw new NoTokenError(`no Cloud API token for WABA ${wabaId}`);
        if (opts.failTokens) throw new Error('secret unreadable');
        return 'tok';
      },
    },
    telemetry,
    parkDelaySchedule: [10, 60],
    maxParkSeconds: 3600,
    maxSendAttempts: 3,
    reconnectSkewMs: 300_000,
    now: () => NOW,
    random: () => 0.5,
  });
  return { service, ledger, parked, dead, phoneNumbers, calls, learnt, telemetry, copies, releases, ledgerReads, events };
};

/** A record; one with park attributes comes from the delay queue unless `fromDelayQueue` says otherwise. */
const record = (
  id: string,
  extra: Record<string, unknown> = {},
  attributes: Record<string, string> = {},
  fromDelayQueue = Object.keys(attributes).length > 0,
): OutboundRecord => ({
  id,
  body: JSON.stringify({ messageId: `m-${id}`, wabaId: 'w', phoneNumberId: `pn-${id}`, payload: { messaging_product: 'whatsapp', to: '1' }, ...extra }),
  attributes,
  fromDelayQueue,
});
const offboarded: LatestByClass = {
  OFFBOARDED: { orderKey: orderKeyOf(NOW - 1000, 'e'), event: 'ACCOUNT_OFFBOARDED', eventId: 'e', eventTimeMs: NOW - 1000, appliedAt: '' },
};

describe('OutboundService', () => {
  it('acknowledges a sent message even when recording the send keeps failing, rather than risk a second send', async () => {
    const { service, ledger, calls, telemetry } = await setup();
    ledger.failMarkSent = 5;
    const out = await service.processBatch([record('a')]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(telemetry.get('SendRecordFailures')).toBe(1);
  });

  it('recovers when recording the send fails once', async () => {
    const { service, ledger } = await setup();
    ledger.failMarkSent = 1;
    await service.processBatch([record('a')]);
    expect(await ledger.state('w:m-a')).toBe('SENT');
  });

  it('returns a record when its token or claim cannot be read, and sends nothing', async () => {
    for (const opts of [{ failTokens: true }, {}]) {
      const s = await setup(opts);
      if (!('failTokens' in opts)) s.ledger.failClaim = true;
      const out = await s.service.processBatch([record('a')]);
      expect(out.failedIds).toEqual(['a']);
      expect(s.calls).toEqual([]);
    }
  });

  it('reads no ledger entry for a fresh message the gate sends: a copy of a sent message is refused by its claim, never sent again', async () => {
    const { service, ledger, calls, ledgerReads } = await setup();
    await service.processBatch([record('a')]);
    expect(await ledger.state('w:m-a')).toBe('SENT');
    // The same message enqueued again (a duplicate upstream): acknowledged without a call.
    const out = await service.processBatch([{ ...record('a'), id: 'a-again' }, record('b')]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a', 'pn-b']);
    expect(ledgerReads).toEqual([[], []]);
  });

  it('looks a fresh message up before parking or dead-lettering it: a final message is acknowledged, not parked again', async () => {
    const latest: Record<string, LatestByClass> = {};
    const { service, ledger, calls, parked, dead, copies, ledgerReads } = await setup({ latest });
    await service.processBatch([record('a')]);
    expect(await ledger.state('w:m-a')).toBe('SENT');
    // The client is offboarded now; the sent message is enqueued again beside a new one.
    latest.w = offboarded;
    const out = await service.processBatch([{ ...record('a'), id: 'a-again' }, record('b')]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(parked.map((m) => m.id)).toEqual(['b']);
    expect([...copies.copies.values()].map((c) => c.messageId)).toEqual(['m-b']);
    expect(dead).toHaveLength(0);
    // One read for the batch without ledger keys, then one for the two the gate would not send.
    expect(ledgerReads).toEqual([[], [], ['m-a', 'm-b']]);
  });

  it('returns the whole batch, having sent, parked and claimed nothing, when the lookup of the messages the gate would park fails', async () => {
    const latest: Record<string, LatestByClass> = { w: offboarded };
    const { service, calls, parked, dead, copies, ledger } = await setup({ latest, failLedgerRead: true });
    const out = await service.processBatch([record('a'), record('b', { wabaId: 'other' })]);
    expect(out.failedIds.sort()).toEqual(['a', 'b']);
    expect(calls).toEqual([]);
    expect(parked).toHaveLength(0);
    expect(dead).toHaveLength(0);
    expect(copies.copies.size).toBe(0);
    expect(await ledger.entries()).toBe(0);
  });

  it('returns a record another worker is sending, and does not send it', async () => {
    const { service, ledger, calls } = await setup();
    // Another worker holds a live claim on the same message.
    expect(await ledger.claim({ wabaId: 'w', messageId: 'm-a' }, Date.now())).toMatchObject({ outcome: 'claimed' });
    expect((await service.processBatch([record('a')])).failedIds).toEqual(['a']);
    expect(calls).toEqual([]);
  });

  it('settles an in-batch duplicate by its twin: one send, both acknowledged', async () => {
    const { service, calls, telemetry } = await setup();
    const out = await service.processBatch([record('a'), { ...record('a'), id: 'a2' }]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(telemetry.get('DuplicateSuppressed')).toBe(1);
  });

  it('retries an in-batch duplicate when its twin was not sent', async () => {
    const { service, calls } = await setup({ api: () => ({ kind: 'http-error', status: 500, error: null }) });
    const out = await service.processBatch([record('a'), { ...record('a'), id: 'a2' }]);
    expect(out.failedIds).toEqual(['a2']);
    expect(calls).toHaveLength(1);
  });

  it('keeps every neighbour when one record is broken', async () => {
    const { service, dead, calls } = await setup();
    const out = await service.processBatch([record('a'), { id: 'bad', body: '{"messageId": 7}', attributes: {}, fromDelayQueue: false }, record('b')]);
    expect(out.failedIds).toEqual([]);
    expect(calls.sort()).toEqual(['pn-a', 'pn-b']);
    const body = JSON.parse(dead[0]?.body ?? '{}') as DeadLetterBody;
    expect(body).toMatchObject({ reason: 'invalid-envelope', envelope: '{"messageId": 7}' });
    expect(body.detail).toContain('messageId');
  });

  it('returns parked and dead-lettered records whose queue send failed', async () => {
    const park = await setup({ latest: { w: offboarded }, failQueue: 'park' });
    expect((await park.service.processBatch([record('a')])).failedIds).toEqual(['a']);
    const dl = await setup({ failQueue: 'dead-letter' });
    expect((await dl.service.processBatch([{ id: 'x', body: 'nope', attributes: {}, fromDelayQueue: false }])).failedIds).toEqual(['x']);
  });

  it('does not fail records when the client phone number cannot be written', async () => {
    const { service, calls, telemetry } = await setup({ failPhoneNumbers: true });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(telemetry.logs.filter((l) => l.level === 'warn').map((l) => l.message)).toContain('client phone numbers not recorded');
  });

  it("writes a client's phone number only when it differs from the one the batch read found (no counter writes)", async () => {
    const known = await setup({ phoneNumbers: { w: 'pn-a' } });
    await known.service.processBatch([record('a'), record('b')]);
    expect(known.calls).toEqual(['pn-a', 'pn-b']);
    // The batch's latest message of the client went from pn-b: one write, for the change.
    expect(known.phoneNumbers).toEqual([[{ wabaId: 'w', phoneNumberId: 'pn-b' }]]);
    const same = await setup({ phoneNumbers: { w: 'pn-a' } });
    await same.service.processBatch([record('a')]);
    expect(same.phoneNumbers).toEqual([]);
  });

  it('marks a timed-out send ambiguous so the next attempt is counted as a resend', async () => {
    let answer: CloudApiResult = { kind: 'no-answer', ambiguous: true, message: 'timeout' };
    const { service, ledger, parked } = await setup({ api: () => answer });
    await service.processBatch([record('a')]);
    expect(await ledger.state('w:m-a')).toBe('AMBIGUOUS');
    expect(parked[0]?.attributes).toMatchObject({ 'relay-send-attempts': '1' });
    answer = { kind: 'accepted', wamid: 'wamid.x' };
    await service.processBatch([{ ...record('a'), attributes: parked[0]?.attributes ?? {}, fromDelayQueue: true }]);
    // Counted by the tally function from the ledger's AMBIGUOUS -> SENDING change (test/unit/tally.test.ts).
    expect(await ledger.state('w:m-a')).toBe('SENT');
  });

  it('dead-letters a message that waited past MAX_PARK_SECONDS when the Cloud API still says not connected', async () => {
    const { service, dead } = await setup({ api: () => ({ kind: 'http-error', status: 400, error: { code: 133010 } }) });
    const old = { 'relay-park-count': '9', 'relay-first-parked-at': new Date(NOW - 3_601_000).toISOString() };
    await service.processBatch([record('a', {}, old)]);
    expect(JSON.parse(dead[0]?.body ?? '{}')).toMatchObject({ reason: 'expired', parkCount: 9 });
  });

  it('keeps a parked copy, keyed by the first-enqueued time, and deletes it when the message leaves', async () => {
    const { service, copies, telemetry, parked } = await setup({ latest: { w: offboarded } });
    const enqueuedAt = NOW - 5_000;
    await service.processBatch([{ ...record('a'), sentTimestampMs: enqueuedAt }]);
    const [copy] = copies.copies.values();
    expect(copy).toMatchObject({ messageId: 'm-a', firstEnqueuedMs: enqueuedAt, recipient: '1', phoneNumberId: 'pn-a', parkCount: 1 });
    expect(copy?.body).toBe(record('a').body);
    // The delay queue carries the first-enqueued time, so the copy is found again whichever queue the message is on.
    expect(parked[0]?.attributes).toMatchObject({ 'relay-first-enqueued-at': String(enqueuedAt) });
    const back = await setup();
    back.copies.copies.set(`w|${copy?.orderKey}`, copy as never);
    const first = new Date(NOW - 120_000).toISOString();
    await back.service.processBatch([{ ...record('a', {}, { ...parked[0]?.attributes, 'relay-first-parked-at': first }), sentTimestampMs: NOW }]);
    expect(back.copies.copies.size).toBe(0);
    expect(back.telemetry.durations).toContainEqual({ metric: 'ResumedAfterParkSeconds', value: 120 });
    expect(telemetry.get('ParkedCopyWriteFailures')).toBe(0);
  });

  it('still parks on the delay queue when the parked copy cannot be written (nothing lost)', async () => {
    const { service, copies, parked, telemetry } = await setup({ latest: { w: offboarded }, failCopies: true });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(copies.copies.size).toBe(0);
    expect(parked).toHaveLength(1);
    expect(telemetry.get('ParkedCopyWriteFailures')).toBe(1);
  });

  it('parks a message for a connected client behind a draining release, and asks again when that release is over', async () => {
    const { service, parked, calls, releases, copies } = await setup({ drainSince: NOW - 1_000 });
    await service.processBatch([record('a')]);
    expect(calls).toEqual([]);
    expect(parked).toHaveLength(1);
    expect(copies.copies.size).toBe(1);
    // The fake reader still shows the drain: nothing asked. Overdue (no sign of life for a minute): asked.
    expect(releases.requests).toEqual([]);
    const stalled = await setup({ drainSince: NOW - 120_000, beatAt: NOW - 90_000 });
    await stalled.service.processBatch([record('b')]);
    expect(stalled.releases.requests).toEqual([{ wabaId: 'w', trigger: 'status-connected' }]);
  });

  it('never counts 130429 or 131056 toward MAX_SEND_ATTEMPTS', async () => {
    const { service, parked, dead } = await setup({ api: () => ({ kind: 'http-error', status: 400, error: { code: 131056 } }) });
    await service.processBatch([record('a', {}, { 'relay-send-attempts': '2' })]);
    expect(dead).toEqual([]);
    expect(parked[0]?.attributes).toMatchObject({ 'relay-send-attempts': '2' });
    expect(parked[0]?.delaySeconds).toBe(6);
  });
});

describe('consumer handler', () => {
  it('reports every record when the service throws, so nothing is dropped', async () => {
    const telemetry = new RecordingTelemetry();
    const handler = createConsumerHandler(
      async () => {
        throw new Error('boom');
      },
      telemetry,
      () => false,
    );
    const r = await handler({ Records: [{ messageId: '1', body: '{}', messageAttributes: {} }, { messageId: '2', body: '{}', messageAttributes: {} }] as never });
    expect(r.batchItemFailures).toEqual([{ itemIdentifier: '1' }, { itemIdentifier: '2' }]);
    expect(telemetry.logs.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('OutboundService isolation', () => {
  it('returns only the record whose send step threw, and completes its neighbours', async () => {
    // A Cloud API adapter that throws for one phone number (adapters should not, but one bad record must not spread).
    const s = await setup({
      api: (phone) => {
        if (phone === 'pn-b') throw new Error('adapter bug');
        return { kind: 'accepted', wamid: `wamid.${phone}` };
      },
    });
    const out = await s.service.processBatch([record('a'), record('b'), record('c')]);
    expect(out.failedIds).toEqual(['b']);
    expect(s.calls.sort()).toEqual(['pn-a', 'pn-b', 'pn-c']);
    expect(await s.ledger.state('w:m-a')).toBe('SENT');
    expect(await s.ledger.state('w:m-c')).toBe('SENT');
  });
});

describe('OutboundService: message identity, phone numbers, tokens, park state (issue 10)', () => {
  const dl = (m: QueueMessage | undefined) => JSON.parse(m?.body ?? '{}') as DeadLetterBody;

  it('sends the same messageId once per WABA: two WABAs are two messages, a repeat within one is suppressed', async () => {
    const { service, calls, ledger, telemetry } = await setup();
    const out = await service.processBatch([
      record('a', { wabaId: 'w1', messageId: 'same', phoneNumberId: 'p1' }),
      record('b', { wabaId: 'w2', messageId: 'same', phoneNumberId: 'p2' }),
      record('c', { wabaId: 'w2', messageId: 'same', phoneNumberId: 'p2' }),
    ]);
    expect(out.failedIds).toEqual([]);
    expect(calls.sort()).toEqual(['p1', 'p2']);
    expect(await ledger.state('w1:same')).toBe('SENT');
    expect(await ledger.state('w2:same')).toBe('SENT');
    expect(telemetry.get('DuplicateSuppressed')).toBe(1);
  });

  it("dead-letters a message from another WABA's phone number, never sending it, and records it final", async () => {
    const owner: PhoneOwner = { wabaId: 'removed-client', learnedFrom: 'webhook', learnedAt: Date.parse('2026-11-20T00:00:00.000Z') };
    const { service, calls, dead, ledger, learnt, telemetry, phoneNumbers } = await setup({ owners: { 'pn-a': owner } });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(calls).toEqual([]);
    // Not recorded as the client's number either: a stale-offboarding probe must never ask about another WABA's number.
    expect(phoneNumbers).toEqual([]);
    // Never sent, and final: no other copy of it can act on it again.
    expect(await ledger.state('w:m-a')).toBe('DEAD_LETTERED');
    expect(learnt).toEqual([]);
    expect(dl(dead[0])).toMatchObject({ reason: 'phone-number-mismatch', envelope: { phoneNumberId: 'pn-a', wabaId: 'w' } });
    expect(dl(dead[0]).detail).toContain('belongs to WABA removed-client');
    expect(dead[0]?.attributes).toEqual({ reason: 'phone-number-mismatch', wabaId: 'w' });
    expect(telemetry.get('PhoneNumberMismatch')).toBe(1);
  });

  it('learns the owner of a phone number from an accepted send, once per number, and only when none is known', async () => {
    const known: PhoneOwner = { wabaId: 'w', learnedFrom: 'webhook', learnedAt: Date.parse('2026-11-20T00:00:00.000Z') };
    const { service, calls, learnt } = await setup({ owners: { 'pn-k': known } });
    await service.processBatch([record('a'), record('a2', { phoneNumberId: 'pn-a' }), record('k')]);
    expect(calls.sort()).toEqual(['pn-a', 'pn-a', 'pn-k']);
    expect(learnt).toEqual([['pn-a', 'w', 'send']]);
  });

  it('does not learn from a send the Cloud API refused', async () => {
    const { service, learnt } = await setup({ api: () => ({ kind: 'http-error', status: 400, error: { code: 131026 } }) });
    await service.processBatch([record('a')]);
    expect(learnt).toEqual([]);
  });

  it('still acknowledges a sent message when the owner cannot be recorded', async () => {
    const { service, telemetry } = await setup({ failLearn: true });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(telemetry.logs.some((l) => l.message === 'phone number owner not recorded')).toBe(true);
  });

  it('dead-letters a message for a WABA without a token (no-access-token), never sending it, and records it final', async () => {
    const { service, calls, dead, ledger } = await setup({ failTokens: 'no-token' });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(calls).toEqual([]);
    expect(await ledger.state('w:m-a')).toBe('DEAD_LETTERED');
    expect(dl(dead[0])).toMatchObject({ reason: 'no-access-token', detail: 'no Cloud API token for WABA w', envelope: { messageId: 'm-a' } });
  });

  it('ignores park attributes on a message from the outbound queue: a forged first-parked time neither expires nor exempts it', async () => {
    const forgedOld = { 'relay-park-count': '50', 'relay-first-parked-at': '2000-01-01T00:00:00.000Z', 'relay-send-attempts': '99' };
    const forgedNew = { 'relay-first-parked-at': '2999-01-01T00:00:00.000Z' };
    const { service, parked, dead, telemetry } = await setup({ latest: { w: offboarded } });
    await service.processBatch([record('a', {}, forgedOld, false), record('b', {}, forgedNew, false)]);
    expect(dead).toEqual([]);
    for (const m of parked) {
      expect(m.attributes).toEqual({ 'relay-park-count': '1', 'relay-send-attempts': '0', 'relay-first-parked-at': new Date(NOW).toISOString(), 'relay-first-enqueued-at': String(NOW), 'relay-parked-copy': '1' });
    }
    expect(parked).toHaveLength(2);
    expect(telemetry.logs.filter((l) => l.message === 'park attributes on an outbound-queue message ignored')).toHaveLength(2);
  });

  it('dead-letters a body over the envelope limit with an excerpt and its SHA-256, whatever it holds', async () => {
    const { service, dead } = await setup();
    const huge = `{"messageId":"${'\\"'.repeat(400_000)}"}`;
    expect((await service.processBatch([{ id: 'x', body: huge, attributes: {}, fromDelayQueue: false }])).failedIds).toEqual([]);
    const body = dl(dead[0]);
    expect(body.reason).toBe('invalid-envelope');
    expect(body.detail).toMatch(/^body is \d+ bytes, over the 131072-byte limit$/);
    expect(body.truncated?.originalBytes).toBe(huge.length);
    expect((dead[0]?.body.length ?? 0) < 1_048_576).toBe(true);
  });
});

describe('isQueueArnOf', () => {
  it('matches an ARN to its queue URL by account and name only', () => {
    const url = 'https://sqs.eu-west-1.amazonaws.com/111111111111/CoexistenceRelay-prod-OutboundDelayQueue-AbC';
    expect(isQueueArnOf('arn:aws:sqs:eu-west-1:111111111111:CoexistenceRelay-prod-OutboundDelayQueue-AbC', url)).toBe(true);
    expect(isQueueArnOf('arn:aws:sqs:eu-west-1:222222222222:CoexistenceRelay-prod-OutboundDelayQueue-AbC', url)).toBe(false);
    expect(isQueueArnOf('arn:aws:sqs:eu-west-1:111111111111:CoexistenceRelay-prod-OutboundQueue-XyZ', url)).toBe(false);
    expect(isQueueArnOf(undefined, url)).toBe(false);
    expect(isQueueArnOf('arn', url)).toBe(false);
  });

  it('reads park attributes only on delay-queue records', async () => {
    const { service, parked } = await setup({ latest: { w: offboarded } });
    const handler = createConsumerHandler(async () => service, new RecordingTelemetry(), (arn) => arn === 'arn:delay');
    const attrs = { 'relay-park-count': { stringValue: '4', dataType: 'String' }, 'relay-first-parked-at': { stringValue: new Date(NOW - 60_000).toISOString(), dataType: 'String' } };
    const body = record('a').body;
    await handler({ Records: [{ messageId: '1', body, messageAttributes: attrs, eventSourceARN: 'arn:outbound' }, { messageId: '2', body, messageAttributes: attrs, eventSourceARN: 'arn:delay' }] } as never);
    expect(parked.map((m) => m.attributes?.['relay-park-count'])).toEqual(['1', '5']);
  });
});

describe('OutboundService: fresh duplicates of final messages on the paths without a ledger read (hostile)', () => {
  const notConnected: CloudApiResult = { kind: 'http-error', status: 400, error: { code: 133010 } };

  it('never parks a sent message behind a hold this batch trips: its fresh duplicate, a follower of the refused pilot, is acknowledged', async () => {
    let refuse = false;
    const { service, ledger, calls, parked, copies, telemetry } = await setup({ api: () => (refuse ? notConnected : { kind: 'accepted', wamid: 'wamid.a' }) });
    await service.processBatch([record('a', { phoneNumberId: 'pn' })]);
    expect(await ledger.state('w:m-a')).toBe('SENT');
    // The number is disconnected now: a new message of the client goes first (the pilot) and is refused; the sent
    // message, enqueued again upstream, follows it in the same batch.
    refuse = true;
    const out = await service.processBatch([record('p', { phoneNumberId: 'pn' }), { ...record('a', { phoneNumberId: 'pn' }), id: 'a-again' }]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn', 'pn']);
    // Only the pilot parks; the sent message is final: no delay-queue copy, no parked copy, no hold park counted for it.
    expect(parked.map((m) => m.id)).toEqual(['p']);
    expect([...copies.copies.values()].map((c) => c.messageId)).toEqual(['m-p']);
    expect(await ledger.state('w:m-a')).toBe('SENT');
    expect(telemetry.get('ParkedByHold')).toBe(0);
    expect(telemetry.get('DuplicateSuppressed')).toBe(1);
  });
});

describe('OutboundService: fresh duplicates of finished messages where the gate would not send (hostile)', () => {
  /** Finishes a message as another copy would have: claimed, then sent, dead-lettered or replaced by its fallback. */
  const finish = async (ledger: SendLedger, messageId: string, how: 'sent' | 'dead' | 'replaced') => {
    const key = { wabaId: 'w', messageId };
    const c = await ledger.claim(key, NOW);
    if (c.outcome !== 'claimed') throw new Error('not claimed');
    if (how === 'sent') await ledger.markSent(key, c.token, `wamid.${messageId}`, NOW);
    if (how === 'dead') await ledger.markDeadLettered(key, c.token, { reason: 'rejected-by-cloud-api', deadLetteredAt: new Date(NOW).toISOString() });
    if (how === 'replaced') await ledger.markReplaced(key, c.token, `${messageId}:fallback`);
  };

  it("acknowledges them whatever the gate says (another WABA's number, expired, offboarded, behind an overdue release): nothing parked, dead-lettered, counted, asked or published", async () => {
    const latest: Record<string, LatestByClass> = {};
    const owner: PhoneOwner = { wabaId: 'someone-else', learnedFrom: 'webhook', learnedAt: NOW - 86_400_000 };
    const s = await setup({ latest, owners: { 'pn-mis': owner } });
    await finish(s.ledger, 'm-s', 'sent');
    await finish(s.ledger, 'm-d', 'dead');
    await finish(s.ledger, 'm-r', 'replaced');
    // Each finished message enqueued again, fresh, where the gate would dead-letter or park it.
    const copiesOf = (tag: string, extra: Record<string, unknown>) => ['s', 'd', 'r'].map((id) => ({ ...record(id, extra), id: `${id}-${tag}` }));
    expect((await s.service.processBatch(copiesOf('mismatch', { phoneNumberId: 'pn-mis' }))).failedIds).toEqual([]);
    expect((await s.service.processBatch(copiesOf('expired', { notAfter: new Date(NOW - 1_000).toISOString() }))).failedIds).toEqual([]);
    latest.w = offboarded;
    expect((await s.service.processBatch(copiesOf('offboarded', {}))).failedIds).toEqual([]);
    // A release that stopped beating: a message parked behind it would ask for another; a final one asks nothing.
    const stalled = await setup({ drainSince: NOW - 120_000, beatAt: NOW - 90_000 });
    await finish(stalled.ledger, 'm-b', 'sent');
    expect((await stalled.service.processBatch([record('b')])).failedIds).toEqual([]);
    for (const x of [s, stalled]) {
      expect(x.calls).toEqual([]);
      expect(x.parked).toEqual([]);
      expect(x.dead).toEqual([]);
      expect(x.copies.copies.size).toBe(0);
      expect(x.events).toEqual([]);
      expect(x.releases.requests).toEqual([]);
      for (const metric of ['PhoneNumberMismatch', 'ParkedByRestriction', 'ParkedByHold', 'MessagesParked', 'MessagesDeadLettered', 'MessagesSent']) expect(x.telemetry.get(metric)).toBe(0);
    }
    expect(s.telemetry.get('DuplicateSuppressed')).toBe(9);
    expect(stalled.telemetry.get('DuplicateSuppressed')).toBe(1);
    expect(s.telemetry.logs.map((l) => l.message)).not.toContain('phone number of another WABA; dead-lettered');
    expect(await s.ledger.state('w:m-s')).toBe('SENT');
    expect(await s.ledger.state('w:m-d')).toBe('DEAD_LETTERED');
    expect(await s.ledger.state('w:m-r')).toBe('REPLACED_BY_FALLBACK');
  });
});
