/**
 * The small release rules the consumer and the webhook need (kept apart from the release service, so their bundles do
 * not carry it): where a parked copy sits, which events ask for a release, when a message waits behind one.
 */
import type { ClientStatus, StatusClass } from '../status/client-status.js';
import type { ReleaseRequest } from './ports.js';
import { toSqsJson } from '../shared/sqs-body.js';

/**
 * Where a parked copy sits in its client's set: first-enqueued time (ms), then the envelope's `sequence` (0 when it has
 * none), then the messageId; numbers zero-padded so the keys sort as the values do.
 */
export const parkedOrderKey = (firstEnqueuedMs: number, messageId: string, sequence = 0): string =>
  `${Math.max(0, Math.trunc(firstEnqueuedMs)).toString().padStart(15, '0')}#${Math.max(0, Math.trunc(sequence)).toString().padStart(16, '0')}#${messageId}`;

/**
 * The largest envelope kept as a parked copy: DynamoDB items hold at most 400 KB, and the copy's other attributes and
 * keys take well under 50 KB. A larger envelope is parked on the delay queue only (resumes when its hop ends).
 */
export const PARKED_COPY_MAX_BODY_BYTES = 350 * 1024;

/** Event classes that connect a client: applying one also sets the drain flag, in the same write. */
export const CONNECTING_CLASSES: readonly StatusClass[] = ['CONNECTED', 'RECONNECTED'];

/**
 * Does applying an event of class `cls` call for a release? When the client is CONNECTED after it, and either it was
 * not before or the event itself connects (a redelivered POST after a failed request asks again; requests are
 * idempotent).
 */
export const releaseDue = (cls: StatusClass | null, statusBefore: ClientStatus, statusAfter: ClientStatus): boolean =>
  statusAfter === 'CONNECTED' && (statusBefore !== 'CONNECTED' || (cls !== null && CONNECTING_CLASSES.includes(cls)));

/** A release whose last sign of life is older than this is taken to be lost: the consumer asks for a new one. */
const RELEASE_STALL_MS = 60_000;

/**
 * Does a new message for this client wait behind a release? Yes while the drain flag is set on a CONNECTED client.
 * (Offboarded or worse, the status decides anyway.)
 */
export const behindRelease = (status: ClientStatus, gate: { readonly drainSince: number | null }): boolean =>
  status === 'CONNECTED' && gate.drainSince !== null;

/** Is the release that set the drain flag overdue (no sign of life for {@link RELEASE_STALL_MS})? */
export const releaseOverdue = (gate: { readonly drainSince: number | null; readonly beatAt: number | null }, nowMs: number): boolean =>
  gate.drainSince !== null && nowMs - Math.max(gate.drainSince, gate.beatAt ?? 0) > RELEASE_STALL_MS;

/** The release queue's message body for a request (ASCII JSON every SQS accepts). */
export const releaseRequestBody = (request: ReleaseRequest): string => toSqsJson(request);
