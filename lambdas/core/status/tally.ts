/**
 * The client counters (`parked`, `sent`, `deadLettered`, `ambiguousResends`), counted from what happened to message
 * items rather than written by the send path: a sent message costs its claim and its confirmation and nothing else.
 * Each change of a message item (its ledger state, its first park) adds to its client's counters; a batch of changes
 * becomes one addition per client.
 */
import type { LedgerState } from '../outbound/send-ledger.js';

/** A message item as the counters see it, before or after one write. */
export interface MessageItemImage {
  readonly state: LedgerState | null;
  /** The message has been parked at least once (its `parked` outcome entry exists). */
  readonly parked: boolean;
}

/** One write to one message item. */
export interface MessageItemChange {
  readonly wabaId: string;
  /** Null when the write created the item. */
  readonly before: MessageItemImage | null;
  readonly after: MessageItemImage;
}

/** What one batch of changes adds to one client's counters. */
export interface ClientTally {
  readonly wabaId: string;
  readonly parked: number;
  readonly sent: number;
  readonly deadLettered: number;
  readonly ambiguousResends: number;
}

const reached = (change: MessageItemChange, state: LedgerState): boolean => change.after.state === state && change.before?.state !== state;

/**
 * The additions per client, in first-seen order, clients with nothing to add left out. A state reached again after it
 * was left (a redriven dead letter dead-lettered once more) counts again: counters count events, not messages.
 */
export const tally = (changes: readonly MessageItemChange[]): ClientTally[] => {
  const byClient = new Map<string, { parked: number; sent: number; deadLettered: number; ambiguousResends: number }>();
  for (const c of changes) {
    const t = byClient.get(c.wabaId) ?? { parked: 0, sent: 0, deadLettered: 0, ambiguousResends: 0 };
    byClient.set(c.wabaId, t);
    if (c.after.parked && !c.before?.parked) t.parked++;
    if (reached(c, 'SENT')) t.sent++;
    if (reached(c, 'DEAD_LETTERED')) t.deadLettered++;
    // A send claimed again after an answer that left unclear whether the first one went out.
    if (c.before?.state === 'AMBIGUOUS' && c.after.state === 'SENDING') t.ambiguousResends++;
  }
  return [...byClient]
    .map(([wabaId, t]) => ({ wabaId, ...t }))
    .filter((t) => t.parked + t.sent + t.deadLettered + t.ambiguousResends > 0);
};
