import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { AccountUpdate, ParsedChange } from '../../lambdas/core/webhook/parsed-change.js';
import { accountUpdateValue, parseWebhook, quickAccountValue } from '../../lambdas/core/webhook/webhook-payload.js';
import { propertyRuns } from '../support/property.js';
import { accountUpdate, messagesChange, offboarded, partnerEvent, reconnected } from '../support/webhooks.js';

const changesOf = (json: unknown): readonly ParsedChange[] => {
  const parsed = parseWebhook(json);
  if (parsed.kind !== 'changes') throw new Error(`expected changes, got ${parsed.kind}`);
  return parsed.changes;
};
const onlyUpdate = (json: unknown): AccountUpdate => {
  const [c, ...rest] = changesOf(json);
  expect(rest).toHaveLength(0);
  if (c?.kind !== 'account_update') throw new Error(`expected account_update, got ${c?.kind}`);
  return c;
};

describe('parseWebhook: the reference sheet examples', () => {
  it('reads ACCOUNT_OFFBOARDED with entry.id as the WABA and Unix seconds', () => {
    const u = onlyUpdate(offboarded('102290129340398', 1768477204));
    expect(u).toMatchObject({ wabaId: '102290129340398', event: 'ACCOUNT_OFFBOARDED', eventTimeMs: 1768477204000, statusClass: 'OFFBOARDED' });
  });

  it('reads ACCOUNT_RECONNECTED with a quoted time and phone_number (coexistence onboarding page)', () => {
    const body = accountUpdate('102290129340398', 'ACCOUNT_RECONNECTED', '1768477203', { phone_number: '15550783881' });
    const u = onlyUpdate(body);
    expect(u).toMatchObject({ eventTimeMs: 1768477203000, statusClass: 'RECONNECTED', phoneNumber: '15550783881' });
    expect(u.unknownProperties).toEqual([]);
  });

  it('treats times above 10^12 as milliseconds', () => {
    expect(onlyUpdate(offboarded('1', 1768477204123)).eventTimeMs).toBe(1768477204123);
    expect(onlyUpdate(offboarded('1', '1768477204123')).eventTimeMs).toBe(1768477204123);
  });

  it.each([
    ['ACCOUNT_DELETED', {}, 'DELETED'],
    ['ACCOUNT_RESTRICTION', { restriction_info: [{ restriction_type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION', expiration: 1 }] }, null],
    ['ACCOUNT_VIOLATION', { violation_info: { violation_type: 'SCAM' } }, null],
    ['DISABLED_UPDATE', { ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: 'May 1' } }, 'DISABLED'],
    ['DISABLED_UPDATE', { ban_info: { waba_ban_state: ['REINSTATE'], waba_ban_date: 'May 1' } }, 'CONNECTED'],
    ['DISABLED_UPDATE', { ban_info: { waba_ban_state: 'SCHEDULE_FOR_DISABLE', waba_ban_date: 'May 1' } }, null],
    ['AUTH_INTL_PRICE_ELIGIBILITY_UPDATE', { auth_international_rate_eligibility: { exception_countries: [] } }, null],
    ['BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE', { location_info: { country: 'BR' } }, null],
    ['VOLUME_BASED_PRICING_TIER_UPDATE', { volume_tier_info: { tier_update_time: 1 } }, null],
    ['PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE', { partner_client_certification_info: { status: 'APPROVED' } }, null],
    ['SOMETHING_META_ADDS_NEXT_YEAR', { brand_new: true }, null],
  ])('classifies %s %j as %s and keeps unknown properties', (event, extra, cls) => {
    const u = onlyUpdate(accountUpdate('42', event, 1768477204, extra));
    expect(u.statusClass).toBe(cls);
    expect(u.wabaId).toBe('42');
  });

  it.each(['PARTNER_ADDED', 'PARTNER_APP_INSTALLED', 'PARTNER_APP_UNINSTALLED', 'PARTNER_REMOVED', 'AD_ACCOUNT_LINKED', 'MM_LITE_TERMS_SIGNED'])(
    'takes the WABA of %s from waba_info, not the partner business id in entry.id',
    (event) => {
      const u = onlyUpdate(partnerEvent('partner-biz-1', '555000', event, 1768477204));
      expect(u.wabaId).toBe('555000');
      expect(u.entryId).toBe('partner-biz-1');
    },
  );

  it('keeps disconnection_info of a coexistence PARTNER_REMOVED', () => {
    const u = onlyUpdate(
      partnerEvent('p', '555000', 'PARTNER_REMOVED', 1768477204, {
        disconnection_info: { reason: 'USER_RE_REGISTERED', initiated_by: 'USER' },
      }),
    );
    expect(u.statusClass).toBe('REMOVED');
    expect(u.disconnection).toEqual({ reason: 'USER_RE_REGISTERED', initiatedBy: 'USER' });
  });
});

describe('parseWebhook: every entry, every change', () => {
  it('reads several entries with several changes of mixed fields, in order', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'A',
          time: 1768477100,
          changes: [
            { field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } },
            messagesChange('A', 1768477100),
            { field: 'smb_message_echoes', value: { echoes: [] } },
          ],
        },
        { id: 'B', time: 1768477200, changes: [{ field: 'account_update', value: { event: 'ACCOUNT_RECONNECTED' } }] },
      ],
    };
    const changes = changesOf(body);
    expect(changes.map((c) => [c.kind, c.wabaId])).toEqual([
      ['account_update', 'A'],
      ['forward', 'A'],
      ['forward', 'A'],
      ['account_update', 'B'],
    ]);
    expect(changes[1]).toMatchObject({ field: 'messages', entryTimeMs: 1768477100_000 });
  });

  it('reads 1000 changes in one POST', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: Array.from({ length: 100 }, (_, e) => ({
        id: `W${e}`,
        time: 1768477204 + e,
        changes: Array.from({ length: 10 }, (_, i) => messagesChange(`W${e}`, 1, `m${i}`)),
      })),
    };
    expect(changesOf(body)).toHaveLength(1000);
  });

  it('gives the same change the same event id on redelivery and a different one for different content', () => {
    const a = onlyUpdate(offboarded('1', 1768477100));
    const b = onlyUpdate(JSON.parse(JSON.stringify(offboarded('1', 1768477100))));
    const c = onlyUpdate(offboarded('1', 1768477101));
    const d = onlyUpdate(reconnected('1', 1768477100));
    expect(a.eventId).toBe(b.eventId);
    expect(new Set([a.eventId, c.eventId, d.eventId]).size).toBe(3);
  });

  it('records extra properties anywhere without rejecting them', () => {
    const body = {
      object: 'whatsapp_business_account',
      extra_top: 1,
      entry: [{ id: '7', time: 1768477100, extra_entry: true, changes: [{ field: 'account_update', extra_change: 1, value: { event: 'ACCOUNT_OFFBOARDED', surprise: { x: 1 } } }] }],
    };
    expect(onlyUpdate(body).unknownProperties).toEqual(['surprise']);
  });

  it('keeps changes it cannot read instead of failing the request', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        { id: '7', time: 5, changes: [{ value: { event: 'ACCOUNT_OFFBOARDED' } }] },
        { id: '8', changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }] },
        { id: '9', time: 'soon', changes: [{ field: 'account_update', value: { event: 'ACCOUNT_OFFBOARDED' } }] },
        { id: '10', time: 5, changes: [{ field: 'account_update', value: { no_event: true } }] },
        'not an entry',
      ],
    };
    const changes = changesOf(body);
    // No usable time: recorded and forwarded (rejected-time), never applied.
    expect(changes.map((c) => c.kind)).toEqual(['unreadable', 'rejected-time', 'rejected-time', 'unreadable', 'unreadable']);
    expect(changes.map((c) => c.wabaId)).toEqual(['7', '8', '9', '10', null]);
    expect(changes[1]).toMatchObject({ problem: 'event-time-invalid', rawTime: 'missing', claimedTimeMs: null });
    expect(changes[2]).toMatchObject({ problem: 'event-time-invalid', rawTime: '"soon"' });
  });

  it('ignores other objects and reports bodies of the wrong shape', () => {
    expect(parseWebhook({ object: 'page', entry: [] })).toEqual({ kind: 'ignored', object: 'page' });
    expect(parseWebhook({ object: 'instagram' })).toEqual({ kind: 'ignored', object: 'instagram' });
    expect(parseWebhook({ object: 'whatsapp_business_account', entry: 'x' }).kind).toBe('invalid');
    expect(parseWebhook([1, 2]).kind).toBe('invalid');
    expect(parseWebhook(null).kind).toBe('invalid');
  });
});

