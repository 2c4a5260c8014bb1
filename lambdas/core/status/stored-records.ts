import type { EventEffect, StatusEventRecord } from './client-status.js';
import type { ClientStatus } from './client-status.js';
import type { TimelineEntry } from './ports.js';

/**
 * Reading what is stored, whatever it is: records written by an older version (a far-future or unsafe time), or
 * edited by hand, are shown as they are and never fail a read. Shapes the relay writes itself pass unchanged.
 */

const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);

const finiteNumber = (v: unknown): number | null => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
};

/** A stored class record, or null when the attribute holds no object at all. */
export const readStoredRecord = (v: unknown): StatusEventRecord | null => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  const eventId = str(r.eventId, '');
  const orderKey = str(r.orderKey, '');
  const eventTimeMs = finiteNumber(r.eventTimeMs) ?? finiteNumber(orderKey.split('#')[0]) ?? 0;
  const record: { -readonly [K in keyof StatusEventRecord]: StatusEventRecord[K] } = {
    orderKey,
    event: str(r.event, 'UNKNOWN'),
    eventId,
    eventTimeMs,
    appliedAt: str(r.appliedAt, ''),
  };
  const d = r.disconnection;
  if (d && typeof d === 'object') {
    const { reason, initiatedBy } = d as Record<string, unknown>;
    record.disconnection = {
      ...(typeof reason === 'string' ? { reason } : {}),
      ...(typeof initiatedBy === 'string' ? { initiatedBy } : {}),
    };
  }
  if (typeof r.banState === 'string') record.banState = r.banState;
  return record;
};

/** A stored timeline item (key attributes dropped). */
export const readStoredTimelineEntry = (item: Record<string, unknown>, wabaId: string): TimelineEntry => {
  const detail = item.detail;
  return {
    wabaId,
    eventId: str(item.eventId, ''),
    event: str(item.event, 'UNKNOWN'),
    eventTimeMs: finiteNumber(item.eventTimeMs) ?? 0,
    receivedAt: str(item.receivedAt, ''),
    statusClass: (typeof item.statusClass === 'string' ? item.statusClass : null) as TimelineEntry['statusClass'],
    effect: str(item.effect, 'unknown') as EventEffect,
    statusBefore: str(item.statusBefore, 'unknown') as ClientStatus,
    statusAfter: str(item.statusAfter, 'unknown') as ClientStatus,
    ...(detail && typeof detail === 'object' && !Array.isArray(detail) ? { detail: detail as Record<string, unknown> } : {}),
    expiresAt: finiteNumber(item.expiresAt) ?? 0,
  };
};
