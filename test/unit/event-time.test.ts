import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { serializeJson, truncateValue } from '../../lambdas/core/shared/bounded-json.js';
import { DEFAULTS } from '../../lambdas/core/shared/defaults.js';
import { EARLIEST_EVENT_TIME_MS, readEventTime, representableTimeMs, safeIso } from '../../lambdas/core/status/event-time.js';
import { boundedText } from '../../lambdas/core/shared/ids.js';
import type { ParsedChange } from '../../lambdas/core/webhook/parsed-change.js';
import { parseWebhook } from '../../lambdas/core/webhook/webhook-payload.js';
import { propertyRuns } from '../support/property.js';
import { accountUpdate, messagesChange, offboarded, partnerEvent } from '../support/webhooks.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const NOW_S = NOW / 1000;
const MARGIN_MS = DEFAULTS.maxEventFutureSkewSeconds * 1000;

const changesOf = (json: unknown): readonly ParsedChange[] => {
  const parsed = parseWebhook(json, { receivedAtMs: NOW });
  if (parsed.kind !== 'changes') throw new Error(`expected changes, got ${parsed.kind}`);
  return parsed.changes;
};
const only = (json: unknown): ParsedChange => {
  const [c, ...rest] = changesOf(json);
  expect(rest).toHaveLength(0);
  return c as ParsedChange;
};

describe('event times', () => {
  it('reads Unix seconds and milliseconds, as numbers or numeric strings', () => {
    expect(representableTimeMs(1768477204)).toBe(1768477204000);
    expect(representableTimeMs('1768477204')).toBe(1768477204000);
    expect(representableTimeMs(1768477204123)).toBe(1768477204123);
    expect(representableTimeMs(' 1768477204123 ')).toBe(1768477204123);
  });

  it.each([
    ['1e16 (not a safe integer)', 1e16],
    ['1e200', 1e200],
    ['a fraction', 1768477204.5],
    ['negative', -1768477204],
    ['before 2010', 1000],
    ['zero', 0],
    ['a word', 'soon'],
    ['an exponent string', '1e9'],
    ['beyond what Date shows', 9e15],
    ['NaN', Number.NaN],
    ['an object', { t: 1 }],
    ['missing', undefined],
  ])('refuses %s', (_, raw) => {
    expect(representableTimeMs(raw)).toBeNull();
    expect(readEventTime(raw, NOW, MARGIN_MS)).toMatchObject({ ok: false, problem: 'event-time-invalid' });
  });

  it('accepts a time up to the margin after receipt and refuses one a second later', () => {
    expect(readEventTime(NOW_S + DEFAULTS.maxEventFutureSkewSeconds, NOW, MARGIN_MS)).toEqual({ ok: true, ms: NOW + MARGIN_MS });
    expect(readEventTime(NOW_S + DEFAULTS.maxEventFutureSkewSeconds + 1, NOW, MARGIN_MS)).toMatchObject({
      ok: false,
      problem: 'event-time-in-future',
    });
    // The year 2100, and a time in microseconds (read as milliseconds: about the year 57 000).
    expect(readEventTime(4102444800, NOW, MARGIN_MS)).toMatchObject({ ok: false, problem: 'event-time-in-future', ms: 4102444800000 });
    expect(readEventTime(NOW * 1000, NOW, MARGIN_MS)).toMatchObject({ ok: false, problem: 'event-time-in-future' });
  });

  test.prop([fc.oneof(fc.double(), fc.integer(), fc.string(), fc.bigInt().map(String), fc.jsonValue())], { numRuns: propertyRuns(500) })(
    'any raw time is accepted only within [2010, receipt + margin], and never throws',
    (raw) => {
      const t = readEventTime(raw, NOW, MARGIN_MS);
      if (t.ok) {
        expect(Number.isSafeInteger(t.ms)).toBe(true);
        expect(t.ms).toBeGreaterThanOrEqual(EARLIEST_EVENT_TIME_MS);
        expect(t.ms).toBeLessThanOrEqual(NOW + MARGIN_MS);
      } else {
        expect(t.detail.length).toBeLessThan(200);
      }
    },
  );

  test.prop([fc.oneof(fc.double(), fc.jsonValue())])('safeIso never throws', (v) => {
    const s = safeIso(v);
    expect(s === null || !Number.isNaN(Date.parse(s))).toBe(true);
  });
});

describe('parseWebhook: times that may not decide status', () => {
  it('rejects a far-future time with the problem and the claimed time, keeping the change', () => {
    const c = only(offboarded('4242', 4102444800));
    expect(c).toMatchObject({
      kind: 'rejected-time',
      wabaId: '4242',
      event: 'ACCOUNT_OFFBOARDED',
      statusClass: 'OFFBOARDED',
      problem: 'event-time-in-future',
      claimedTimeMs: 4102444800000,
      rawTime: '4102444800',
      raw: { field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } },
    });
  });

  it('rejects 1e16 and 1e200 as invalid; the same change gets the same ids on redelivery', () => {
    for (const time of [1e16, 1e200]) {
      const a = only(offboarded('4242', time));
      const b = only(offboarded('4242', time));
      expect(a).toMatchObject({ kind: 'rejected-time', problem: 'event-time-invalid', claimedTimeMs: null });
      expect(a).toEqual(b);
    }
  });

  it('forwards other fields with an unreadable time as they are, with entryTime null', () => {
    const body = { object: 'whatsapp_business_account', entry: [{ id: '4242', time: 1e200, changes: [messagesChange('4242', 1)] }] };
    expect(only(body)).toMatchObject({ kind: 'forward', field: 'messages', entryTimeMs: null });
  });
});

