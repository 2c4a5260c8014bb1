import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../local/cli.js';
import { STATUS_VIEWS } from '../support/status-views.js';

/** The text `status` and `client reset` print: what a person asks, from the route's JSON. */
describe('formatStatus', () => {
  it('a hold in force: since when and why', () => {
    expect(formatStatus(STATUS_VIEWS.held)).toContain('hold: in-force since 2026-12-01T10:02:00.000Z (133010: account not registered)');
  });

  it('an ended hold: when it ended, what ended it, and when it started', () => {
    const lines = formatStatus(STATUS_VIEWS.holdEndedByProbe);
    expect(lines).toContain('hold: ended 2026-12-01T10:03:05.000Z by a probe (the number can send); it started 2026-12-01T10:02:00.000Z (133010: account not registered)');
    const byEvent = { ...STATUS_VIEWS.holdEndedByProbe, health: { hold: { ...STATUS_VIEWS.holdEndedByProbe.health.hold, endedBy: 'status-event' }, restrictions: [] } };
    expect(formatStatus(byEvent).join('\n')).toContain('by a newer status event;');
  });

  it('an operator reset in the timeline: who asked and the reason given to --reason', () => {
    const lines = formatStatus(STATUS_VIEWS.reset);
    expect(lines).toContain('  2026-12-01T11:00:00.000Z  OPERATOR_RESET  operator-reset  OFFBOARDED -> CONNECTED  by local-operator, reason: "ticket 42"');
    expect(lines).toContain('reset: a release of the parked messages was requested');
    const [resetEntry] = STATUS_VIEWS.reset.timeline;
    const noReason = { ...STATUS_VIEWS.reset, timeline: [{ ...(resetEntry as NonNullable<typeof resetEntry>), detail: { by: 'arn:aws:iam::1:user/ops' } }] };
    expect(formatStatus(noReason).join('\n')).toContain('OPERATOR_RESET  operator-reset  OFFBOARDED -> CONNECTED  by arn:aws:iam::1:user/ops, no reason given');
  });

  it('waiting now apart from the running totals', () => {
    expect(formatStatus(STATUS_VIEWS.offboardedParked)).toEqual([
      'WABA 1029384756: OFFBOARDED since 2026-12-01T10:01:00.000Z (ACCOUNT_OFFBOARDED, event time 2026-12-01T10:00:59.000Z)',
      'waiting now: 1 parked message(s), the oldest for 4 s (npm run cli -- parked 1029384756)',
      'totals since 2026-12-01T10:00:00.000Z: 1 parked, 0 sent, 0 dead-lettered, 0 ambiguous resend(s)',
      'timeline:',
      '  2026-12-01T10:00:59.000Z  ACCOUNT_OFFBOARDED  status-changed  CONNECTED -> OFFBOARDED',
    ]);
  });
});
