import { describe, expect, it } from 'vitest';
import type { LatestByClass } from '../../lambdas/core/client-status.js';
import { orderKeyOf } from '../../lambdas/core/client-status.js';
import type { CloudApiResult } from '../../lambdas/core/cloud-api-result.js';
import { type DeadLetterBody, OutboundService, type OutboundRecord } from '../../lambdas/core/outbound-service.js';
import type { ClientActivity, QueueMessage } from '../../lambdas/core/ports.js';
import type { ClaimResult, SendLedger } from '../../lambdas/core/send-ledger.js';
import { createConsumerHandler } from '../../lambdas/consumer/handler.js';
import { RecordingTelemetry } from '../support/telemetry.js';

/**
 * Fault injection around the consumer's decisions. The real adapters are covered against DynamoDB Local and fauxqs
 * in test/integration; these fakes make failures happen exactly where a test needs them.
 */
const NOW = Date.parse('2026-11-25T12:00:00Z');

class FakeLedger implements SendLedger {
  readonly states = new Map<string, { state: string; token: string; wamid?: string }>();
  failMarkSent = 0;
  failClaim = false;
  async claim(messageId: string): Promise<ClaimResult> {
    if (this.failClaim) throw new Error('DynamoDB down');
    const cur = this.states.get(messageId);
    if (cur?.state === 'SENT') return { outcome: 'already-sent', wamid: cur.wamid ?? null };
    if (cur?.state === 'SENDING') return { outcome: 'in-flight' };
    const token = `t${Math.random()}`;
    this.states.set(messageId, { state: 'SENDING', token });
    return { outcome: 'claimed', token, resend: cur?.state === 'AMBIGUOUS' };
  }
  async markSent(messageId: string, token: string, wamid: string) {
    if (this.failMarkSent-- > 0) throw new Error('write failed');
    this.states.set(messageId, { state: 'SENT', token, wamid });
  }
  async release(messageId: string, token: string) {
    this.states.set(messageId, { state: 'RELEASED', token });
  }
  async markAmbiguous(messageId: string, token: string) {
    this.states.set(messageId, { state: 'AMBIGUOUS', token });
  }
}

