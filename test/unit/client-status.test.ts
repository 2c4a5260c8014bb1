import { describe, expect, it } from 'vitest';
import {
  type ClientStatus,
  classifyAccountEvent,
  deriveStatus,
  describeEffect,
  type LatestByClass,
  orderKeyOf,
  type StatusClass,
  type StatusEventRecord,
} from '../../lambdas/core/status/client-status.js';

const SKEW = 300_000;
const rec = (event: string, timeS: number, id = `${event}-${timeS}`): StatusEventRecord => ({
  orderKey: orderKeyOf(timeS * 1000, id),
  event,
  eventId: id,
  eventTimeMs: timeS * 1000,
  appliedAt: '2026-01-01T00:00:00.000Z',
});

/** Applies events the way the store does: per class, keep only the later one. */
const applyAll = (events: readonly (readonly [StatusClass, StatusEventRecord])[]): LatestByClass => {
  const latest: LatestByClass = {};
  for (const [cls, r] of events) {
    const cur = latest[cls];
    if (!cur || cur.orderKey < r.orderKey) latest[cls] = r;
  }
  return latest;
};

const permutations = <T>(items: readonly T[]): T[][] =>
  items.length <= 1
    ? [items.slice()]
    : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [item, ...p]));

describe('classifyAccountEvent', () => {
  it.each([
    ['ACCOUNT_OFFBOARDED', undefined, 'OFFBOARDED'],
    ['ACCOUNT_RECONNECTED', undefined, 'RECONNECTED'],
    ['PARTNER_REMOVED', undefined, 'REMOVED'],
    ['PARTNER_APP_UNINSTALLED', undefined, 'REMOVED'],
    ['ACCOUNT_DELETED', undefined, 'DELETED'],
    ['DISABLED_UPDATE', 'DISABLE', 'DISABLED'],
    ['DISABLED_UPDATE', 'REINSTATE', 'CONNECTED'],
    ['DISABLED_UPDATE', 'SCHEDULE_FOR_DISABLE', null],
    ['DISABLED_UPDATE', undefined, null],
    ['PARTNER_ADDED', undefined, 'CONNECTED'],
    ['PARTNER_APP_INSTALLED', undefined, 'CONNECTED'],
    ['ACCOUNT_RESTRICTION', undefined, null],
    ['ACCOUNT_VIOLATION', undefined, null],
    ['AD_ACCOUNT_LINKED', undefined, null],
    ['NEVER_SEEN_BEFORE', undefined, null],
  ] as const)('%s (%s) -> %s', (event, ban, cls) => {
    expect(classifyAccountEvent(event, ban)).toBe(cls);
  });
});

