import type { TimelineEntry } from '../../core/status/ports.js';
import { readStoredTimelineEntry } from '../../core/status/stored-records.js';

/**
 * A timeline entry item (`keys.timeline`): the entry's own fields are its attributes, `expiresAt` (the TTL) among them
 * (the core sets it from the timeline retention).
 */

/** A timeline item without its keys; odd stored values are shown, never a reason to fail. */
export const timelineFromItem = (item: Record<string, unknown>): TimelineEntry =>
  readStoredTimelineEntry(item, typeof item.wabaId === 'string' ? item.wabaId : String(item.pk ?? '').replace(/^CLIENT#/, ''));

/** The UpdateItem parts that write a whole timeline entry, as a put would (its keys come from `keys.timeline`). */
export const timelineItemUpdate = (entry: TimelineEntry) => {
  const attrs = Object.entries(entry).filter(([, v]) => v !== undefined);
  return {
    UpdateExpression: `SET ${attrs.map((_, i) => `#t${i} = :t${i}`).join(', ')}`,
    ExpressionAttributeNames: Object.fromEntries(attrs.map(([k], i) => [`#t${i}`, k])),
    ExpressionAttributeValues: Object.fromEntries(attrs.map(([, v], i) => [`:t${i}`, v])),
  };
};
