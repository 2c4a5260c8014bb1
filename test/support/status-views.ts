import { formatStatus } from '../../local/cli.js';

type View = Parameters<typeof formatStatus>[0];

const base: View = {
  wabaId: '1029384756',
  status: 'CONNECTED',
  since: null,
  setBy: null,
  firstSeenAt: '2026-12-01T10:00:00.000Z',
  messages: { parked: 0, parkedNow: 0, sent: 0, deadLettered: 0, ambiguousResends: 0, oldestParkedAgeSeconds: null },
  release: { draining: false, last: null },
  health: { hold: null, restrictions: [] },
  timeline: [],
};

/**
 * Answers of the status route in the situations the docs describe, for tests of the text `status` prints: offboarded
 * with messages parked, never offboarded with one sent, held by a refusal, a hold a probe ended, a reset with a reason.
 */
export const STATUS_VIEWS = {
  offboardedParked: {
    ...base,
    status: 'OFFBOARDED',
    since: '2026-12-01T10:01:00.000Z',
    setBy: { event: 'ACCOUNT_OFFBOARDED', eventTime: '2026-12-01T10:00:59.000Z' },
    messages: { ...base.messages, parked: 1, parkedNow: 1, oldestParkedAgeSeconds: 4 },
    timeline: [{ event: 'ACCOUNT_OFFBOARDED', eventTime: '2026-12-01T10:00:59.000Z', effect: 'status-changed', statusBefore: 'CONNECTED', statusAfter: 'OFFBOARDED' }],
  },
  reconnectedSent: {
    ...base,
    since: '2026-12-01T10:05:00.000Z',
    setBy: { event: 'ACCOUNT_RECONNECTED', eventTime: '2026-12-01T10:04:59.000Z' },
    messages: { ...base.messages, parked: 1, sent: 1 },
    release: {
      draining: false,
      last: { state: 'done', trigger: 'reconnect', startedAt: '2026-12-01T10:05:01.000Z', total: 1, sent: 1, deadLettered: 0, alreadySent: 0, left: 0, reason: null },
    },
  },
  neverOffboardedSent: { ...base, messages: { ...base.messages, sent: 1 } },
  held: {
    ...base,
    wabaId: '2029384756',
    messages: { ...base.messages, parked: 2, parkedNow: 2, oldestParkedAgeSeconds: 12 },
    health: { hold: { state: 'in-force', code: '133010', why: 'account not registered', startedAt: '2026-12-01T10:02:00.000Z' }, restrictions: [] },
  },
  holdEndedByProbe: {
    ...base,
    wabaId: '2029384756',
    messages: { ...base.messages, parked: 2, sent: 2 },
    health: {
      hold: { state: 'ended', code: '133010', why: 'account not registered', startedAt: '2026-12-01T10:02:00.000Z', endedAt: '2026-12-01T10:03:05.000Z', endedBy: 'probe' },
      restrictions: [],
    },
  },
  reset: {
    ...base,
    releaseRequested: true,
    timeline: [
      {
        event: 'OPERATOR_RESET',
        eventTime: '2026-12-01T11:00:00.000Z',
        effect: 'operator-reset',
        statusBefore: 'OFFBOARDED',
        statusAfter: 'CONNECTED',
        detail: { by: 'local-operator', reason: 'ticket 42', cleared: {} },
      },
      { event: 'ACCOUNT_OFFBOARDED', eventTime: '2026-12-01T10:00:59.000Z', effect: 'status-changed', statusBefore: 'CONNECTED', statusAfter: 'OFFBOARDED' },
    ],
  },
} satisfies Record<string, View>;

/** Every line `status` prints for the views above. */
export const renderedStatusLines = (): string[] => Object.values(STATUS_VIEWS).flatMap((v) => formatStatus(v));