describe('parseWebhook: ids, fields and sizes', () => {
  it('keeps every change of an entry whose id cannot be a key as unreadable', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [{ id: 'x'.repeat(3000), time: NOW_S, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_DELETED' } }, messagesChange('x', NOW_S)] }],
    };
    const changes = changesOf(body);
    expect(changes.map((c) => [c.kind, c.wabaId])).toEqual([
      ['unreadable', null],
      ['unreadable', null],
    ]);
    expect((changes[0] as { problem: string }).problem).toMatch(/^invalid-id: entry\[0\]\.id must be 1-64/);
  });

  it.each([
    ['a WABA id with a space', partnerEvent('p', 'a b', 'PARTNER_REMOVED', NOW_S), /^invalid-id/],
    ['an event name of 450 KB', accountUpdate('4242', 'E'.repeat(450_000), NOW_S), /^invalid-event/],
    ['an event name with U+FFFF', accountUpdate('4242', 'ACCOUNT_\uffff', NOW_S), /^invalid-event/],
    [
      'a field with an emoji',
      { object: 'whatsapp_business_account', entry: [{ id: '4242', time: NOW_S, changes: [{ field: 'messages😀', value: {} }] }] },
      /^invalid-field/,
    ],
  ])('forwards %s as unreadable', (_, body, problem) => {
    const c = only(body);
    expect(c.kind).toBe('unreadable');
    expect((c as { problem: string }).problem).toMatch(problem);
  });

  it('bounds the text it stores: a 450 KB reason is cut, lone surrogates become U+FFFD, unknown names are capped', () => {
    const extra: Record<string, unknown> = { disconnection_info: { reason: 'R'.repeat(450_000), initiated_by: 'US\ud800ER' } };
    for (let i = 0; i < 100; i++) extra[`k${i}`] = i;
    const c = only(partnerEvent('p', '4242', 'PARTNER_REMOVED', NOW_S, extra));
    if (c.kind !== 'account_update') throw new Error(c.kind);
    expect(c.disconnection?.reason).toHaveLength(128);
    expect(c.disconnection?.reason?.endsWith('...')).toBe(true);
    expect(c.disconnection?.initiatedBy).toBe('US\ufffdER');
    expect(c.unknownProperties).toHaveLength(20);
    expect(c.unknownPropertyCount).toBe(100);
  });

  it('reads a value nested 8000 levels deep (JSON.stringify would throw) without throwing', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(8000)}1${'}'.repeat(8000)}`);
    const body = {
      object: 'whatsapp_business_account',
      entry: [{ id: '4242', time: NOW_S, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_RESTRICTION', deep } }, { field: 'messages', value: deep }] }],
    };
    expect(changesOf(body).map((c) => c.kind)).toEqual(['account_update', 'forward']);
  });

  it('names the phone number of a messages change and when it was seen', () => {
    const withTime = only({ object: 'whatsapp_business_account', entry: [{ id: '4242', time: NOW_S - 10, changes: [messagesChange('4242', NOW_S - 20)] }] });
    expect(withTime).toMatchObject({ kind: 'forward', phoneNumberId: '1234', seenAtMs: NOW - 10_000 });
    // Meta's messages webhooks usually carry no entry.time: the newest message or status time stands in.
    const noTime = only({ object: 'whatsapp_business_account', entry: [{ id: '4242', changes: [messagesChange('4242', NOW_S - 20)] }] });
    expect(noTime).toMatchObject({ phoneNumberId: '1234', seenAtMs: NOW - 20_000 });
    const future = only({ object: 'whatsapp_business_account', entry: [{ id: '4242', changes: [messagesChange('4242', NOW_S + 86_400)] }] });
    expect(future).toMatchObject({ phoneNumberId: '1234', seenAtMs: null });
    const odd = messagesChange('4242', NOW_S);
    (odd.value.metadata as { phone_number_id: string }).phone_number_id = 'x'.repeat(100);
    expect(only({ object: 'whatsapp_business_account', entry: [{ id: '4242', changes: [odd] }] })).not.toHaveProperty('phoneNumberId');
  });
});

describe('bounded JSON', () => {
  test.prop([fc.jsonValue()], { numRuns: propertyRuns(200) })('serializeJson is JSON.stringify for every JSON value', (v) => {
    expect(serializeJson(v)).toBe(JSON.stringify(v));
  });

  it('serializes any depth, the same text JSON.stringify would give', () => {
    const text = `${'[{"a":'.repeat(20_000)}"x"${'}]'.repeat(20_000)}`;
    expect(serializeJson(JSON.parse(text))).toBe(text);
  });

  it('truncates with the length and SHA-256 of the whole text', () => {
    const t = truncateValue({ s: 'é'.repeat(20_000) });
    expect(t.text).toHaveLength(16 * 1024);
    expect(t.originalBytes).toBe(Buffer.byteLength(JSON.stringify({ s: 'é'.repeat(20_000) })));
    expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test.prop([fc.string({ unit: 'binary' }), fc.integer({ min: 4, max: 200 })])('boundedText is well-formed and at most max long', (s, max) => {
    const b = boundedText(s, max);
    expect(b.length).toBeLessThanOrEqual(max);
    expect(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(b)).toBe(false);
  });
});