const setup = (opts: { latest?: Record<string, LatestByClass>; api?: (phone: string) => CloudApiResult; failQueue?: 'park' | 'dead-letter'; failActivity?: boolean; failTokens?: boolean } = {}) => {
  const ledger = new FakeLedger();
  const parked: QueueMessage[] = [];
  const dead: QueueMessage[] = [];
  const activity: ClientActivity[][] = [];
  const calls: string[] = [];
  const telemetry = new RecordingTelemetry();
  const service = new OutboundService({
    statuses: { readClients: async (ids) => new Map(ids.map((id) => [id, { latest: opts.latest?.[id] ?? {}, health: {} }])) },
    ledger,
    activity: {
      record: async (a) => {
        if (opts.failActivity) throw new Error('counters down');
        activity.push([...a]);
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
      tokenFor: async () => {
        if (opts.failTokens) throw new Error('no token');
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
  return { service, ledger, parked, dead, activity, calls, telemetry };
};

const record = (id: string, extra: Record<string, unknown> = {}, attributes: Record<string, string> = {}): OutboundRecord => ({
  id,
  body: JSON.stringify({ messageId: `m-${id}`, wabaId: 'w', phoneNumberId: `pn-${id}`, payload: { messaging_product: 'whatsapp', to: '1' }, ...extra }),
  attributes,
});
const offboarded: LatestByClass = {
  OFFBOARDED: { orderKey: orderKeyOf(NOW - 1000, 'e'), event: 'ACCOUNT_OFFBOARDED', eventId: 'e', eventTimeMs: NOW - 1000, appliedAt: '' },
};

describe('OutboundService', () => {
  it('acknowledges a sent message even when recording the send keeps failing, rather than risk a second send', async () => {
    const { service, ledger, calls, telemetry } = setup();
    ledger.failMarkSent = 5;
    const out = await service.processBatch([record('a')]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(telemetry.get('SendRecordFailures')).toBe(1);
  });

  it('recovers when recording the send fails once', async () => {
    const { service, ledger } = setup();
    ledger.failMarkSent = 1;
    await service.processBatch([record('a')]);
    expect(ledger.states.get('m-a')?.state).toBe('SENT');
  });

  it('returns a record when its token or claim cannot be read, and sends nothing', async () => {
    for (const opts of [{ failTokens: true }, {}]) {
      const s = setup(opts);
      if (!('failTokens' in opts)) s.ledger.failClaim = true;
      const out = await s.service.processBatch([record('a')]);
      expect(out.failedIds).toEqual(['a']);
      expect(s.calls).toEqual([]);
    }
  });

  it('returns a record another worker is sending, and does not send it', async () => {
    const { service, ledger, calls } = setup();
    ledger.states.set('m-a', { state: 'SENDING', token: 'other' });
    expect((await service.processBatch([record('a')])).failedIds).toEqual(['a']);
    expect(calls).toEqual([]);
  });

  it('settles an in-batch duplicate by its twin: one send, both acknowledged', async () => {
    const { service, calls, telemetry } = setup();
    const out = await service.processBatch([record('a'), { ...record('a'), id: 'a2' }]);
    expect(out.failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
    expect(telemetry.get('DuplicateSuppressed')).toBe(1);
  });

  it('retries an in-batch duplicate when its twin was not sent', async () => {
    const { service, calls } = setup({ api: () => ({ kind: 'http-error', status: 500, error: null }) });
    const out = await service.processBatch([record('a'), { ...record('a'), id: 'a2' }]);
    expect(out.failedIds).toEqual(['a2']);
    expect(calls).toHaveLength(1);
  });

  it('keeps every neighbour when one record is broken', async () => {
    const { service, dead, calls } = setup();
    const out = await service.processBatch([record('a'), { id: 'bad', body: '{"messageId": 7}', attributes: {} }, record('b')]);
    expect(out.failedIds).toEqual([]);
    expect(calls.sort()).toEqual(['pn-a', 'pn-b']);
    const body = JSON.parse(dead[0]?.body ?? '{}') as DeadLetterBody;
    expect(body).toMatchObject({ reason: 'invalid-envelope', envelope: '{"messageId": 7}' });
    expect(body.detail).toContain('messageId');
  });

  it('returns parked and dead-lettered records whose queue send failed', async () => {
    const park = setup({ latest: { w: offboarded }, failQueue: 'park' });
    expect((await park.service.processBatch([record('a')])).failedIds).toEqual(['a']);
    const dl = setup({ failQueue: 'dead-letter' });
    expect((await dl.service.processBatch([{ id: 'x', body: 'nope', attributes: {} }])).failedIds).toEqual(['x']);
  });

  it('does not fail records when the client counters cannot be written', async () => {
    const { service, calls } = setup({ failActivity: true });
    expect((await service.processBatch([record('a')])).failedIds).toEqual([]);
    expect(calls).toEqual(['pn-a']);
  });

  it('marks a timed-out send ambiguous so the next attempt is counted as a resend', async () => {
    let answer: CloudApiResult = { kind: 'no-answer', ambiguous: true, message: 'timeout' };
    const { service, ledger, parked, activity } = setup({ api: () => answer });
    await service.processBatch([record('a')]);
    expect(ledger.states.get('m-a')?.state).toBe('AMBIGUOUS');
    expect(parked[0]?.attributes).toMatchObject({ 'relay-send-attempts': '1' });
    answer = { kind: 'accepted', wamid: 'wamid.x' };
    await service.processBatch([{ ...record('a'), attributes: parked[0]?.attributes ?? {} }]);
    expect(activity.at(-1)?.[0]).toMatchObject({ sent: 1, ambiguousResends: 1 });
  });

  it('dead-letters a message that waited past MAX_PARK_SECONDS when the Cloud API still says not connected', async () => {
    const { service, dead } = setup({ api: () => ({ kind: 'http-error', status: 400, error: { code: 133010 } }) });
    const old = { 'relay-park-count': '9', 'relay-first-parked-at': new Date(NOW - 3_601_000).toISOString() };
    await service.processBatch([record('a', {}, old)]);
    expect(JSON.parse(dead[0]?.body ?? '{}')).toMatchObject({ reason: 'expired', parkCount: 9 });
  });

  it('leaves a parked message\'s marker when it is sent and reports the park age', async () => {
    const { service, activity, telemetry } = setup();
    const first = new Date(NOW - 120_000).toISOString();
    await service.processBatch([record('a', {}, { 'relay-park-count': '2', 'relay-first-parked-at': first })]);
    expect(activity[0]?.[0]).toMatchObject({ sent: 1, unparked: [{ messageId: 'm-a', firstParkedAt: first }] });
    expect(telemetry.durations).toContainEqual({ metric: 'ResumedAfterParkSeconds', value: 120 });
  });
});

describe('consumer handler', () => {
  it('reports every record when the service throws, so nothing is dropped', async () => {
    const telemetry = new RecordingTelemetry();
    const handler = createConsumerHandler(async () => {
      throw new Error('boom');
    }, telemetry);
    const r = await handler({ Records: [{ messageId: '1', body: '{}', messageAttributes: {} }, { messageId: '2', body: '{}', messageAttributes: {} }] as never });
    expect(r.batchItemFailures).toEqual([{ itemIdentifier: '1' }, { itemIdentifier: '2' }]);
    expect(telemetry.logs.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('OutboundService isolation', () => {
  it('returns only the record whose send step threw, and completes its neighbours', async () => {
    // A Cloud API adapter that throws for one phone number (adapters should not, but one bad record must not spread).
    const s = setup({
      api: (phone) => {
        if (phone === 'pn-b') throw new Error('adapter bug');
        return { kind: 'accepted', wamid: `wamid.${phone}` };
      },
    });
    const out = await s.service.processBatch([record('a'), record('b'), record('c')]);
    expect(out.failedIds).toEqual(['b']);
    expect(s.calls.sort()).toEqual(['pn-a', 'pn-b', 'pn-c']);
    expect(s.ledger.states.get('m-a')?.state).toBe('SENT');
    expect(s.ledger.states.get('m-c')?.state).toBe('SENT');
  });
});
