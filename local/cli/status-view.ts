/** The status route's answer in a few readable lines (`status`, `client reset`); `--json` bypasses it. */
import { z } from 'zod';

/** What the status route answers, as far as the readable output reads it (the rest passes through with --json). */
export const StatusView = z.looseObject({
  wabaId: z.string(),
  status: z.string(),
  since: z.string().nullable(),
  setBy: z.looseObject({ event: z.string(), eventTime: z.string().nullable() }).nullable(),
  firstSeenAt: z.string(),
  messages: z.looseObject({
    parked: z.number(),
    parkedNow: z.number(),
    sent: z.number(),
    deadLettered: z.number(),
    ambiguousResends: z.number(),
    oldestParkedAgeSeconds: z.number().nullable(),
  }),
  release: z
    .looseObject({
      draining: z.boolean(),
      last: z
        .looseObject({
          state: z.string(),
          trigger: z.string(),
          startedAt: z.string(),
          total: z.number(),
          sent: z.number(),
          deadLettered: z.number(),
          alreadySent: z.number(),
          left: z.number(),
          reason: z.string().nullable(),
        })
        .nullable(),
    })
    .optional(),
  health: z
    .looseObject({
      hold: z
        .looseObject({
          state: z.string(),
          code: z.string(),
          why: z.string(),
          startedAt: z.string().nullable(),
          /** Only for an ended hold: when, and by what (`probe` or `status-event`). */
          endedAt: z.string().nullable().optional(),
          endedBy: z.string().optional(),
        })
        .nullable(),
      restrictions: z.array(z.looseObject({ type: z.string(), inForce: z.boolean() })),
    })
    .optional(),
  /** Only in a reset's answer: whether the reset asked for the client's parked messages to be released. */
  releaseRequested: z.boolean().optional(),
  timeline: z.array(
    z.looseObject({
      event: z.string(),
      eventTime: z.string().nullable(),
      effect: z.string(),
      statusBefore: z.string(),
      statusAfter: z.string(),
      /** An operator reset's detail: who asked, and the reason given to `client reset --reason`. */
      detail: z.looseObject({ by: z.string().optional(), reason: z.string().optional() }).optional(),
    }),
  ),
});

/** What ended a hold, in words (the JSON's `health.hold.endedBy`). */
const ENDED_BY: Record<string, string> = { probe: 'a probe (the number can send)', 'status-event': 'a newer status event' };

type Hold = NonNullable<NonNullable<z.infer<typeof StatusView>['health']>['hold']>;

/** `hold: in-force since <start> (<code>: <why>)`, or for an ended hold its start, its end and what ended it. */
const holdLine = (hold: Hold): string => {
  const cause = `${hold.code}: ${hold.why}`;
  if (hold.state !== 'ended') return `hold: ${hold.state} since ${hold.startedAt ?? 'unknown'} (${cause})`;
  const by = hold.endedBy === undefined ? '' : ` by ${ENDED_BY[hold.endedBy] ?? hold.endedBy}`;
  return `hold: ended ${hold.endedAt ?? '(time unknown)'}${by}; it started ${hold.startedAt ?? '(time unknown)'} (${cause})`;
};

type TimelineEntry = z.infer<typeof StatusView>['timeline'][number];

/** One timeline line; an operator reset also says who asked and the reason given (`client reset --reason`). */
const timelineLine = (e: TimelineEntry): string => {
  const change = e.statusBefore === e.statusAfter ? e.statusAfter : `${e.statusBefore} -> ${e.statusAfter}`;
  const reset = e.effect === 'operator-reset' && e.detail ? `  by ${e.detail.by ?? '(unknown)'}${e.detail.reason ? `, reason: ${JSON.stringify(e.detail.reason)}` : ', no reason given'}` : '';
  return `  ${e.eventTime ?? '(no time)'}  ${e.event}  ${e.effect}  ${change}${reset}`;
};

const age = (seconds: number): string =>
  seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : seconds < 172_800 ? `${Math.round(seconds / 3600)} h` : `${Math.round(seconds / 86_400)} days`;

/** The status in a few lines: what waits now is apart from the totals, which only grow. */
export const formatStatus = (view: z.infer<typeof StatusView>): string[] => {
  const m = view.messages;
  const lines = [
    `WABA ${view.wabaId}: ${view.status}${view.since ? ` since ${view.since}` : ' (no status event yet)'}${view.setBy ? ` (${view.setBy.event}, event time ${view.setBy.eventTime ?? 'unknown'})` : ''}`,
  ];
  const draining = view.release?.draining ? ', a release is sending them now' : '';
  lines.push(
    m.parkedNow === 0
      ? `waiting now: nothing parked${draining}`
      : `waiting now: ${m.parkedNow} parked message(s), the oldest for ${age(m.oldestParkedAgeSeconds ?? 0)}${draining} (npm run cli -- parked ${view.wabaId})`,
  );
  const last = view.release?.last;
  if (last) {
    lines.push(
      `last release: ${last.state} (${last.trigger}, started ${last.startedAt}): ${last.sent} of ${last.total} sent, ${last.deadLettered} dead-lettered, ${last.alreadySent} already sent, ${last.left} left${last.reason ? `; ${last.reason}` : ''}`,
    );
  }
  lines.push(
    `totals since ${view.firstSeenAt}: ${m.parked} parked, ${m.sent} sent, ${m.deadLettered} dead-lettered, ${m.ambiguousResends} ambiguous resend(s)`,
  );
  if (view.releaseRequested !== undefined) {
    lines.push(view.releaseRequested ? 'reset: a release of the parked messages was requested' : 'reset: no release could be requested (the release queue refused it); parked messages go at their next delay hop');
  }
  const hold = view.health?.hold;
  if (hold) lines.push(holdLine(hold));
  const restrictions = view.health?.restrictions.filter((r) => r.inForce) ?? [];
  if (restrictions.length > 0) lines.push(`restrictions in force: ${restrictions.map((r) => r.type).join(', ')}`);
  if (view.timeline.length > 0) {
    lines.push('timeline:');
    for (const e of view.timeline) lines.push(timelineLine(e));
  }
  return lines;
};

