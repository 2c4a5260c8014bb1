import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { deriveStatus, STATUS_CLASSES } from './client-status.js';
import { type ClientView, readClientView } from './client-view.js';
import { BadRequestError, NotFoundError } from '../shared/errors.js';
import { safeIso } from './event-time.js';
import { boundedText } from '../shared/ids.js';
import type { ClientStore } from './ports.js';
import type { ReleaseRequester } from '../release/ports.js';
import type { Telemetry } from '../shared/telemetry.js';
import { describeIssues } from '../shared/zod.js';

/** The event name of reset entries in the timeline. */
const OPERATOR_RESET_EVENT = 'OPERATOR_RESET';

/** Body of `POST /clients/{wabaId}/reset`: optional, `{ "reason": "..." }`. */
export const resetRequestSchema = z.strictObject({ reason: z.optional(z.string().check(z.minLength(1), z.maxLength(500))) });
export type ResetRequest = z.infer<typeof resetRequestSchema>;

/** Reads the optional JSON body of a reset; bad input is a 400 and changes nothing. */
export const parseResetRequest = (body: string): ResetRequest => {
  if (body.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new BadRequestError('body must be JSON: {"reason": "..."}');
  }
  const r = resetRequestSchema.safeParse(json);
  if (!r.success) throw new BadRequestError(describeIssues(r.error));
  return r.data;
};

export interface ResetOptions {
  /** Who asked (the IAM principal's ARN in AWS). */
  readonly by: string;
  readonly reason?: string | undefined;
  readonly nowMs: number;
  readonly skewMs: number;
  readonly timelineRetentionDays: number;
  readonly timelineLimit?: number;
  /** Asks for the client's parked messages to be released (trigger `operator`): the client now reads CONNECTED. */
  readonly releases?: ReleaseRequester;
  readonly telemetry?: Telemetry;
}

/** The client as it reads after the reset, and whether a release of its parked messages was asked for. */
export type ResetResult = ClientView & { readonly releaseRequested: boolean };

/**
 * Operator reset: clears the client's status records (the latest event of each class) so that it reads CONNECTED,
 * as if never seen, and later events apply normally; the timeline records who did it, why, and what was cleared.
 * Undoes anything stored before event times were checked (a far-future event that would otherwise win for good).
 * The client then reads CONNECTED, so the reset asks for a release of its parked messages (trigger `operator`); if
 * that request cannot be queued, the reset still stands and the messages go out at their next delay hop.
 */
export const resetClient = async (
  store: Pick<ClientStore, 'resetStatus' | 'putTimelineEntry' | 'getClient' | 'listTimeline' | 'parkedNow'>,
  wabaId: string,
  options: ResetOptions,
): Promise<ResetResult> => {
  const nowIso = new Date(options.nowMs).toISOString();
  const before = await store.resetStatus(wabaId, nowIso);
  if (!before) throw new NotFoundError(`no events received for WABA ${wabaId}`);
  const cleared: Record<string, { event: string; eventTime: string | null; eventTimeMs: number; eventId: string }> = {};
  for (const cls of STATUS_CLASSES) {
    const r = before[cls];
    if (r) cleared[cls] = { event: r.event, eventTime: safeIso(r.eventTimeMs), eventTimeMs: r.eventTimeMs, eventId: r.eventId };
  }
  const by = boundedText(options.by, 256);
  await store.putTimelineEntry({
    wabaId,
    eventId: createHash('sha256').update(`reset\u0000${wabaId}\u0000${nowIso}\u0000${by}`).digest('hex').slice(0, 32),
    event: OPERATOR_RESET_EVENT,
    eventTimeMs: options.nowMs,
    receivedAt: nowIso,
    statusClass: null,
    effect: 'operator-reset',
    statusBefore: deriveStatus(before, options.skewMs).status,
    statusAfter: 'CONNECTED',
    detail: { by, ...(options.reason ? { reason: boundedText(options.reason, 500) } : {}), cleared },
    expiresAt: Math.floor(options.nowMs / 1000) + options.timelineRetentionDays * 86_400,
  });
  let releaseRequested = false;
  if (options.releases) {
    try {
      await options.releases.requestRelease(wabaId, 'operator');
      releaseRequested = true;
    } catch (error) {
      options.telemetry?.count('ReleaseRequestFailures');
      options.telemetry?.error('reset done, but no release could be requested; parked messages wait for their delay hop', { wabaId, error: String(error) });
    }
  }
  const view = await readClientView(store, wabaId, {
    skewMs: options.skewMs,
    nowMs: options.nowMs,
    ...(options.timelineLimit !== undefined ? { timelineLimit: options.timelineLimit } : {}),
  });
  return { ...view, releaseRequested };
};