describe('quickAccountValue: zod\'s answer without zod, or none', () => {
  /** Keys in for..in order, nested, so an order zod gives is checked too (the timeline names unknown keys in order). */
  const keyOrder = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).map((k) => [k, keyOrder((v as Record<string, unknown>)[k])]) : null;
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 200 }), fc.constant('\ud800x'), fc.constant(''));
  const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const odd = fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 3 }), scalar, { maxKeys: 2 }));
  const extra = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'toString', 'constructor')), odd, { maxKeys: 3 });
  const part = (fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc.oneof(fc.tuple(fc.record(fields, { requiredKeys: [] }), extra).map(([a, b]) => ({ ...b, ...a })), odd);
  const value = fc
    .tuple(
      fc.record(
        {
          event: fc.oneof(fc.constantFrom('ACCOUNT_OFFBOARDED', 'DISABLED_UPDATE'), odd),
          waba_info: part({ waba_id: fc.oneof(fc.constantFrom('102290129340398', ''), fc.nat(), odd) }),
          disconnection_info: part({ reason: odd, initiated_by: odd }),
          ban_info: part({ waba_ban_state: fc.oneof(text, fc.array(text, { maxLength: 2 }), odd), waba_ban_date: odd }),
          restriction_info: fc.array(part({ restriction_type: odd, expiration: odd }), { maxLength: 2 }),
          phone_number: odd,
        },
        { requiredKeys: [] },
      ),
      extra,
    )
    // Through JSON text, as a body arrives: a "__proto__" key is then an own property.
    .map(([known, more]) => JSON.parse(`{${[...Object.entries(more), ...Object.entries(known)].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`));

  test.prop([value], { numRuns: propertyRuns(2000) })('answers only what zod accepts, with the same data in the same order', (v) => {
    const quick = quickAccountValue(v);
    if (quick === null) return;
    const zod = accountUpdateValue().safeParse(v);
    expect(zod.success).toBe(true);
    expect(quick.data).toStrictEqual(zod.data);
    expect(keyOrder(quick.data)).toEqual(keyOrder(zod.data));
  });

  it('answers the shapes Meta sends', () => {
    const values = [
      { event: 'ACCOUNT_OFFBOARDED', waba_info: { waba_id: '1', owner_business_id: '2' }, phone_number: '15550783881', note: 'x' },
      { event: 'PARTNER_REMOVED', disconnection_info: { reason: 'r', initiated_by: 'USER' } },
      { event: 'DISABLED_UPDATE', ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: 'May 1' } },
    ];
    for (const v of values) expect(quickAccountValue(v)?.data).toStrictEqual(accountUpdateValue().safeParse(v).data);
  });
});