describe('deriveStatus: transitions', () => {
  const cases: readonly [string, readonly (readonly [StatusClass, StatusEventRecord])[], ClientStatus][] = [
    ['never seen', [], 'CONNECTED'],
    ['offboarded', [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)]], 'OFFBOARDED'],
    ['offboarded then reconnected', [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)], ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1100)]], 'CONNECTED'],
    ["Meta's example: reconnected stamped 1 s before the offboarding", [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1768477204)], ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1768477203)]], 'CONNECTED'],
    ['reconnected exactly skew before the offboarding', [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1300)], ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1000)]], 'CONNECTED'],
    ['reconnected more than skew before a new offboarding', [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1301)], ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1000)]], 'OFFBOARDED'],
    ['removed', [['REMOVED', rec('PARTNER_REMOVED', 1000)]], 'REMOVED'],
    ['app uninstalled after reconnect', [['RECONNECTED', rec('ACCOUNT_RECONNECTED', 900)], ['REMOVED', rec('PARTNER_APP_UNINSTALLED', 1000)]], 'REMOVED'],
    ['re-added after removal', [['REMOVED', rec('PARTNER_REMOVED', 1000)], ['CONNECTED', rec('PARTNER_ADDED', 2000)]], 'CONNECTED'],
    ['app installed after removal', [['REMOVED', rec('PARTNER_REMOVED', 1000)], ['CONNECTED', rec('PARTNER_APP_INSTALLED', 2000)]], 'CONNECTED'],
    ['deleted', [['DELETED', rec('ACCOUNT_DELETED', 1000)]], 'DELETED'],
    ['disabled', [['DISABLED', rec('DISABLED_UPDATE', 1000)]], 'DISABLED'],
    ['reinstated', [['DISABLED', rec('DISABLED_UPDATE', 1000)], ['CONNECTED', rec('DISABLED_UPDATE', 2000, 'reinstate')]], 'CONNECTED'],
    ['offboarded while disabled', [['DISABLED', rec('DISABLED_UPDATE', 1000)], ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 2000)]], 'OFFBOARDED'],
    ['reconnect does not undo a later removal', [['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)], ['REMOVED', rec('PARTNER_REMOVED', 1100)], ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1050)]], 'REMOVED'],
    ['same-second tie goes to the more restrictive status', [['CONNECTED', rec('PARTNER_ADDED', 1000)], ['DELETED', rec('ACCOUNT_DELETED', 1000)]], 'DELETED'],
  ];
  it.each(cases)('%s -> %s', (_name, events, status) => {
    expect(deriveStatus(applyAll(events), SKEW).status).toBe(status);
  });

  it('honours a configured skew of zero (pure time order)', () => {
    const latest = applyAll([
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1768477204)],
      ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1768477203)],
    ]);
    expect(deriveStatus(latest, 0).status).toBe('OFFBOARDED');
  });

  it('names the event that set the status', () => {
    const off = rec('ACCOUNT_OFFBOARDED', 1000);
    expect(deriveStatus({ OFFBOARDED: off }, SKEW)).toEqual({ status: 'OFFBOARDED', setBy: off, setByClass: 'OFFBOARDED' });
  });
});

describe('deriveStatus: order independence', () => {
  const scenarios: readonly [string, readonly (readonly [StatusClass, StatusEventRecord])[]][] = [
    ['offboard / reconnect pairs with a duplicate', [
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)],
      ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 999)],
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 5000)],
      ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 5100)],
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)],
    ]],
    ['removal among reconnections', [
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1000)],
      ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1060)],
      ['REMOVED', rec('PARTNER_REMOVED', 1200)],
      ['CONNECTED', rec('PARTNER_ADDED', 900)],
      ['DISABLED', rec('DISABLED_UPDATE', 800)],
    ]],
    ['a cycle in pairwise order (R < X < O < R) still resolves one way', [
      ['RECONNECTED', rec('ACCOUNT_RECONNECTED', 1000)],
      ['DELETED', rec('ACCOUNT_DELETED', 1100)],
      ['OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1250)],
    ]],
  ];
  it.each(scenarios)('%s: every arrival order gives the same status and the same deciding event', (_name, events) => {
    const outcomes = new Set(
      permutations(events).map((order) => {
        const d = deriveStatus(applyAll(order), SKEW);
        return `${d.status}:${d.setBy?.eventId}`;
      }),
    );
    expect(outcomes.size).toBe(1);
  });
});

describe('describeEffect', () => {
  const off = rec('ACCOUNT_OFFBOARDED', 1000);
  it.each([
    ['first offboarding changes status', 'OFFBOARDED', off, {}, 'status-changed', 'CONNECTED', 'OFFBOARDED'],
    ['same event again is a duplicate', 'OFFBOARDED', off, { OFFBOARDED: off }, 'duplicate', 'OFFBOARDED', 'OFFBOARDED'],
    ['older offboarding is recorded only', 'OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 900), { OFFBOARDED: off }, 'older-than-latest', 'OFFBOARDED', 'OFFBOARDED'],
    ['a reconnect for a connected client changes nothing', 'RECONNECTED', rec('ACCOUNT_RECONNECTED', 1000), {}, 'status-unchanged', 'CONNECTED', 'CONNECTED'],
    ['a late offboarding inside the skew of a reconnect', 'OFFBOARDED', rec('ACCOUNT_OFFBOARDED', 1001), { RECONNECTED: rec('ACCOUNT_RECONNECTED', 1000) }, 'status-unchanged', 'CONNECTED', 'CONNECTED'],
  ] as const)('%s', (_n, cls, candidate, before, effect, statusBefore, statusAfter) => {
    expect(describeEffect(cls, candidate, before, SKEW)).toEqual({ effect, statusBefore, statusAfter });
  });
});
